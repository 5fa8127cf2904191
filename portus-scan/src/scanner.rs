//! Running every configured backend on one image: in parallel, each with its own timeout.
//! A failure or timeout is recorded as a failed backend, never as a clean result.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use portus_core::traits::{ImageRef, ScanOutcome, ScanReport, SecurityBackend, VulnerabilityData};

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

    /// Asks every backend whether it is healthy and how old its vulnerability data is, in
    /// parallel, each within the timeout: `Ok("ok")`, or `Ok` saying when its data was last
    /// updated; an error when it does not answer, or has no vulnerability data at all (every
    /// scan would fail). Data whose age cannot be read leaves a reachable backend healthy,
    /// with the reason.
    pub async fn health(&self) -> BTreeMap<String, Result<String, String>> {
        let checks = self.backends.iter().map(|backend| async move {
            let check = async {
                backend.health().await?;
                Ok::<_, portus_core::Error>(backend.vulnerability_data().await)
            };
            let result = match tokio::time::timeout(self.timeout, check).await {
                Ok(Ok(data)) => describe_data(data, Utc::now()),
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

/// A reachable backend's health message from what it says about its vulnerability data.
fn describe_data(data: portus_core::Result<VulnerabilityData>, now: DateTime<Utc>) -> Result<String, String> {
    match data {
        Ok(VulnerabilityData::Missing) => Err("reachable, but it has no vulnerability data yet: every scan fails \
             until data is loaded (see docs/security-scanning.md)"
            .into()),
        Ok(VulnerabilityData::UpdatedAt { at }) => Ok(format!(
            "ok; vulnerability data updated {} ({})",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            age(now - at)
        )),
        Ok(_) => Ok("ok".into()),
        Err(e) => Ok(format!("ok; the age of its vulnerability data is unknown: {e}")),
    }
}

/// "3 days ago", "5 hours ago", "2 minutes ago", "just now" (a clock ahead of the scanner's
/// counts as just now).
fn age(elapsed: chrono::TimeDelta) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" });
    match (elapsed.num_days(), elapsed.num_hours(), elapsed.num_minutes()) {
        (days, _, _) if days > 0 => plural(days, "day"),
        (_, hours, _) if hours > 0 => plural(hours, "hour"),
        (_, _, minutes) if minutes > 0 => plural(minutes, "minute"),
        _ => "just now".into(),
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

    #[test]
    fn health_says_how_old_the_vulnerability_data_is_and_fails_without_any() {
        let now: DateTime<Utc> = "2026-03-04T12:00:00Z".parse().unwrap();
        let at = |s: &str| Ok(VulnerabilityData::UpdatedAt { at: s.parse().unwrap() });
        assert_eq!(
            describe_data(at("2026-03-01T10:00:00Z"), now).unwrap(),
            "ok; vulnerability data updated 2026-03-01T10:00:00Z (3 days ago)"
        );
        assert!(
            describe_data(at("2026-03-04T11:00:00Z"), now)
                .unwrap()
                .ends_with("(1 hour ago)")
        );
        assert!(
            describe_data(at("2026-03-04T12:00:30Z"), now)
                .unwrap()
                .ends_with("(just now)")
        );
        let missing = describe_data(Ok(VulnerabilityData::Missing), now).unwrap_err();
        assert!(missing.contains("no vulnerability data yet"), "{missing}");
        assert_eq!(describe_data(Ok(VulnerabilityData::Unknown), now).unwrap(), "ok");
        let unreadable = describe_data(Err(portus_core::Error::Invalid("nope".into())), now).unwrap();
        assert!(
            unreadable.starts_with("ok; the age of its vulnerability data is unknown"),
            "{unreadable}"
        );
    }
}
