use async_trait::async_trait;

use crate::Result;
use crate::model::{Activity, ActivityFilter, ActivitySort, ListPage, ListQuery, NewActivity};

use super::InMemoryStore;

#[async_trait]
impl crate::traits::ActivityStore for InMemoryStore {
    async fn record_activity(&self, activity: NewActivity) -> Result<()> {
        let mut state = self.lock();
        let id = state.next_id();
        state.activities.push(Activity {
            id,
            at: crate::model::now(),
            actor: activity.actor,
            action: activity.action,
            target: activity.target,
            details: activity.details,
        });
        Ok(())
    }
    async fn activities_page(
        &self,
        filter: &ActivityFilter,
        query: &ListQuery<ActivitySort>,
    ) -> Result<ListPage<Activity>> {
        let activities: Vec<Activity> = self
            .lock()
            .activities
            .iter()
            .filter(|a| crate::model::activity_matches(filter, a))
            .cloned()
            .collect();
        Ok(match query.sort {
            ActivitySort::Newest => query.apply(activities, |a| std::cmp::Reverse(a.id), |a| std::cmp::Reverse(a.id)),
            ActivitySort::Id => query.apply(activities, |a| a.id, |a| a.id),
            ActivitySort::At => query.apply(activities, |a| a.at, |a| a.id),
            ActivitySort::Action => query.apply(activities, |a| a.action.clone(), |a| a.id),
        })
    }
}
