//! Security scanner backends, each behind a cargo feature. A third-party backend only has to
//! implement [`SecurityBackend`](portus_core::SecurityBackend).
//!
//! Each backend module also holds its configuration section (`ClairV4Settings`,
//! `ClairLegacySettings`, `ZypperSettings`, `HarborSettings`, `DummySettings`): serde structs with Portus' key
//! names and defaults, a `validate` for what the types cannot check, and a `build` that gives
//! the backend, or `None` when the section leaves it off (an empty `server`).

#[cfg(feature = "clair-legacy")]
pub mod clair_legacy;
#[cfg(feature = "clair-v4")]
pub mod clair_v4;
#[cfg(feature = "dummy")]
pub mod dummy;
#[cfg(feature = "harbor")]
pub mod harbor;
#[cfg(feature = "zypper")]
pub mod zypper;

/// The URL of a backend's `server` setting, which must be `http` or `https`.
#[cfg(any(
    feature = "clair-v4",
    feature = "clair-legacy",
    feature = "zypper",
    feature = "harbor"
))]
pub(crate) fn server_url(server: &str) -> Result<url::Url, crate::Error> {
    url::Url::parse(server)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| crate::Error::InvalidSetting {
            key: "server",
            reason: format!("must be an http or https URL (got '{server}')"),
        })
}

/// Reads a scanner's answer and parses it with `parse`: a body that cannot be read is
/// `Unreachable`, one that does not parse is `InvalidResponse` about `what`.
#[cfg(any(
    feature = "clair-v4",
    feature = "clair-legacy",
    feature = "zypper",
    feature = "harbor"
))]
pub(crate) async fn read_answer<T>(
    response: reqwest::Response,
    what: &str,
    parse: impl FnOnce(&[u8]) -> Result<T, serde_json::Error>,
) -> Result<T, crate::Error> {
    let body = response
        .bytes()
        .await
        .map_err(|source| crate::Error::Unreachable { source })?;
    parse(&body).map_err(|e| crate::Error::InvalidResponse {
        what: what.to_owned(),
        reason: e.to_string(),
    })
}

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

/// Serves `app` on a free loopback port, for the scanners' stand-ins; returns its base URL.
#[cfg(test)]
pub(crate) async fn serve_stand_in(app: axum::Router) -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap()).parse().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Whether `s` is a `sha256:` digest, as the stand-ins check their requests.
#[cfg(test)]
pub(crate) fn is_sha256_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An image of `alice/app:1.0` with one layer of `layer_media_type`, as the scanners' unit
/// tests submit it.
#[cfg(test)]
pub(crate) fn test_image(layer_media_type: Option<&str>) -> portus_core::traits::ImageRef {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let layer = format!("sha256:{}", "cd".repeat(32));
    portus_core::traits::ImageRef {
        repository: "alice/app".into(),
        tag: "1.0".into(),
        layers: vec![portus_core::traits::Layer {
            url: format!("http://127.0.0.1:5000/v2/alice/app/blobs/{layer}"),
            digest: layer,
            media_type: layer_media_type.map(str::to_owned),
        }],
        digest,
        registry_authorization: Some("Bearer registry-pull-token".into()),
    }
}

/// JSON values of any shape whose object keys come from `keys` (a scanner's field names), so
/// that property tests reach deep into the report structures.
#[cfg(test)]
pub(crate) fn arbitrary_json(
    keys: &'static [&'static str],
) -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
        proptest::sample::select(keys).prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                prop_oneof![proptest::sample::select(keys).prop_map(str::to_owned), ".{0,6}"],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A URL nothing listens on (a port bound and released), for "the scanner is down" checks.
#[cfg(all(
    test,
    any(
        feature = "clair-v4",
        feature = "clair-legacy",
        feature = "zypper",
        feature = "harbor"
    )
))]
pub(crate) fn closed_url() -> url::Url {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/").parse().unwrap()
}
