//! A Clair v4 matcher's vulnerability report: any body is an error or findings sorted by id,
//! each with an id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portus_scan::backend::clair_v4::parse_vulnerability_report;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = parse_vulnerability_report(data) {
        let ids: Vec<&str> = report.vulnerabilities.iter().map(|v| v.id.as_str()).collect();
        assert!(ids.is_sorted(), "{ids:?}");
        assert!(report.vulnerabilities.iter().all(|v| v.fixed_in.as_deref() != Some("")));
    }
});
