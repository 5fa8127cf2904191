//! What an operator's tools read from a live `portus serve`: JSON log lines carrying the
//! request id, and `/metrics` behind its bearer token.

use crate::harness::{Portus, http_get, status};

#[test]
fn json_log_lines_carry_the_request_id_and_metrics_need_the_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Portus::new(dir.path(), "registry", "");
    p.append_config("[log]\nformat = \"json\"\n\n[metrics]\nbearer_token = \"scrape-secret\"\n");
    p.start();

    // A token request for another service: refused, and the refusal is logged (at info).
    let response = http_get(p.addr, "/v2/token?service=elsewhere", &[("X-Request-Id", "it-req-7")]);
    assert_eq!(status(&response), 400, "{response}");
    assert!(
        response.to_ascii_lowercase().contains("x-request-id: it-req-7\r\n"),
        "{response}"
    );
    let generated = http_get(p.addr, "/v2/", &[]);
    let id = generated
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("x-request-id: ").map(str::to_owned))
        .unwrap_or_else(|| panic!("no generated id: {generated}"));
    assert!(!id.trim().is_empty());

    let log = p.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.iter().any(|l| l["message"] == "portus is serving"), "{log}");
    let refused = lines
        .iter()
        .find(|l| l["message"] == "token request refused")
        .unwrap_or_else(|| panic!("no refusal logged: {log}"));
    assert_eq!(refused["span"]["request_id"], "it-req-7", "{refused}");
    assert_eq!(
        refused["span"]["route"], "/v2/token",
        "the template, no query: {refused}"
    );
    assert!(
        !log.contains("service=elsewhere"),
        "the query is not in the span: {log}"
    );
    assert_eq!(refused["level"], "INFO");

    assert_eq!(status(&http_get(p.addr, "/metrics", &[])), 401);
    assert_eq!(
        status(&http_get(p.addr, "/metrics", &[("Authorization", "Bearer wrong")])),
        401
    );
    let metrics = http_get(p.addr, "/metrics", &[("Authorization", "Bearer scrape-secret")]);
    assert_eq!(status(&metrics), 200, "{metrics}");
    assert!(
        metrics.contains("portus_token_requests_total{result=\"denied\",reason=\"invalid_request\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("portus_store_pool_connections "), "{metrics}");
}
