//! `steward report` as users run it: each format, to a file or standard output, and a
//! period that cannot be read named before anything is opened.

use std::process::{Command, Output};

const STEWARD: &str = env!("CARGO_BIN_EXE_steward");

fn steward(args: &[&str]) -> Output {
    Command::new(STEWARD).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A data directory holding two decisions on AI images without a label, made today.
fn store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = |id: &str| {
        format!(
            r#"{{"id":"{id}","type":"post.created","at":"{now}","post":{{"id":"p-{id}","account_id":"a-{id}","kind":"image","text":"x","created_at":"{now}","ai_generated":{{"declared":true}}}}}}"#
        )
    };
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, format!("{}\n{}\n", event("e1"), event("e2"))).unwrap();
    let data = dir.path().join("data");
    let out = steward(&["ingest", "--data-dir", data.to_str().unwrap(), file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir
}

#[test]
fn the_report_is_written_in_each_format() {
    let dir = store();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let today = chrono::Utc::now().date_naive().to_string();
    let out = steward(&["report", "--data-dir", data, "--from", &today, "--to", &today, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["decisions"]["total"], 2);
    assert_eq!(json["decisions"]["by_content"][0], serde_json::json!({"key": "image", "count": 2}));

    let csv = dir.path().join("report.csv");
    let args = ["report", "--data-dir", data, "--from", &today, "--to", &today, "--format", "csv", "--out"];
    let out = steward(&[&args[..], &[csv.to_str().unwrap()]].concat());
    assert!(out.status.success() && out.stdout.is_empty(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(csv).unwrap();
    assert!(csv.starts_with("section,key,field,value\n"));
    assert!(csv.contains(&format!("\ndecisions_over_time,{today},day,2\n")), "{csv}");

    let out = steward(&["report", "--data-dir", data, "--from", &today, "--to", &today]);
    let html = text(&out.stdout);
    assert!(html.starts_with("<!DOCTYPE html>"), "html is the default");
    assert_eq!(html.matches("<rect class=\"bar\"").count(), 2, "one day, one category");
    assert!(html.contains(&format!("<title>{today}: 2 decisions</title>")));
}

#[test]
fn a_period_that_cannot_be_read_is_named() {
    let missing = tempfile::tempdir().unwrap();
    let data = missing.path().join("never-made");
    let data = data.to_str().unwrap();
    for (from, to, error) in [
        (
            "2026-13-01",
            "2026-12-31",
            "error: --from: \"2026-13-01\" is not a date (YYYY-MM-DD) or an RFC 3339 time (2026-11-22T08:00:00Z)",
        ),
        ("2026-11-01", "next week", "error: --to: \"next week\" is not a date"),
        ("2026-12-01", "2026-11-30", "error: the period is empty: --from 2026-12-01 is not before --to 2026-11-30"),
    ] {
        let out = steward(&["report", "--data-dir", data, "--from", from, "--to", to]);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).starts_with(error), "{}", text(&out.stderr));
    }
    assert!(!missing.path().join("never-made").exists(), "nothing opened for a period that cannot be read");
    let out = steward(&["report", "--data-dir", data, "--from", "2026-11-01", "--to", "2026-11-30", "--format", "pdf"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("\"pdf\" is not html, json or csv"), "{}", text(&out.stderr));
}
