//! `steward bench report`: how long the transparency report takes over a large store.
//!
//! The store is filled through its own commit path with decisions copied from ones the
//! engine made on synthetic posts (so their bodies, facts and restrictions are real), each
//! on a post of its own, spread evenly over `--days`; one in a hundred is overturned and
//! appealed and its case reported and resolved. Only the reports are timed: over the whole
//! period and over its last week, each the best of three, HTML included.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, ensure};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::json;
use steward_engine::Engine;
use steward_engine::input::RawRecord;
use steward_model::{
    AppealFiled, AppealState, Case, CaseEntry, CaseReport, CaseState, Decision, ReportState, Reversal, Subject,
    SubjectKind,
};
use steward_report::{Format, Period, Transparency, render};
use steward_store::{Batch, EntityRow, ReviewWrite, Store};

const KINDS: [&str; 5] = ["short_post", "video", "group_message", "article", "image"];
const BATCH: usize = 5_000;

pub fn run(decisions: usize, days: u32, database_url: Option<&str>) -> Result<()> {
    ensure!(decisions > 0 && days > 0, "--decisions and --days must be at least 1");
    let dir = tempfile::tempdir()?;
    let store = steward_store::open(dir.path(), database_url)?;
    let templates = templates(&store)?;
    let end = Utc::now();
    let start = end - Duration::days(i64::from(days));
    let filling = Instant::now();
    let step = Duration::days(i64::from(days)).num_microseconds().unwrap_or(i64::MAX) / decisions as i64;
    for first in (0..decisions).step_by(BATCH) {
        let mut batch = Batch::default();
        for i in first..(first + BATCH).min(decisions) {
            let at = start + Duration::microseconds(step * i as i64);
            add(&mut batch, i, &templates[i % templates.len()], at);
        }
        store.commit(&batch)?;
    }
    let fill_seconds = filling.elapsed().as_secs_f64();
    let whole = Period::new(start, end + Duration::seconds(1)).expect("a period of days");
    let week = Period::new(end - Duration::days(7), end + Duration::seconds(1)).expect("a week");
    let cpu = cpu_seconds();
    let (whole_ms, report) = best_of_three(store.as_ref(), whole)?;
    let whole_cpu_ms = (cpu_seconds() - cpu) * 1000.0 / 3.0;
    ensure!(report.decisions.total as usize >= decisions, "the report counted {} decisions", report.decisions.total);
    let (week_ms, _) = best_of_three(store.as_ref(), week)?;
    println!(
        "{}",
        json!({
            "bench": "report",
            "backend": store.backend(),
            "decisions": report.decisions.total,
            "days": days,
            "fill_seconds": fill_seconds,
            "report_ms": whole_ms,
            "report_cpu_ms_mean": whole_cpu_ms,
            "last_week_report_ms": week_ms,
            "html_bytes": render(&report, Format::Html).len(),
            "appeals": report.appeals.received,
            "reports": report.reports.total,
        })
    );
    Ok(())
}

/// The best of three runs of the report over `period`, counting and rendering, in ms.
fn best_of_three(store: &dyn Store, period: Period) -> Result<(f64, Transparency)> {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..3 {
        let started = Instant::now();
        let report = Transparency::build(store, period, Utc::now())?;
        let _ = render(&report, Format::Html);
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
        last = Some(report);
    }
    Ok((best, last.expect("three runs")))
}

/// CPU seconds this process has used (user and system): on a shared machine, steadier
/// than the time on the clock. With PostgreSQL the server's share is not in it.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Decisions the engine makes on synthetic posts, to copy.
fn templates(store: &Arc<dyn Store>) -> Result<Vec<Decision>> {
    let policy = Arc::new(steward_engine::default_policy().map_err(|e| anyhow::anyhow!("{e}"))?);
    let mut engine = Engine::open(store.clone(), policy, Default::default())?;
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let events: Vec<String> = (0..200).map(|i| crate::bench::synthetic_event(i, &at)).collect();
    let records: Vec<RawRecord> = events.iter().map(|e| RawRecord { bytes: e.as_bytes(), line: None }).collect();
    let decisions = engine.ingest(&records)?.decisions;
    ensure!(!decisions.is_empty(), "the synthetic posts made no decision to copy");
    Ok(decisions)
}

