//! The registry's notification envelope: any body is an error or events with a usable id
//! whose stored JSON is the event as sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portus_scan::notification::{parse_envelope, parse_event};

fuzz_target!(|data: &[u8]| {
    let Ok(events) = parse_envelope(data) else {
        return;
    };
    for (id, json) in events {
        assert!(!id.is_empty() && id.len() <= 200, "{id:?}");
        let stored: serde_json::Value = serde_json::from_str(&json).expect("stored events are JSON");
        assert_eq!(stored["id"].as_str(), Some(id.as_str()));
        let _ = parse_event(&json);
    }
});
