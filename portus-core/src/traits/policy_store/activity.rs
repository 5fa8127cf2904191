use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::{Activity, ActivityFilter, ActivitySort, ListPage, ListQuery, NewActivity};

/// The activity log.
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// Appends to the activity log.
    async fn record_activity(&self, activity: NewActivity) -> Result<()>;
    /// One page of the activities `filter` admits (its `limit` aside: the query slices), in
    /// the order asked, with their number
    /// ([`ActivityStoreExt::activities`](super::ActivityStoreExt::activities): the newest
    /// `filter.limit`).
    async fn activities_page(
        &self,
        filter: &ActivityFilter,
        query: &ListQuery<ActivitySort>,
    ) -> Result<ListPage<Activity>>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: ActivityStore + ?Sized> ActivityStore for $wrapper {
            async fn record_activity(&self, activity: NewActivity) -> Result<()> {
                (**self).record_activity(activity).await
            }
            async fn activities_page(
                &self,
                filter: &ActivityFilter,
                query: &ListQuery<ActivitySort>,
            ) -> Result<ListPage<Activity>> {
                (**self).activities_page(filter, query).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
