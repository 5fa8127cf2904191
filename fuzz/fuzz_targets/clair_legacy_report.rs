//! Clair v2's layer answer: any body is an error, "not analysed", or one finding per
//! (feature, vulnerability) listed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portus_scan::backend::clair_legacy::parse_layer_report;

fuzz_target!(|data: &[u8]| {
    let Ok(Some(report)) = parse_layer_report(data) else {
        return;
    };
    assert!(report.vulnerabilities.iter().all(|v| v.package.is_some()));
    // serde skips unknown fields without checking their UTF-8; count only on valid JSON.
    if let Ok(answer) = serde_json::from_slice::<serde_json::Value>(data) {
        let listed: usize = answer["Layer"]["Features"].as_array().map_or(0, |features| {
            features
                .iter()
                .map(|f| f["Vulnerabilities"].as_array().map_or(0, Vec::len))
                .sum()
        });
        assert_eq!(report.vulnerabilities.len(), listed);
    }
});
