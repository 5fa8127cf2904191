use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::model::{ScanRecord, SummaryRebuild};

/// Security scan records and the claims that keep instances from scanning the same image twice.
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait ScanStore: Send + Sync {
    /// Stores (replaces) one backend's scan record for one digest.
    async fn put_scan_record(&self, record: &ScanRecord) -> Result<()>;
    /// Scan records of one digest, or of all digests; ordered by digest and backend.
    async fn scan_records<'a>(&self, digest: Option<&'a str>) -> Result<Vec<ScanRecord>>;
    /// Scan records of these digests; ordered by digest and backend.
    async fn scan_records_of(&self, digests: &[String]) -> Result<Vec<ScanRecord>>;
    /// Sets the scanners whose records count in the kept per-repository figures (the
    /// configured ones; records of others are kept but do not count). When they differ from
    /// the stored ones, every figure is rebuilt, in the same transaction. Returns whether
    /// they differed. Instances sharing a store must configure the same scanners.
    async fn set_scan_scope(&self, scanners: &[String]) -> Result<bool>;
    /// The scanners set by [`ScanStore::set_scan_scope`], sorted (none on a new store).
    async fn scan_scope(&self) -> Result<Vec<String>>;
    /// Recomputes every kept per-repository figure from the tags and scan records, in one
    /// transaction, and says how many differed.
    async fn rebuild_summaries(&self) -> Result<SummaryRebuild>;
    /// Claims one backend's scan of one digest for a worker until `lease_until`: marks it
    /// `Scanning` if its record is still the one the worker saw (`seen` = its `updated_at`, or
    /// `None` for no record). Returns `false` when another worker changed or holds it, so
    /// instances sharing a store never scan the same digest with the same backend at once.
    async fn claim_scan(
        &self,
        digest: &str,
        backend: &str,
        seen: Option<DateTime<Utc>>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool>;
    /// [`ScanStore::claim_scan`] for several backends of one digest at once (one transaction
    /// in SQL stores); returns the backends claimed.
    async fn claim_scans(
        &self,
        digest: &str,
        wanted: &[(String, Option<DateTime<Utc>>)],
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        let mut claimed = Vec::new();
        for (backend, seen) in wanted {
            if self.claim_scan(digest, backend, *seen, lease_until).await? {
                claimed.push(backend.clone());
            }
        }
        Ok(claimed)
    }
    /// Stores several scan records (one transaction in SQL stores).
    async fn put_scan_records(&self, records: &[ScanRecord]) -> Result<()> {
        for record in records {
            self.put_scan_record(record).await?;
        }
        Ok(())
    }
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: ScanStore + ?Sized> ScanStore for $wrapper {
            async fn put_scan_record(&self, record: &ScanRecord) -> Result<()> {
                (**self).put_scan_record(record).await
            }
            async fn scan_records<'a>(&self, digest: Option<&'a str>) -> Result<Vec<ScanRecord>> {
                (**self).scan_records(digest).await
            }
            async fn scan_records_of(&self, digests: &[String]) -> Result<Vec<ScanRecord>> {
                (**self).scan_records_of(digests).await
            }
            async fn set_scan_scope(&self, scanners: &[String]) -> Result<bool> {
                (**self).set_scan_scope(scanners).await
            }
            async fn scan_scope(&self) -> Result<Vec<String>> {
                (**self).scan_scope().await
            }
            async fn rebuild_summaries(&self) -> Result<SummaryRebuild> {
                (**self).rebuild_summaries().await
            }
            async fn claim_scan(
                &self,
                digest: &str,
                backend: &str,
                seen: Option<DateTime<Utc>>,
                lease_until: DateTime<Utc>,
            ) -> Result<bool> {
                (**self).claim_scan(digest, backend, seen, lease_until).await
            }
            async fn claim_scans(
                &self,
                digest: &str,
                wanted: &[(String, Option<DateTime<Utc>>)],
                lease_until: DateTime<Utc>,
            ) -> Result<Vec<String>> {
                (**self).claim_scans(digest, wanted, lease_until).await
            }
            async fn put_scan_records(&self, records: &[ScanRecord]) -> Result<()> {
                (**self).put_scan_records(records).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