/// Decision `i`, a copy of `template` made at `at` on a post of its own; every hundredth
/// reported, overturned on appeal or upheld, with its case.
fn add(batch: &mut Batch, i: usize, template: &Decision, at: DateTime<Utc>) {
    let (post, account) = (format!("bp{i}"), format!("ba{}", i % 5000));
    let mut d = template.clone();
    d.id = format!("{}@bench-{i}", d.rule_id);
    d.event_id = format!("bench-{i}");
    d.post_id = Some(post.clone());
    d.account_id = Some(account.clone());
    d.decided_at = at;
    for r in &mut d.restrictions {
        let length = r.end.map(|end| end - r.start);
        r.decision_id = d.id.clone();
        r.account_id = account.clone();
        r.post_id = r.post_id.as_ref().map(|_| post.clone());
        r.start = at;
        r.end = length.map(|l| at + l);
    }
    batch.restrictions.extend(d.restrictions.iter().cloned());
    batch.entities.push(EntityRow {
        kind: "post",
        id: post.clone(),
        account_id: Some(account.clone()),
        body: json!({"id": post, "account_id": account, "kind": KINDS[i % KINDS.len()], "text": "x"}).to_string(),
        deleted: false,
        updated_at: at,
    });
    if i.is_multiple_of(100) {
        review(batch, i, &d, at);
    }
    batch.decisions.push(d);
}

fn review(batch: &mut Batch, i: usize, d: &Decision, at: DateTime<Utc>) {
    let case_id = format!("bench-case-{i}");
    let later = at + Duration::hours(1 + (i % 48) as i64);
    let overturned = i.is_multiple_of(300);
    let outcome = if overturned { "overturned" } else { "upheld" };
    let account = d.account_id.clone().unwrap_or_default();
    batch.review.push(ReviewWrite::Case(Case {
        id: case_id.clone(),
        subject: Subject::new(SubjectKind::Post, d.post_id.clone().unwrap_or_default()),
        queue: "appeals".into(),
        state: CaseState::Resolved,
        version: 3,
        priority: 1.0,
        category: d.category.clone(),
        account_id: Some(account.clone()),
        decisions: vec![d.id.clone()],
        reports: vec![format!("bench-report-{i}")],
        appeals: vec![format!("bench-appeal-{i}")],
        reporters: 1,
        reporter_weight: 1.0,
        reach: 100,
        claim: None,
        opened_at: at,
        updated_at: later,
        resolved_at: Some(later),
        outcome: Some(outcome.into()),
    }));
    batch.review.push(ReviewWrite::Report(CaseReport {
        id: format!("bench-report-{i}"),
        reporter_id: format!("u{}", i % 700),
        subject: Subject::new(SubjectKind::Post, d.post_id.clone().unwrap_or_default()),
        reason: d.category.clone(),
        text: String::new(),
        at,
        case_id: Some(case_id.clone()),
        state: if overturned { ReportState::Dismissed } else { ReportState::Upheld },
        weight: 1.0,
    }));
    batch.review.push(ReviewWrite::Entry(CaseEntry {
        case_id: case_id.clone(),
        at: later,
        actor: "k_bench".into(),
        action: outcome.into(),
        reason: "bench".into(),
        version: 3,
        detail: json!({}),
    }));
    batch.review.push(ReviewWrite::Appeal(AppealFiled {
        id: format!("bench-appeal-{i}"),
        decision_id: d.id.clone(),
        account_id: account.clone(),
        text: "bench".into(),
        filed_at: at,
        case_id: case_id.clone(),
        state: if overturned { AppealState::Overturned } else { AppealState::Upheld },
        decided_by: Some("k_bench".into()),
        decided_at: Some(later),
        reason: "bench".into(),
    }));
    if overturned {
        batch.review.push(ReviewWrite::Reversal(Reversal {
            decision_id: d.id.clone(),
            account_id: Some(account),
            at: later,
            by: "k_bench".into(),
            reason: "bench".into(),
            case_id,
        }));
    }
}
