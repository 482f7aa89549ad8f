//! The report as one self-contained HTML page: inline CSS, no script, nothing loaded from
//! elsewhere; headings per section, tables with captions, SVG charts each followed by a
//! table of its numbers. Every value is escaped (maud escapes what it interpolates).

use maud::{DOCTYPE, Markup, PreEscaped, html};
use steward_store::transparency::Length;

use crate::chart::{self, Bar};
use crate::transparency::{Count, Precision, Step, Transparency, rule_name};

const STYLE: &str = r#"
:root{color-scheme:light dark;--fg:#1b1f24;--muted:#57606a;--bar:#2f6fb0;--line:#d0d7de;--bg:#fff}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9da7b3;--bar:#5a9be0;--line:#30363d;--bg:#0d1117}}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI","PingFang SC","Noto Sans CJK SC",sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.8rem;margin:.5rem 0}
h2{font-size:1.35rem;margin-top:2.5rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}
h3{font-size:1.1rem;margin-top:1.5rem}
a{color:var(--bar)}
nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;padding:0;list-style:none}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.75rem;margin:1rem 0}
.figures div{border:1px solid var(--line);border-radius:.5rem;padding:.5rem .75rem}
dt{color:var(--muted);font-size:.875rem}
dd{margin:0;font-size:1.4rem;font-weight:600}
.table{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
tbody th{font-weight:normal}
th,td{overflow-wrap:anywhere}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
figure{margin:1rem 0}
figcaption{font-weight:600}
svg{width:100%;height:auto;display:block;margin:.5rem 0}
svg.columns{max-width:48rem}
svg.rows{max-width:36rem}
.bar{fill:var(--bar)}
.axis{stroke:var(--line)}
svg text{fill:var(--muted)}
@media (max-width:30rem){body{font-size:15px}main{padding:.75rem}th,td{padding:.25rem .3rem}}
.muted{color:var(--muted)}
article{border-left:3px solid var(--line);padding-left:.75rem;margin:1rem 0}
"#;

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 { "–".into() } else { format!("{:.1}%", 100.0 * part as f64 / whole as f64) }
}

fn rate(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{:.1}%", 100.0 * v))
}

fn bars(counts: &[Count]) -> Vec<Bar> {
    counts.iter().map(|c| Bar { label: c.key.clone(), value: c.count }).collect()
}

/// A table of counts with their share of `total`.
fn count_table(caption: &str, key: &str, unit: &str, counts: &[Count], total: u64) -> Markup {
    html! {
        div.table {
            table {
                caption { (caption) }
                thead { tr { th scope="col" { (key) } th.n scope="col" { (unit) } th.n scope="col" { "share" } } }
                tbody {
                    @for c in counts {
                        tr { th scope="row" { (c.key) } td.n { (c.count) } td.n { (percent(c.count, total)) } }
                    }
                    @if counts.is_empty() { tr { td colspan="3" .muted { "None in the period." } } }
                }
            }
        }
    }
}

fn precision_table(caption: &str, key: &str, rows: &[Precision], name: fn(&str) -> &str) -> Markup {
    html! {
        div.table {
            table {
                caption { (caption) }
                thead { tr {
                    th scope="col" { (key) } th.n scope="col" { "decisions" } th.n scope="col" { "reversed" }
                    th.n scope="col" { "appeals" } th.n scope="col" { "decided" } th.n scope="col" { "overturned" }
                    th.n scope="col" { "overturn rate" }
                } }
                tbody {
                    @for p in rows {
                        tr {
                            th scope="row" { (name(&p.key)) } td.n { (p.decisions) } td.n { (p.reversed) }
                            td.n { (p.appeals) } td.n { (p.appeals_decided) } td.n { (p.appeals_overturned) }
                            td.n { (rate(p.overturn_rate)) }
                        }
                    }
                    @if rows.is_empty() { tr { td colspan="7" .muted { "None in the period." } } }
                }
            }
        }
    }
}

fn figure(label: &str, value: impl std::fmt::Display) -> Markup {
    html! { div { dt { (label) } dd { (value) } } }
}

