//! A [`RegistryClient`] over HTTP for Distribution 2.8/3.x and OCI registries.
//!
//! It asks for every manifest type (OCI index and manifest, Docker manifest list and schema 2)
//! so nothing is hidden or down-converted, follows `Link` pagination (relative or absolute),
//! retries temporary failures with exponential backoff, and authenticates with bearer tokens
//! minted in-process by portus for its own service account.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portus_core::model::{MANIFEST_MEDIA_TYPES, ManifestFacts, ManifestRecord};
use portus_core::traits::{ManifestInfo, RegistryClient};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, LINK};
use reqwest::{Method, Response, StatusCode};
use serde::Deserialize;
use tracing::debug;
use url::Url;

use crate::Error;

/// Mints a bearer token for the given scopes (`registry:catalog:*`, `repository:x:pull`, ...).
pub type TokenMinter = Arc<dyn Fn(&[String]) -> portus_core::Result<String> + Send + Sync>;

/// Settings of the HTTP registry client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for a whole request.
    pub request_timeout: Duration,
    /// Attempts for a request failing temporarily (network, 5xx, 429).
    pub attempts: u32,
    /// First retry delay; doubled each time.
    pub backoff: Duration,
    /// Page size asked for catalog and tag listings.
    pub page_size: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            attempts: 3,
            backoff: Duration::from_millis(200),
            page_size: 500,
        }
    }
}

/// The HTTP registry client.
pub struct HttpRegistryClient {
    base: Url,
    http: reqwest::Client,
    tokens: TokenMinter,
    options: ClientOptions,
}

