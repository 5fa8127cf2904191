//! zypper-docker's patch list: any body is an error or its security patches, none when it
//! says `Security: 0`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portus_scan::backend::zypper::parse_patches;

fuzz_target!(|data: &[u8]| {
    let Ok(report) = parse_patches(data) else {
        return;
    };
    // serde skips unknown fields without checking their UTF-8; compare only on valid JSON.
    if let Ok(answer) = serde_json::from_slice::<serde_json::Value>(data) {
        if answer["Security"] == 0 {
            assert!(report.vulnerabilities.is_empty());
        }
        let security_patches = answer["List"]
            .as_array()
            .map_or(0, |list| list.iter().filter(|p| p["IsSecurity"] == true).count());
        assert!(report.vulnerabilities.len() <= security_patches);
    }
});
