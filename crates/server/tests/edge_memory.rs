//! One request of millions of bad records costs little memory and gets a small answer. In
//! its own test binary, so that the process's peak memory is this test's alone.

mod common;

use reqwest::StatusCode;
use steward_model::Role;

/// Resident and peak resident memory of this process, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> f64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn sixteen_mib_of_bad_records_costs_little_memory_and_answers_in_kilobytes() {
    let s = common::start(steward_server::Limits::default());
    // 8.39 million records `1`, just under the 16 MiB body limit.
    let body = "1\n".repeat(8_388_000);
    assert!(s.get(None, "/healthz").0.is_success());
    let (before, peak_before) = memory();
    let response = s
        .client
        .post(format!("{}/v1/events", s.base))
        .bearer_auth(&s.keys[&Role::Ingest])
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer = response.text().unwrap();
    let (after, peak) = memory();
    eprintln!(
        "answer {} bytes; resident {before:.0} MiB before (peak {peak_before:.0}), {after:.0} MiB after, peak {peak:.0} MiB",
        answer.len()
    );
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["rejected_total"], 8_388_000);
    assert!(answer.to_string().len() < 1024 * 1024);
    // The body itself is 16 MiB (sent by this process and received by it).
    assert!(peak - peak_before.max(before) < 100.0, "peak grew by {:.0} MiB", peak - before);
    assert!(after - before < 40.0, "{:.0} MiB kept after the answer", after - before);
}
