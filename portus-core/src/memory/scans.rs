use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::model::{ScanRecord, ScanState, SummaryRebuild, normalize_scope};

use super::InMemoryStore;

#[async_trait]
impl crate::traits::ScanStore for InMemoryStore {
    async fn put_scan_record(&self, record: &ScanRecord) -> Result<()> {
        let mut state = self.lock();
        state
            .scans
            .retain(|r| !(r.digest == record.digest && r.backend == record.backend));
        state.scans.push(ScanRecord {
            updated_at: crate::model::at_store_precision(record.updated_at),
            next_attempt_at: record.next_attempt_at.map(crate::model::at_store_precision),
            ..record.clone()
        });
        Ok(())
    }
    async fn scan_records<'a>(&self, digest: Option<&'a str>) -> Result<Vec<ScanRecord>> {
        let mut records: Vec<ScanRecord> = self
            .lock()
            .scans
            .iter()
            .filter(|r| digest.is_none_or(|d| r.digest == d))
            .cloned()
            .collect();
        records.sort_by(|a, b| (&a.digest, &a.backend).cmp(&(&b.digest, &b.backend)));
        Ok(records)
    }
    async fn scan_records_of(&self, digests: &[String]) -> Result<Vec<ScanRecord>> {
        let mut records: Vec<ScanRecord> = self
            .lock()
            .scans
            .iter()
            .filter(|r| digests.contains(&r.digest))
            .cloned()
            .collect();
        records.sort_by(|a, b| (&a.digest, &a.backend).cmp(&(&b.digest, &b.backend)));
        Ok(records)
    }
    async fn set_scan_scope(&self, scanners: &[String]) -> Result<bool> {
        let scope = normalize_scope(scanners);
        let mut state = self.lock();
        let changed = state.scan_scope != scope;
        state.scan_scope = scope;
        Ok(changed)
    }
    async fn scan_scope(&self) -> Result<Vec<String>> {
        Ok(self.lock().scan_scope.clone())
    }
    async fn rebuild_summaries(&self) -> Result<SummaryRebuild> {
        // Nothing is kept here: every list recomputes (see `repositories_page`).
        let state = self.lock();
        let digests: std::collections::HashSet<&str> = state.tags.iter().map(|t| t.manifest.digest.as_str()).collect();
        Ok(SummaryRebuild {
            digests: digests.len() as u64,
            repositories: state.repositories.len() as u64,
            corrected: 0,
        })
    }
    async fn claim_scan(
        &self,
        digest: &str,
        backend: &str,
        seen: Option<DateTime<Utc>>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let mut state = self.lock();
        let now = crate::model::now();
        let current = state
            .scans
            .iter_mut()
            .find(|r| r.digest == digest && r.backend == backend);
        match current {
            None if seen.is_none() => {
                state.scans.push(ScanRecord {
                    digest: digest.to_owned(),
                    backend: backend.to_owned(),
                    state: ScanState::Scanning,
                    report: None,
                    error: None,
                    attempts: 0,
                    updated_at: now,
                    next_attempt_at: Some(crate::model::at_store_precision(lease_until)),
                });
                Ok(true)
            }
            Some(record)
                if Some(record.updated_at) == seen
                    && !(record.state == ScanState::Scanning && record.next_attempt_at.is_some_and(|t| t > now)) =>
            {
                record.state = ScanState::Scanning;
                record.updated_at = now;
                record.next_attempt_at = Some(crate::model::at_store_precision(lease_until));
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
