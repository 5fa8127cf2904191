//! Opening the store with what the metrics read of it.

use std::sync::Arc;

use portus_core::PolicyStore;

use super::{DataPaths, SUPPORTED_DATABASES};
use crate::Error;

/// [`open_store`], with a reader of its connection pool's sizes for the metrics.
pub(super) async fn open_store_with_pool(
    paths: &DataPaths,
) -> Result<(Arc<dyn PolicyStore>, Option<portus_http::metrics::PoolStats>), Error> {
    let url = &paths.database_url;
    #[cfg(feature = "sqlite")]
    if url.starts_with("sqlite:") {
        let store = portus_core::store::SqliteStore::connect(url).await?;
        let pool = store.pool().clone();
        let stats: portus_http::metrics::PoolStats = Arc::new(move || (pool.size(), pool.num_idle()));
        return Ok((Arc::new(store), Some(stats)));
    }
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let store = portus_core::store::PostgresStore::connect(url, paths.database_max_connections).await?;
        let pool = store.pool().clone();
        let stats: portus_http::metrics::PoolStats = Arc::new(move || (pool.size(), pool.num_idle()));
        return Ok((Arc::new(store), Some(stats)));
    }
    // The URL may hold a password: name only its scheme.
    let scheme = url.split(':').next().unwrap_or_default();
    Err(Error::Config(format!(
        "database.url: '{scheme}:' URLs are not supported by this build (features: {})",
        SUPPORTED_DATABASES.join(", ")
    )))
}
