//! Running every configured backend on one image: in parallel, each with its own timeout.
//! A failure or timeout is recorded as a failed backend, never as a clean result.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use portus_core::traits::{ImageRef, ScanOutcome, ScanReport, SecurityBackend};

use crate::aggregate::BackendResult;

/// The set of backends an installation scans with. Embedding programs add their own with
/// [`Scanner::register`].
#[derive(Debug, Clone)]
pub struct Scanner {
    backends: Vec<Arc<dyn SecurityBackend>>,
    timeout: Duration,
}

impl Scanner {
    /// A scanner with no backends whose scans time out after `timeout` per backend.
    pub fn new(timeout: Duration) -> Self {
        Scanner {
            backends: Vec::new(),
            timeout,
        }
    }

    /// Adds a backend. Backend names must be unique: they attribute findings.
    pub fn register(&mut self, backend: Arc<dyn SecurityBackend>) -> Result<&mut Self, portus_core::Error> {
        if self.backends.iter().any(|b| b.name() == backend.name()) {
            return Err(portus_core::Error::Conflict(format!(
                "a backend named '{}' is already registered",
                backend.name()
            )));
        }
        self.backends.push(backend);
        Ok(self)
    }

    /// Whether any backend is configured (scanning is off otherwise).
    pub fn is_enabled(&self) -> bool {
        !self.backends.is_empty()
    }

    /// The registered backends, in the order they were added.
    pub fn backends(&self) -> &[Arc<dyn SecurityBackend>] {
        &self.backends
    }

    /// The registered backends' names.
    pub fn backend_names(&self) -> Vec<&str> {
        self.backends.iter().map(|b| b.name()).collect()
    }

    /// Asks every backend whether it is healthy, in parallel, each within the timeout.
    pub async fn health(&self) -> BTreeMap<String, Result<(), String>> {
        let checks = self.backends.iter().map(|backend| async move {
            let result = match tokio::time::timeout(self.timeout, backend.health()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {:?}", self.timeout)),
            };
            (backend.name().to_owned(), result)
        });
        join_all(checks).await.into_iter().collect()
    }

    /// Scans `images` (one image, or the platforms of an index) with every backend; each
    /// backend's reports over the images are merged into one result.
    pub async fn scan(&self, images: &[ImageRef]) -> BTreeMap<String, BackendResult> {
        let all: Vec<String> = self.backend_names().into_iter().map(str::to_owned).collect();
        self.scan_with(&all, images).await
    }

    /// Like [`Scanner::scan`], with only the named backends.
    pub async fn scan_with(&self, names: &[String], images: &[ImageRef]) -> BTreeMap<String, BackendResult> {
        let selected = self.backends.iter().filter(|b| names.iter().any(|n| n == b.name()));
        let runs = selected.map(|backend| async move {
            let mut merged = ScanReport::default();
            for image in images {
                let outcome = tokio::time::timeout(self.timeout, backend.scan(image)).await;
                match outcome {
                    Ok(Ok(ScanOutcome::Finished(report))) => merged.vulnerabilities.extend(report.vulnerabilities),
                    Ok(Ok(ScanOutcome::Pending { .. })) => return (backend.name().to_owned(), BackendResult::Pending),
                    Ok(Err(error)) => {
                        let mut message = error.to_string();
                        let mut source = std::error::Error::source(&error);
                        while let Some(cause) = source {
                            message.push_str(&format!(": {cause}"));
                            source = cause.source();
                        }
                        return (backend.name().to_owned(), BackendResult::Failed { error: message });
                    }
                    Err(_) => {
                        let error = format!("no answer within {} s", self.timeout.as_secs());
                        return (backend.name().to_owned(), BackendResult::Failed { error });
                    }
                }
            }
            (backend.name().to_owned(), BackendResult::Done { report: merged })
        });
        join_all(runs).await.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use portus_core::testing::{Script, ScriptedBackend, finding};
    use portus_core::traits::Severity;

    use super::*;
    use crate::aggregate::{TagScanStatus, merge_tag};

    /// Never answers: slower than any timeout.
    fn slow() -> Arc<ScriptedBackend> {
        Arc::new(ScriptedBackend::clean("slow").answering(Script::Hang))
    }

    /// One finding of the given severity for every image.
    fn fixed(id: &str, severity: Severity) -> Arc<ScriptedBackend> {
        let report = ScanReport {
            vulnerabilities: vec![finding(id, severity)],
        };
        Arc::new(ScriptedBackend::reporting("fixed", report))
    }

    fn image(digest: &str) -> ImageRef {
        ImageRef {
            repository: "a/b".into(),
            tag: "1".into(),
            digest: digest.into(),
            layers: vec![],
            registry_authorization: None,
        }
    }

    #[tokio::test]
    async fn a_slow_backend_fails_alone_and_images_are_merged() {
        let mut scanner = Scanner::new(Duration::from_millis(200));
        scanner
            .register(slow())
            .unwrap()
            .register(fixed("CVE", Severity::High))
            .unwrap();
        assert!(scanner.register(slow()).is_err(), "names are unique");
        let results = scanner.scan(&[image("amd64"), image("arm64")]).await;
        assert!(matches!(&results["slow"], BackendResult::Failed { error } if error.contains("no answer")));
        let BackendResult::Done { report } = &results["fixed"] else {
            panic!("{results:?}")
        };
        assert_eq!(report.vulnerabilities.len(), 2, "both platforms' findings");
        assert_eq!(
            merge_tag(&results).status,
            TagScanStatus::Failed,
            "never clean while a backend failed"
        );
        assert!(!Scanner::new(Duration::from_secs(1)).is_enabled());
    }
}
