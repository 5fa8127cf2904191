//! Security scanner backends, each behind a cargo feature. A third-party backend only has to
//! implement [`SecurityBackend`](portus_core::SecurityBackend).

#[cfg(feature = "clair-legacy")]
pub mod clair_legacy;
#[cfg(feature = "clair-v4")]
pub mod clair_v4;
#[cfg(feature = "dummy")]
pub mod dummy;
#[cfg(feature = "zypper")]
pub mod zypper;

/// Reads the `{"Error": {"Message": ...}}` / `{"Error": ...}` bodies of Clair v2 and
/// zypper-docker, falling back to the raw text.
#[cfg(any(feature = "clair-legacy", feature = "zypper"))]
pub(crate) fn legacy_error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("Error"));
    match error {
        Some(serde_json::Value::String(message)) => message.clone(),
        Some(e) => e.get("Message").and_then(|m| m.as_str()).unwrap_or_default().to_owned(),
        None => body.chars().take(300).collect(),
    }
}
