use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::{Activity, ActivityFilter, NewActivity};

/// The activity log.
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// Appends to the activity log.
    async fn record_activity(&self, activity: NewActivity) -> Result<()>;
    /// Lists activities, newest first.
    async fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: ActivityStore + ?Sized> ActivityStore for $wrapper {
            async fn record_activity(&self, activity: NewActivity) -> Result<()> {
                (**self).record_activity(activity).await
            }
            async fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>> {
                (**self).activities(filter).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
