use async_trait::async_trait;

use crate::Result;
use crate::model::{Activity, ActivityFilter, NewActivity};

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
    async fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>> {
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        Ok(self
            .lock()
            .activities
            .iter()
            .rev()
            .filter(|a| crate::model::activity_matches(filter, a))
            .take(limit)
            .cloned()
            .collect())
    }
}
