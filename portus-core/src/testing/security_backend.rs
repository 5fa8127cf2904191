//! The conformance suite every [`SecurityBackend`] runs: a scanner that cannot answer is an
//! error, never a clean report.
//!
//! A backend's tests implement [`ScannerFixture`] over their fake scanner; the
//! [`security_backend_conformance!`](crate::security_backend_conformance) macro turns every
//! check into a named `#[tokio::test]`.

use std::sync::Arc;

use async_trait::async_trait;

use crate::traits::{ImageRef, ScanOutcome, SecurityBackend, Severity};

/// How the scanner behind a backend under test behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScannerState {
    /// Working: it knows findings for [`ScannerFixture::image`].
    Healthy,
    /// Still working on the image (indexing, matcher not ready...).
    Pending,
    /// Not reachable at all (nothing listening).
    Unreachable,
    /// Answers with a server error (HTTP 5xx).
    ServerError,
    /// Answers with a body that does not parse.
    InvalidResponse,
}

/// What a backend's tests give the suite: the backend, talking to a scanner put in a state.
#[async_trait]
pub trait ScannerFixture: Send + Sync {
    /// The backend whose scanner is now in `state`, or `None` when the backend has no such
    /// state (the dummy backend has no remote side to be down; Clair v2 scans synchronously
    /// and is never pending). The check then has nothing to verify for this backend.
    async fn backend(&self, state: ScannerState) -> Option<Arc<dyn SecurityBackend>>;

    /// An image the healthy scanner accepts and reports findings for.
    fn image(&self) -> ImageRef;
}

/// The backend's finished report from its healthy scanner; panics on anything else.
async fn healthy_report(fixture: &dyn ScannerFixture) -> crate::traits::ScanReport {
    let backend = fixture
        .backend(ScannerState::Healthy)
        .await
        .expect("every backend can be healthy");
    match backend.scan(&fixture.image()).await {
        Ok(ScanOutcome::Finished(report)) => report,
        other => panic!("{}: a healthy scanner finishes: {other:?}", backend.name()),
    }
}

/// The backend names itself: a non-empty name without spaces (it attributes findings and
/// keys stored results), the same every time.
pub async fn backend_names_itself(fixture: &dyn ScannerFixture) {
    let backend = fixture.backend(ScannerState::Healthy).await.expect("healthy backend");
    let name = backend.name().to_owned();
    assert!(!name.is_empty(), "a backend has a name");
    assert!(!name.contains(char::is_whitespace), "{name:?}: no whitespace");
    assert_eq!(backend.name(), name, "the name does not change");
    backend.health().await.expect("a healthy scanner is healthy");
}

/// A healthy scanner's report has findings, each with an id and a severity normalized from
/// the scanner's own names (at least one is known, not everything `Unknown`); scanning again
/// gives the same report.
pub async fn reports_parse_into_normalized_findings(fixture: &dyn ScannerFixture) {
    let report = healthy_report(fixture).await;
    assert!(!report.vulnerabilities.is_empty(), "the fake scanner knows findings");
    for finding in &report.vulnerabilities {
        assert!(!finding.id.trim().is_empty(), "{finding:?}: every finding has an id");
        assert!(Severity::ALL.contains(&finding.severity));
    }
    assert!(
        report.vulnerabilities.iter().any(|v| v.severity != Severity::Unknown),
        "vendor severities are normalized: {:?}",
        report.vulnerabilities
    );
    assert_eq!(healthy_report(fixture).await, report, "the same image, the same report");
}

/// A scanner still working answers `Pending` with a delay, or an error: never a finished
/// (possibly clean) report.
pub async fn pending_is_never_clean(fixture: &dyn ScannerFixture) {
    let Some(backend) = fixture.backend(ScannerState::Pending).await else {
        return;
    };
    match backend.scan(&fixture.image()).await {
        Ok(ScanOutcome::Pending { retry_after }) => {
            assert!(
                !retry_after.is_zero(),
                "{}: pending says when to ask again",
                backend.name()
            )
        }
        Ok(ScanOutcome::Finished(report)) => panic!("{}: pending reported as finished: {report:?}", backend.name()),
        Err(_) => {}
    }
}

/// A scanner nobody answers for is a temporary error for scans and for the health check.
pub async fn unreachable_scanner_is_a_temporary_error(fixture: &dyn ScannerFixture) {
    let Some(backend) = fixture.backend(ScannerState::Unreachable).await else {
        return;
    };
    let error = match backend.scan(&fixture.image()).await {
        Err(error) => error,
        Ok(outcome) => panic!("{}: unreachable scanner answered {outcome:?}", backend.name()),
    };
    assert!(error.is_temporary(), "{}: retried later: {error:?}", backend.name());
    assert!(backend.health().await.is_err(), "{}: not healthy", backend.name());
}

/// A scanner answering with a server error is a temporary error, never a report.
pub async fn server_error_is_a_temporary_error(fixture: &dyn ScannerFixture) {
    let Some(backend) = fixture.backend(ScannerState::ServerError).await else {
        return;
    };
    let error = match backend.scan(&fixture.image()).await {
        Err(error) => error,
        Ok(outcome) => panic!("{}: server error answered {outcome:?}", backend.name()),
    };
    assert!(error.is_temporary(), "{}: retried later: {error:?}", backend.name());
}

/// An answer that does not parse is a permanent error (retrying the same answer will not
/// help), never a clean report.
pub async fn invalid_response_is_an_error(fixture: &dyn ScannerFixture) {
    let Some(backend) = fixture.backend(ScannerState::InvalidResponse).await else {
        return;
    };
    let error = match backend.scan(&fixture.image()).await {
        Err(error) => error,
        Ok(outcome) => panic!("{}: invalid answer gave {outcome:?}", backend.name()),
    };
    assert!(!error.is_temporary(), "{}: {error:?}", backend.name());
}

/// After a failure the same backend scans normally once its scanner is healthy again.
pub async fn recovers_when_the_scanner_does(fixture: &dyn ScannerFixture) {
    if let Some(backend) = fixture.backend(ScannerState::ServerError).await {
        assert!(backend.scan(&fixture.image()).await.is_err());
    }
    let report = healthy_report(fixture).await;
    assert!(!report.vulnerabilities.is_empty());
}

/// Expands to one `#[tokio::test]` per check, each on a fresh fixture made by the given
/// async expression (a [`ScannerFixture`]).
///
/// ```ignore
/// portus_core::security_backend_conformance!(async { FakeClairFixture::start().await });
/// ```
#[macro_export]
macro_rules! security_backend_conformance {
    ($make:expr) => {
        $crate::security_backend_conformance!(@tests $make;
            backend_names_itself,
            reports_parse_into_normalized_findings,
            pending_is_never_clean,
            unreachable_scanner_is_a_temporary_error,
            server_error_is_a_temporary_error,
            invalid_response_is_an_error,
            recovers_when_the_scanner_does,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let fixture = $make.await;
                $crate::testing::security_backend::$check(&fixture).await;
            }
        )*
    };
}