impl std::fmt::Debug for HttpRegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRegistryClient")
            .field("base", &self.base.as_str())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct CatalogPage {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TagsPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

impl Platform {
    fn label(&self) -> String {
        match &self.variant {
            Some(variant) if !variant.is_empty() => format!("{}/{}/{variant}", self.os, self.architecture),
            _ => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[derive(Deserialize)]
struct ManifestBody {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    #[serde(default)]
    subject: Option<Descriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct RegistryErrors {
    errors: Vec<RegistryErrorEntry>,
}

#[derive(Deserialize)]
struct RegistryErrorEntry {
    code: String,
    #[serde(default)]
    message: String,
}

impl HttpRegistryClient {
    /// A client for the registry at `base` (e.g. `http://127.0.0.1:5000`).
    pub fn new(base: Url, tokens: TokenMinter, options: ClientOptions) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            // Registries answer with redirects to blob storage only for blobs; we never want
            // to follow one for API calls.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| Error::Unreachable { source })?;
        Ok(HttpRegistryClient {
            base,
            http,
            tokens,
            options,
        })
    }

    fn url(&self, path_and_query: &str) -> Result<Url, Error> {
        self.base.join(path_and_query).map_err(|e| Error::InvalidResponse {
            what: path_and_query.to_owned(),
            reason: format!("cannot build the URL: {e}"),
        })
    }

    /// Sends a request with a token for `scope`, retrying temporary failures; answers with
    /// an error for any status other than 2xx.
    async fn send(&self, method: Method, url: Url, scope: &str, accept: Option<&str>) -> Result<Response, Error> {
        let what = format!("{method} {}", url.path());
        let mut delay = self.options.backoff;
        let mut attempt = 1;
        loop {
            let token = (self.tokens)(&[scope.to_owned()])?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, format!("Bearer {token}"));
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            let error = match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => status_error(response, &what).await,
                Err(source) => Error::Unreachable { source },
            };
            if !error.is_temporary() || attempt >= self.options.attempts {
                return Err(error);
            }
            debug!(%what, attempt, error = %error, "registry request failed; retrying");
            tokio::time::sleep(delay).await;
            delay *= 2;
            attempt += 1;
        }
    }

    /// Follows `Link: <...>; rel="next"` pages, collecting `extract(page)`.
    async fn paginate<T: for<'de> Deserialize<'de>>(
        &self,
        first: &str,
        scope: &str,
        extract: impl Fn(T) -> Vec<String>,
    ) -> Result<Vec<String>, Error> {
        let mut items = Vec::new();
        let mut next = Some(self.url(first)?);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > 100_000 {
                return Err(Error::InvalidResponse {
                    what: first.to_owned(),
                    reason: "endless pagination".into(),
                });
            }
            let response = self.send(Method::GET, url.clone(), scope, None).await?;
            next = next_link(response.headers(), &url);
            let page: T = response.json().await.map_err(|e| Error::InvalidResponse {
                what: url.path().to_owned(),
                reason: e.to_string(),
            })?;
            let page_items = extract(page);
            if page_items.is_empty() {
                // Distribution may send a Link to an empty page; stop there.
                break;
            }
            items.extend(page_items);
        }
        Ok(items)
    }

    /// Requests a manifest with every manifest type accepted; returns the response and the
    /// digest and media type from its headers.
    async fn request_manifest(
        &self,
        method: Method,
        repository: &str,
        reference: &str,
    ) -> Result<(Response, ManifestRecord, String), Error> {
        let url = self.url(&format!("/v2/{repository}/manifests/{reference}"))?;
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        let response = self.send(method, url, &pull_scope(repository), Some(&accept)).await?;
        let what = format!("{repository}:{reference}");
        let record = ManifestRecord {
            digest: digest_header(response.headers(), &what)?,
            media_type: content_type(response.headers(), &what)?,
            size: None,
        };
        Ok((response, record, what))
    }

    async fn get_manifest(&self, repository: &str, reference: &str) -> Result<ManifestInfo, Error> {
        let (response, record, what) = self.request_manifest(Method::GET, repository, reference).await?;
        let body: ManifestBody = response.json().await.map_err(|e| Error::InvalidResponse {
            what: what.clone(),
            reason: e.to_string(),
        })?;
        let media_type = body.media_type.unwrap_or(record.media_type);
        let size = if body.manifests.is_empty() {
            body.config
                .as_ref()
                .map(|c| c.size + body.layers.iter().map(|l| l.size).sum::<u64>())
        } else {
            Some(body.manifests.iter().map(|m| m.size).sum())
        };
        let facts = ManifestFacts {
            media_type: media_type.clone(),
            config_media_type: body.config.as_ref().and_then(|c| c.media_type.clone()),
            artifact_type: body.artifact_type,
            subject: body.subject.map(|s| s.digest),
            layer_media_types: body.layers.iter().filter_map(|l| l.media_type.clone()).collect(),
            child_artifact_types: body.manifests.iter().map(|m| m.artifact_type.clone()).collect(),
            annotations: body.annotations.unwrap_or_default(),
        };
        Ok(ManifestInfo {
            facts,
            record: ManifestRecord {
                digest: record.digest,
                media_type,
                size,
            },
            layers: body.layers.into_iter().map(|l| l.digest).collect(),
            platforms: body
                .manifests
                .iter()
                .map(|m| m.platform.as_ref().map(Platform::label).unwrap_or_default())
                .collect(),
            children: body.manifests.into_iter().map(|m| m.digest).collect(),
        })
    }
}

fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

async fn status_error(response: Response, what: &str) -> Error {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    let message = serde_json::from_slice::<RegistryErrors>(&body)
        .ok()
        .and_then(|e| e.errors.into_iter().next())
        .map(|e| format!("{}: {}", e.code, e.message))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    Error::Status {
        status: status.as_u16(),
        what: what.to_owned(),
        message,
    }
}

fn digest_header(headers: &HeaderMap, what: &str) -> Result<String, Error> {
    headers
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .filter(|d| d.starts_with("sha256:") || d.starts_with("sha512:"))
        .map(str::to_owned)
        .ok_or_else(|| Error::InvalidResponse {
            what: what.to_owned(),
            reason: "no Docker-Content-Digest header".into(),
        })
}

fn content_type(headers: &HeaderMap, what: &str) -> Result<String, Error> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
        .ok_or_else(|| Error::InvalidResponse {
            what: what.to_owned(),
            reason: "no Content-Type header".into(),
        })
}

/// The `rel="next"` target of a `Link` header, resolved against the request URL.
fn next_link(headers: &HeaderMap, request: &Url) -> Option<Url> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.split_once(';')?;
            let is_next = params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            if is_next { request.join(target).ok() } else { None }
        })
}

#[async_trait]
impl RegistryClient for HttpRegistryClient {
    async fn catalog(&self) -> portus_core::Result<Vec<String>> {
        let first = format!("/v2/_catalog?n={}", self.options.page_size);
        Ok(self
            .paginate(&first, "registry:catalog:*", |page: CatalogPage| {
                page.repositories.unwrap_or_default()
            })
            .await?)
    }

