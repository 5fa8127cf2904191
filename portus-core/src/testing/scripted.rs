//! [`ScriptedBackend`]: a [`SecurityBackend`] that answers what the test told it to.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use crate::traits::{ImageRef, ScanOutcome, ScanReport, SecurityBackend, Severity, Vulnerability};
use crate::{Error, Result};

/// Runs before a [`ScriptedBackend`] answers a scan, e.g. to wait (with the test's own timer)
/// or to count overlapping scans. Boxed so that `portus-core` needs no async runtime.
pub type ScanHook = Arc<dyn Fn(&ImageRef) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// What a [`ScriptedBackend`] answers to a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Script {
    /// A finished scan with this report.
    Finished(ScanReport),
    /// "Still working, ask again after this delay".
    Pending(Duration),
    /// A temporary [`Error::Unavailable`] whose source says this (a scanner that is down).
    Unavailable(String),
    /// A permanent [`Error::Backend`] whose source says this (an answer that makes no sense).
    Invalid(String),
    /// Never answers: the caller's timeout has to act.
    Hang,
}

/// A [`SecurityBackend`] whose answers a test sets, and which remembers the images it was
/// asked to scan. Replaces hand-written fake scanners.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use portus_core::testing::{Script, ScriptedBackend};
/// use portus_core::traits::{ScanOutcome, SecurityBackend};
///
/// let backend = ScriptedBackend::clean("flaky").answering(Script::Unavailable("connection refused".into()));
/// let image = portus_core::testing::image("alice/app", "1.0", "sha256:aa");
/// assert!(backend.scan(&image).await.unwrap_err().is_temporary());
/// backend.set_script(Script::Finished(Default::default()));
/// assert!(matches!(backend.scan(&image).await.unwrap(), ScanOutcome::Finished(_)));
/// assert_eq!(backend.scanned().len(), 2);
/// # });
/// ```
#[derive(Clone)]
pub struct ScriptedBackend {
    name: String,
    state: Arc<Mutex<State>>,
    hook: Option<ScanHook>,
}

#[derive(Debug)]
struct State {
    script: Script,
    healthy: bool,
    scanned: Vec<ImageRef>,
}

impl std::fmt::Debug for ScriptedBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedBackend")
            .field("name", &self.name)
            .field("state", &*self.lock())
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl ScriptedBackend {
    /// A healthy backend named `name` that finds nothing.
    pub fn clean(name: impl Into<String>) -> Self {
        Self::reporting(name, ScanReport::default())
    }

    /// A healthy backend named `name` that reports `report` for every image.
    pub fn reporting(name: impl Into<String>, report: ScanReport) -> Self {
        ScriptedBackend {
            name: name.into(),
            state: Arc::new(Mutex::new(State {
                script: Script::Finished(report),
                healthy: true,
                scanned: Vec::new(),
            })),
            hook: None,
        }
    }

    /// The same backend answering `script` instead.
    pub fn answering(self, script: Script) -> Self {
        self.set_script(script);
        self
    }

    /// The same backend running `hook` before every answer.
    pub fn with_hook(
        mut self,
        hook: impl Fn(&ImageRef) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers `script` from now on (clones share the script).
    pub fn set_script(&self, script: Script) {
        self.lock().script = script;
    }

    /// Whether [`SecurityBackend::health`] succeeds from now on.
    pub fn set_healthy(&self, healthy: bool) {
        self.lock().healthy = healthy;
    }

    /// The images scanned so far, oldest first (also those answered with an error).
    pub fn scanned(&self) -> Vec<ImageRef> {
        self.lock().scanned.clone()
    }
}

#[async_trait]
impl SecurityBackend for ScriptedBackend {
    fn name(&self) -> &str {
        &self.name
    }

    async fn scan(&self, image: &ImageRef) -> Result<ScanOutcome> {
        self.lock().scanned.push(image.clone());
        if let Some(hook) = &self.hook {
            hook(image).await;
        }
        let script = self.lock().script.clone();
        match script {
            Script::Finished(report) => Ok(ScanOutcome::Finished(report)),
            Script::Pending(retry_after) => Ok(ScanOutcome::Pending { retry_after }),
            Script::Unavailable(reason) => Err(Error::Unavailable {
                what: "security scanner",
                source: reason.into(),
            }),
            Script::Invalid(reason) => Err(Error::Backend {
                what: "security scanner",
                source: reason.into(),
            }),
            Script::Hang => std::future::pending().await,
        }
    }

    async fn health(&self) -> Result<()> {
        if self.lock().healthy {
            Ok(())
        } else {
            Err(Error::Unavailable {
                what: "security scanner",
                source: "made unhealthy by the test".into(),
            })
        }
    }
}

/// A finding with an id and a severity, and nothing else.
pub fn finding(id: &str, severity: Severity) -> Vulnerability {
    Vulnerability {
        id: id.to_owned(),
        severity,
        package: None,
        package_version: None,
        fixed_in: None,
        links: Vec::new(),
        description: None,
    }
}

/// An image of `repository:tag` with manifest `digest` and one layer served by a registry at
/// `http://127.0.0.1:5000`, with a pull token for it.
pub fn image(repository: &str, tag: &str, digest: &str) -> ImageRef {
    let layer = format!("sha256:{}", "cd".repeat(32));
    ImageRef {
        repository: repository.to_owned(),
        tag: tag.to_owned(),
        digest: digest.to_owned(),
        layers: vec![crate::traits::Layer {
            url: format!("http://127.0.0.1:5000/v2/{repository}/blobs/{layer}"),
            digest: layer,
            media_type: Some("application/vnd.oci.image.layer.v1.tar+gzip".into()),
        }],
        registry_authorization: Some("Bearer registry-pull-token".into()),
    }
}

#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use async_trait::async_trait;

    use super::*;
    use crate::testing::{ScannerFixture, ScannerState};

    /// The scripted backend maps every scanner state onto a script of its own.
    struct Scripted(ScriptedBackend);

    #[async_trait]
    impl ScannerFixture for Scripted {
        async fn backend(&self, state: ScannerState) -> Option<Arc<dyn SecurityBackend>> {
            let script = match state {
                ScannerState::Healthy => Script::Finished(ScanReport {
                    vulnerabilities: vec![finding("CVE-1", Severity::High)],
                }),
                ScannerState::Pending => Script::Pending(Duration::from_secs(5)),
                ScannerState::Unreachable | ScannerState::ServerError => Script::Unavailable("down".into()),
                ScannerState::InvalidResponse => Script::Invalid("garbage".into()),
            };
            let unhealthy = matches!(state, ScannerState::Unreachable);
            self.0.set_script(script);
            self.0.set_healthy(!unhealthy);
            Some(Arc::new(self.0.clone()))
        }

        fn image(&self) -> ImageRef {
            image("alice/app", "1.0", "sha256:aa")
        }
    }

    crate::security_backend_conformance!(async { Scripted(ScriptedBackend::clean("scripted")) });

    #[tokio::test]
    async fn hooks_run_before_the_answer_and_hangs_never_answer() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let backend = ScriptedBackend::clean("hooked").with_hook(move |image| {
            let log = log.clone();
            let digest = image.digest.clone();
            Box::pin(async move { log.lock().unwrap().push(digest) })
        });
        backend.scan(&image("a/b", "1", "sha256:x")).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), ["sha256:x"]);
        backend.set_script(Script::Hang);
        let hung = tokio::time::timeout(Duration::from_millis(20), backend.scan(&image("a/b", "1", "sha256:y"))).await;
        assert!(hung.is_err(), "never answers");
        assert_eq!(backend.scanned().len(), 2);
    }
}
