//! Security scanner backends, each behind a cargo feature. A third-party backend only has to
//! implement [`SecurityBackend`](portus_core::SecurityBackend).

#[cfg(feature = "clair-v4")]
pub mod clair_v4;
#[cfg(feature = "dummy")]
pub mod dummy;