    async fn tags(&self, repository: &str) -> portus_core::Result<Vec<String>> {
        let first = format!("/v2/{repository}/tags/list?n={}", self.options.page_size);
        Ok(self
            .paginate(&first, &pull_scope(repository), |page: TagsPage| {
                page.tags.unwrap_or_default()
            })
            .await?)
    }

    async fn head_manifest(&self, repository: &str, reference: &str) -> portus_core::Result<ManifestRecord> {
        Ok(self.request_manifest(Method::HEAD, repository, reference).await?.1)
    }

    async fn manifest(&self, repository: &str, reference: &str) -> portus_core::Result<ManifestInfo> {
        Ok(self.get_manifest(repository, reference).await?)
    }

    async fn delete_manifest(&self, repository: &str, digest: &str) -> portus_core::Result<()> {
        let url = self.url(&format!("/v2/{repository}/manifests/{digest}"))?;
        let response = self
            .send(Method::DELETE, url, &format!("repository:{repository}:delete"), None)
            .await?;
        if response.status() != StatusCode::ACCEPTED && !response.status().is_success() {
            return Err(Error::Status {
                status: response.status().as_u16(),
                what: format!("DELETE {repository}@{digest}"),
                message: "unexpected status".into(),
            }
            .into());
        }
        Ok(())
    }

