//! Reports over steward's store, as pure functions of what it holds.
//!
//! [`Transparency`] is the transparency report of a [`Period`]: decisions by category,
//! ground, action and content; automated against human; user reports by source and
//! outcome with the median time to action; appeals and the overturn rate per rule and
//! per detector; restrictions by length; and a few decided cases written up for the
//! public ([`public_cases`]). The store aggregates (`Store::transparency_counts`, SQL
//! `GROUP BY`); [`Transparency::from_counts`] shapes; [`render`] writes JSON, CSV
//! ([`csv`], long format) or one self-contained HTML page with SVG charts ([`html`]).
//!
//! ```no_run
//! use steward_report::{Format, Period, Transparency, render};
//! let store = steward_store::open(std::path::Path::new("steward-data"), None).unwrap();
//! let period = Period::parse(("--from", "2026-11-01"), ("--to", "2026-11-30")).unwrap();
//! let report = Transparency::build(store.as_ref(), period, chrono::Utc::now()).unwrap();
//! std::fs::write("transparency.html", render(&report, Format::Html)).unwrap();
//! ```

mod chart;
pub mod csv;
pub mod html;
pub mod period;
pub mod public_cases;
pub mod transparency;

pub use period::{Period, PeriodError};
pub use transparency::Transparency;

/// How a report is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One self-contained page.
    Html,
    /// The [`Transparency`] value, pretty-printed.
    Json,
    /// Long format, `section,key,field,value`.
    Csv,
}

impl Format {
    /// Reads `html`, `json` or `csv`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "html" => Some(Format::Html),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// The media type of what [`render`] writes.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// The report written out in `format`.
pub fn render(report: &Transparency, format: Format) -> String {
    match format {
        Format::Html => html::render(report),
        // A report is plain data: it always serializes.
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default(),
        Format::Csv => csv::render(report),
    }
}
