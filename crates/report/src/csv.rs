//! The report as CSV in long format: one number (or word) a row, with the columns
//! `section,key,field,value`. `section` names the table (`decisions_by_category`,
//! `restrictions_by_length`, ...), `key` its row (a category, a rule, `all` for totals) and
//! `field` its column (`decisions`, `overturn_rate`, `up_to_7_days`, ...). Rates are
//! fractions; a rate or median with nothing to count is empty. One shape for every section,
//! so a spreadsheet's pivot table or `grep` reads any of them.

use steward_store::transparency::Length;

use crate::transparency::{Count, Precision, Transparency};

struct Rows(Vec<[String; 4]>);

impl Rows {
    fn push(&mut self, section: &str, key: &str, field: &str, value: impl ToString) {
        self.0.push([section.into(), key.into(), field.into(), value.to_string()]);
    }

    fn counts(&mut self, section: &str, field: &str, counts: &[Count]) {
        for c in counts {
            self.push(section, &c.key, field, c.count);
        }
    }

    fn precision(&mut self, section: &str, rows: &[Precision]) {
        for p in rows {
            self.push(section, &p.key, "decisions", p.decisions);
            self.push(section, &p.key, "reversed", p.reversed);
            self.push(section, &p.key, "appeals", p.appeals);
            self.push(section, &p.key, "appeals_decided", p.appeals_decided);
            self.push(section, &p.key, "appeals_overturned", p.appeals_overturned);
            self.push(section, &p.key, "overturn_rate", fraction(p.overturn_rate));
        }
    }
}

fn fraction(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v:.4}"))
}

/// The header line's columns.
pub const COLUMNS: [&str; 4] = ["section", "key", "field", "value"];

pub fn render(r: &Transparency) -> String {
    let mut rows = Rows(Vec::new());
    rows.push("period", "all", "from", r.period.from.to_rfc3339());
    rows.push("period", "all", "to", r.period.to.to_rfc3339());
    rows.push("period", "all", "generated_at", r.generated_at.to_rfc3339());
    let d = &r.decisions;
    rows.push("decisions", "all", "total", d.total);
    rows.push("decisions", "all", "automated", d.automated);
    rows.push("decisions", "all", "by_a_person", d.by_a_person);
    rows.push("decisions", "all", "automated_detection", d.automated_detection);
    rows.push("decisions", "all", "reversed", d.reversed);
    rows.counts("decisions_by_category", "decisions", &d.by_category);
    rows.counts("decisions_by_ground", "decisions", &d.by_ground);
    rows.counts("decisions_by_action", "actions", &d.by_action);
    rows.counts("decisions_by_content", "decisions", &d.by_content);
    for p in &d.over_time.points {
        rows.push("decisions_over_time", &p.start.to_string(), d.over_time.step.as_str(), p.count);
    }
    rows.push("reviews", "all", "total", r.reviews.total);
    rows.counts("reviews", "cases", &r.reviews.by_action);
    let rp = &r.reports;
    rows.push("reports", "all", "total", rp.total);
    rows.push("reports", "all", "acted_on", rp.acted_on);
    rows.push("reports", "all", "median_hours_to_action", fraction(rp.median_hours_to_action));
    for so in &rp.by_source_and_outcome {
        rows.push("reports_by_source_and_outcome", &so.source, &so.outcome, so.count);
    }
    let a = &r.appeals;
    rows.push("appeals", "all", "received", a.received);
    rows.push("appeals", "all", "decided", a.decided);
    rows.push("appeals", "all", "overturned", a.overturned);
    rows.push("appeals", "all", "pending", a.pending);
    rows.push("appeals", "all", "overturn_rate", fraction(a.overturn_rate));
    rows.precision("precision_by_rule", &a.by_rule);
    rows.precision("precision_by_detector", &a.by_detector);
    for l in &r.restrictions {
        for length in Length::ALL {
            rows.push("restrictions_by_length", &l.kind, length.as_str(), l.get(length));
        }
    }
    for (i, c) in r.cases.iter().enumerate() {
        let key = (i + 1).to_string();
        rows.push("example_cases", &key, "subject", &c.subject);
        rows.push("example_cases", &key, "category", c.category.as_deref().unwrap_or(""));
        rows.push("example_cases", &key, "outcome", &c.outcome);
        rows.push("example_cases", &key, "summary", &c.summary);
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    // Writing to memory fails only on a bug; the report is still whole text.
    let _ = out.write_record(COLUMNS);
    for row in &rows.0 {
        let _ = out.write_record(row);
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}