    async fn delete_tag(&self, repository: &str, tag: &str) -> portus_core::Result<bool> {
        let url = self.url(&format!("/v2/{repository}/manifests/{tag}"))?;
        let scope = format!("repository:{repository}:delete");
        match self.send(Method::DELETE, url, &scope, None).await {
            Ok(_) => Ok(true),
            // 2.8 reads the tag as a digest and answers 400 DIGEST_INVALID; OCI registries that
            // cannot delete tags answer 400 or 405. The manifest deletion that follows reports
            // any other reason (such as deletion being disabled).
            Err(Error::Status { status: 400 | 405, .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::extract::{Path, Query, State};
    use axum::http::{HeaderMap as AxumHeaders, StatusCode as AxumStatus};
    use axum::response::IntoResponse;
    use axum::routing::get;

    use super::*;
    use reqwest::header::HeaderValue;

    const INDEX: &str = "application/vnd.oci.image.index.v1+json";

    #[derive(Clone, Default)]
    struct Fake {
        catalog_calls: Arc<AtomicUsize>,
        flaky_left: Arc<AtomicUsize>,
    }

    /// A fake registry with the Distribution API shapes: a paginated catalog of five
    /// repositories, a tag list that fails twice with 503 before answering, an index manifest
    /// and a 404 with the registry error body. Every request must carry a bearer token.
    async fn fake_registry() -> (Url, Fake) {
        async fn catalog(
            State(fake): State<Fake>,
            headers: AxumHeaders,
            Query(q): Query<HashMap<String, String>>,
        ) -> axum::response::Response {
            assert!(
                headers["authorization"]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer token-for:registry:catalog:*")
            );
            fake.catalog_calls.fetch_add(1, Ordering::SeqCst);
            let all = ["a/one", "a/two", "b/three", "c/four", "c/five"];
            let n: usize = q.get("n").unwrap().parse().unwrap();
            let start = q
                .get("last")
                .map(|l| all.iter().position(|r| r == l).unwrap() + 1)
                .unwrap_or(0);
            let page: Vec<&str> = all.iter().skip(start).take(n).copied().collect();
            let mut response = axum::Json(serde_json::json!({ "repositories": page })).into_response();
            if start + n < all.len() {
                let link = format!("</v2/_catalog?last={}&n={n}>; rel=\"next\"", page.last().unwrap());
                response.headers_mut().insert("link", link.parse().unwrap());
            }
            response
        }
        async fn tags(State(fake): State<Fake>, Path((ns, repo)): Path<(String, String)>) -> axum::response::Response {
            if fake.flaky_left.fetch_sub(1, Ordering::SeqCst) > 0 {
                return (AxumStatus::SERVICE_UNAVAILABLE, "busy").into_response();
            }
            if ns == "missing" {
                let body = serde_json::json!({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]});
                return (AxumStatus::NOT_FOUND, axum::Json(body)).into_response();
            }
            axum::Json(serde_json::json!({"name": format!("{ns}/{repo}"), "tags": ["1.0", "latest"]})).into_response()
        }
        async fn manifest(headers: AxumHeaders) -> axum::response::Response {
            let accept = headers["accept"].to_str().unwrap();
            for media_type in MANIFEST_MEDIA_TYPES.iter().take(4) {
                assert!(accept.contains(media_type), "Accept must list {media_type}: {accept}");
            }
            let body = serde_json::json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:c1", "size": 100,
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:c2", "size": 200,
                 "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:c3", "size": 0}]});
            (
                [("content-type", INDEX), ("docker-content-digest", "sha256:idx")],
                axum::Json(body),
            )
                .into_response()
        }
        let fake = Fake::default();
        let app = axum::Router::new()
            .route("/v2/_catalog", get(catalog))
            .route("/v2/{ns}/{repo}/tags/list", get(tags))
            .route("/v2/{ns}/{repo}/manifests/{reference}", get(manifest))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap()).parse().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, fake)
    }

    fn client(url: Url, page_size: usize) -> HttpRegistryClient {
        let minter: TokenMinter = Arc::new(|scopes: &[String]| Ok(format!("token-for:{}", scopes.join(" "))));
        let options = ClientOptions {
            page_size,
            backoff: Duration::from_millis(10),
            ..ClientOptions::default()
        };
        HttpRegistryClient::new(url, minter, options).unwrap()
    }

    #[tokio::test]
    async fn follows_catalog_pages() {
        let (url, fake) = fake_registry().await;
        let catalog = client(url, 2).catalog().await.unwrap();
        assert_eq!(catalog, ["a/one", "a/two", "b/three", "c/four", "c/five"]);
        assert_eq!(fake.catalog_calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn retries_temporary_failures_then_gives_up_with_a_typed_error() {
        let (url, fake) = fake_registry().await;
        fake.flaky_left.store(2, Ordering::SeqCst);
        assert_eq!(client(url.clone(), 10).tags("a/one").await.unwrap(), ["1.0", "latest"]);
        fake.flaky_left.store(10, Ordering::SeqCst);
        let err = client(url.clone(), 10).tags("a/one").await.unwrap_err();
        assert!(err.is_temporary(), "{err}");
        fake.flaky_left.store(0, Ordering::SeqCst);
        let missing = client(url, 10).tags("missing/repo").await.unwrap_err();
        assert_eq!(missing.kind(), portus_core::ErrorKind::NotFound, "{missing}");
    }

    #[tokio::test]
    async fn reads_index_manifests() {
        let (url, _) = fake_registry().await;
        let info = client(url, 10).manifest("a/one", "1.0").await.unwrap();
        assert_eq!(info.record.digest, "sha256:idx");
        assert_eq!(info.record.media_type, INDEX);
        assert_eq!(info.record.size, Some(300));
        assert_eq!(info.children, ["sha256:c1", "sha256:c2", "sha256:c3"]);
        assert_eq!(
            info.platforms,
            ["linux/amd64", "linux/arm/v7", ""],
            "the index's platforms, in its order"
        );
        assert!(info.layers.is_empty());
    }

    #[tokio::test]
    async fn unreachable_registry_is_temporary() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = client(format!("http://127.0.0.1:{port}").parse().unwrap(), 10)
            .catalog()
            .await
            .unwrap_err();
        assert!(err.is_temporary(), "{err}");
    }

    #[test]
    fn link_headers_resolve_relative_and_absolute() {
        let request: Url = "http://r:5000/v2/_catalog?n=2".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static("</v2/_catalog?last=b&n=2>; rel=\"next\""),
        );
        assert_eq!(
            next_link(&headers, &request).unwrap().as_str(),
            "http://r:5000/v2/_catalog?last=b&n=2"
        );
        headers.insert(LINK, HeaderValue::from_static("<https://other/v2/x?n=1>; rel=next"));
        assert_eq!(
            next_link(&headers, &request).unwrap().as_str(),
            "https://other/v2/x?n=1"
        );
        headers.insert(LINK, HeaderValue::from_static("</v2/_catalog?last=a>; rel=\"prev\""));
        assert_eq!(next_link(&headers, &request), None);
        assert_eq!(next_link(&HeaderMap::new(), &request), None);
    }
}