fn length_name(l: Length) -> &'static str {
    match l {
        Length::UpToDay => "up to 1 day",
        Length::UpToWeek => "up to 7 days",
        Length::UpToMonth => "up to 30 days",
        Length::Longer => "over 30 days",
        Length::Permanent => "no end",
    }
}

pub fn render(r: &Transparency) -> String {
    let d = &r.decisions;
    let step = match d.over_time.step {
        Step::Day => "day",
        Step::Week => "week (from Monday)",
        Step::Month => "month",
        Step::Year => "year",
    };
    let over_time: Vec<Bar> =
        d.over_time.points.iter().map(|p| Bar { label: p.start.to_string(), value: p.count }).collect();
    let rp = &r.reports;
    let a = &r.appeals;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Transparency report, " (r.period) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    header {
                        h1 { "Transparency report" }
                        p { "What this platform decided about content and accounts from " (r.period) ", how much of it people decided or reviewed, and how often review found it wrong." }
                        p.muted { "Made by steward on " (r.generated_at.format("%Y-%m-%d %H:%M UTC")) "." }
                        nav aria-label="Sections" {
                            ul {
                                li { a href="#decisions" { "Decisions" } }
                                li { a href="#automation" { "Automated and human" } }
                                li { a href="#reports" { "User reports" } }
                                li { a href="#appeals" { "Appeals and precision" } }
                                li { a href="#restrictions" { "Restrictions" } }
                                li { a href="#cases" { "Example cases" } }
                                li { a href="#method" { "How this is counted" } }
                            }
                        }
                    }
                    section #decisions aria-labelledby="decisions-h" {
                        h2 #decisions-h { "Decisions" }
                        dl.figures {
                            (figure("Decisions", d.total))
                            (figure("Made automatically", d.automated))
                            (figure("Made by a person", d.by_a_person))
                            (figure("Since overturned", d.reversed))
                        }
                        figure {
                            figcaption #over-time-caption { "Decisions per " (step) }
                            (chart::columns("over-time", &format!("Decisions per {step}"), "decisions", &over_time))
                            details {
                                summary { "The numbers of this chart" }
                                div.table {
                                    table {
                                        caption { "Decisions per " (step) }
                                        thead { tr { th scope="col" { (step) } th.n scope="col" { "decisions" } } }
                                        tbody {
                                            @for p in &d.over_time.points { tr { th scope="row" { (p.start) } td.n { (p.count) } } }
                                        }
                                    }
                                }
                            }
                        }
                        figure {
                            figcaption { "Decisions by category" }
                            (chart::rows("by-category", "Decisions by category", "decisions", &bars(&d.by_category)))
                            (count_table("Decisions by category", "category", "decisions", &d.by_category, d.total))
                        }
                        h3 { "By ground" }
                        (count_table("Decisions by the rule or law relied on", "ground", "decisions", &d.by_ground, d.total))
                        h3 { "By action" }
                        (count_table("Actions taken (a decision counts once for each of its actions)", "action", "actions", &d.by_action, d.total))
                        h3 { "By content" }
                        (count_table("Decisions by what was decided on", "content", "decisions", &d.by_content, d.total))
                    }
                    section #automation aria-labelledby="automation-h" {
                        h2 #automation-h { "Automated and human decisions" }
                        div.table {
                            table {
                                caption { "Who decided" }
                                thead { tr { th scope="col" { "decisions" } th.n scope="col" { "count" } th.n scope="col" { "share" } } }
                                tbody {
                                    tr { th scope="row" { "made automatically, with no person" } td.n { (d.automated) } td.n { (percent(d.automated, d.total)) } }
                                    tr { th scope="row" { "made by a person" } td.n { (d.by_a_person) } td.n { (percent(d.by_a_person, d.total)) } }
                                    tr { th scope="row" { "found by automated detection" } td.n { (d.automated_detection) } td.n { (percent(d.automated_detection, d.total)) } }
                                }
                            }
                        }
                        (count_table("Moderators' decisions on cases", "action", "cases", &r.reviews.by_action, r.reviews.total))
                    }
                    section #reports aria-labelledby="reports-h" {
                        h2 #reports-h { "User reports" }
                        dl.figures {
                            (figure("Reports", rp.total))
                            (figure("Acted on by a moderator", rp.acted_on))
                            (figure("Median time to action", rp.median_hours_to_action.map_or_else(|| "–".to_string(), hours)))
                        }
                        div.table {
                            table {
                                caption { "Reports by source and outcome" }
                                thead { tr { th scope="col" { "source" } th scope="col" { "outcome" } th.n scope="col" { "reports" } } }
                                tbody {
                                    @for so in &rp.by_source_and_outcome {
                                        tr { th scope="row" { (source_name(&so.source)) } td { (so.outcome) } td.n { (so.count) } }
                                    }
                                    @if rp.by_source_and_outcome.is_empty() { tr { td colspan="3" .muted { "None in the period." } } }
                                }
                            }
                        }
                        (count_table("Reports by outcome", "outcome", "reports", &rp.by_outcome, rp.total))
                    }
                    section #appeals aria-labelledby="appeals-h" {
                        h2 #appeals-h { "Appeals and precision" }
                        dl.figures {
                            (figure("Appeals received", a.received))
                            (figure("Decided", a.decided))
                            (figure("Overturned", a.overturned))
                            (figure("Overturn rate", rate(a.overturn_rate)))
                        }
                        p { "How the decisions of each rule and detector fared when people looked again: reversed on appeal or on review, and the share of decided appeals that were granted." }
                        (precision_table("By rule", "rule", &a.by_rule, rule_name))
                        (precision_table("By detector", "detector", &a.by_detector, |k| k))
                    }
                    section #restrictions aria-labelledby="restrictions-h" {
                        h2 #restrictions-h { "Restrictions by length" }
                        div.table {
                            table {
                                caption { "Restrictions that started in the period, by the length they were set for" }
                                thead { tr {
                                    th scope="col" { "restriction" }
                                    @for l in Length::ALL { th.n scope="col" { (length_name(l)) } }
                                    th.n scope="col" { "all" }
                                } }
                                tbody {
                                    @for row in &r.restrictions {
                                        tr {
                                            th scope="row" { (row.kind) }
                                            @for l in Length::ALL { td.n { (row.get(l)) } }
                                            td.n { (row.total) }
                                        }
                                    }
                                    @if r.restrictions.is_empty() { tr { td colspan="7" .muted { "None in the period." } } }
                                }
                            }
                        }
                    }
                    section #cases aria-labelledby="cases-h" {
                        h2 #cases-h { "Example cases" }
                        p.muted { "Cases decided in the period, told without anything that identifies a person: no names, accounts, texts, links or exact times." }
                        @for (i, c) in r.cases.iter().enumerate() {
                            article aria-labelledby=(format!("case-{}", i + 1)) {
                                h3 #(format!("case-{}", i + 1)) { "Case " (i + 1) ", " (c.month) ": " (c.outcome) }
                                p { (c.summary) }
                            }
                        }
                        @if r.cases.is_empty() { p.muted { "No case was decided in the period." } }
                    }
                    section #method aria-labelledby="method-h" {
                        h2 #method-h { "How this is counted" }
                        ul {
                            li { "Decisions are counted when made, reports and appeals when filed, restrictions when they start, moderators' actions when taken; all in UTC." }
                            li { "Only decisions in force count: rules being tried out in shadow enforce nothing and are left out." }
                            li { "“Since overturned” and “reversed” count the period's decisions a person has reversed by the time of this report, on appeal or on review." }
                            li { "The time to action runs from a report to the first moderator's decision on its case (uphold, overturn, modify, dismissal of reports)." }
                            li { "Reports filed through the platform's API and reports sent in its event stream are told apart by source." }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

fn hours(h: f64) -> String {
    if h < 1.0 {
        format!("{:.0} minutes", h * 60.0)
    } else if h < 48.0 {
        format!("{h:.1} hours")
    } else {
        format!("{:.1} days", h / 24.0)
    }
}

fn source_name(s: &str) -> &str {
    match s {
        "api" => "platform API",
        "event" => "event stream",
        other => other,
    }
}
