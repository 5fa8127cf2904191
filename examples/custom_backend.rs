//! A third-party security backend: an in-house advisory feed that knows vulnerable manifest
//! digests. It is registered next to a built-in backend and their findings are merged.
//!
//! ```text
//! cargo run --example custom_backend
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portus::core::traits::{ImageRef, ScanOutcome, ScanReport, SecurityBackend, Severity, Vulnerability};
use portus::scan::aggregate::merge_tag;
use portus::scan::backend::dummy::DummyBackend;
use portus::scan::scanner::Scanner;

/// Findings keyed by manifest digest, e.g. loaded from an internal advisory database.
#[derive(Debug)]
struct AdvisoryFeed {
    advisories: HashMap<String, Vec<(&'static str, Severity)>>,
}

#[async_trait]
impl SecurityBackend for AdvisoryFeed {
    fn name(&self) -> &str {
        "advisory-feed"
    }

    async fn scan(&self, image: &ImageRef) -> portus::core::Result<ScanOutcome> {
        let vulnerabilities = self
            .advisories
            .get(&image.digest)
            .into_iter()
            .flatten()
            .map(|(id, severity)| Vulnerability {
                id: (*id).to_owned(),
                severity: *severity,
                package: Some("openssl".into()),
                package_version: None,
                fixed_in: Some("3.0.7".into()),
                links: vec![format!("https://advisories.example.com/{id}")],
                description: None,
            })
            .collect();
        // An image the feed does not know is clean *for this feed*: it answered.
        Ok(ScanOutcome::Finished(ScanReport { vulnerabilities }))
    }

    async fn health(&self) -> portus::core::Result<()> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let digest = "sha256:4d2f6f8c0fbd3b2c2a39f7a3c58ecf6a5e1f8d6c2b1a0f9e8d7c6b5a4f3e2d1c".to_owned();
    let feed = AdvisoryFeed {
        advisories: HashMap::from([(
            digest.clone(),
            vec![
                ("CVE-2016-6304", Severity::Critical),
                ("INTERNAL-2026-7", Severity::Medium),
            ],
        )]),
    };

    let mut scanner = Scanner::new(Duration::from_secs(30));
    scanner.register(Arc::new(DummyBackend))?.register(Arc::new(feed))?;

    let image = ImageRef {
        repository: "alice/app".into(),
        tag: "1.0".into(),
        digest,
        layers: vec![],
        registry_authorization: None,
    };
    let merged = merge_tag(&scanner.scan(&[image]).await);
    println!("{}", serde_json::to_string_pretty(&merged)?);
    Ok(())
}
