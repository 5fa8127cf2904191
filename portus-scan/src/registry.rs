//! A [`RegistryClient`] over HTTP for Distribution 2.8/3.x and OCI registries.
//!
//! It asks for every manifest type (OCI index and manifest, Docker manifest list and schema 2)
//! so nothing is hidden or down-converted, follows `Link` pagination (relative or absolute),
//! retries temporary failures with exponential backoff, and authenticates with bearer tokens
//! minted in-process by portus for its own service account.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portus_core::model::{MANIFEST_MEDIA_TYPES, ManifestRecord};
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

    async fn head(&self, repository: &str, reference: &str) -> Result<ManifestRecord, Error> {
        let url = self.url(&format!("/v2/{repository}/manifests/{reference}"))?;
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        let response = self
            .send(Method::HEAD, url, &pull_scope(repository), Some(&accept))
            .await?;
        let what = format!("{repository}:{reference}");
        Ok(ManifestRecord {
            digest: digest_header(response.headers(), &what)?,
            media_type: content_type(response.headers(), &what)?,
            size: None,
        })
    }

    async fn get_manifest(&self, repository: &str, reference: &str) -> Result<ManifestInfo, Error> {
        let url = self.url(&format!("/v2/{repository}/manifests/{reference}"))?;
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        let response = self
            .send(Method::GET, url, &pull_scope(repository), Some(&accept))
            .await?;
        let what = format!("{repository}:{reference}");
        let digest = digest_header(response.headers(), &what)?;
        let header_type = content_type(response.headers(), &what)?;
        let body: ManifestBody = response.json().await.map_err(|e| Error::InvalidResponse {
            what: what.clone(),
            reason: e.to_string(),
        })?;
        let media_type = body.media_type.unwrap_or(header_type);
        let size = if body.manifests.is_empty() {
            body.config
                .as_ref()
                .map(|c| c.size + body.layers.iter().map(|l| l.size).sum::<u64>())
        } else {
            Some(body.manifests.iter().map(|m| m.size).sum())
        };
        Ok(ManifestInfo {
            record: ManifestRecord {
                digest,
                media_type,
                size,
            },
            layers: body.layers.into_iter().map(|l| l.digest).collect(),
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
        Ok(self.head(repository, reference).await?)
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

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
