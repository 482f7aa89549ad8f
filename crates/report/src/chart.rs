//! Bar charts as inline SVG: no script, nothing loaded. Every bar is its own
//! `<rect class="bar">` with a `<title>` giving its label and value (shown on hover, read by
//! screen readers and tests) and the value in `data-value`. The chart scales to its box
//! through its `viewBox`; the page puts a table of the same numbers beside it.

use maud::{Markup, html};

const WIDTH: f64 = 640.0;

/// One bar: its label and value.
pub struct Bar {
    pub label: String,
    pub value: u64,
}

/// Columns over time, left to right, labelled under the first, the middle and the last.
/// `id` names the chart's title and description for `aria-labelledby`.
pub fn columns(id: &str, title: &str, unit: &str, bars: &[Bar]) -> Markup {
    let (height, left, bottom, top) = (240.0, 48.0, 32.0, 12.0);
    let plot_w = WIDTH - left - 8.0;
    let plot_h = height - bottom - top;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let slot = plot_w / bars.len().max(1) as f64;
    let gap = if slot > 4.0 { slot * 0.15 } else { 0.0 };
    let labelled = |i: usize| i == 0 || i + 1 == bars.len() || (bars.len() > 2 && i == bars.len() / 2);
    html! {
        svg.columns viewBox=(format!("0 0 {WIDTH} {height}")) font-size="15" role="img"
            aria-labelledby=(format!("{id}-title {id}-desc")) {
            title id=(format!("{id}-title")) { (title) }
            desc id=(format!("{id}-desc")) { (description(unit, bars)) }
            line.axis x1=(left) y1=(top + plot_h) x2=(WIDTH - 8.0) y2=(top + plot_h) {}
            text x=(left - 6.0) y=(top + 12.0) text-anchor="end" { (max as u64) }
            text x=(left - 6.0) y=(top + plot_h) text-anchor="end" { "0" }
            @for (i, b) in bars.iter().enumerate() {
                @let h = plot_h * b.value as f64 / max;
                rect.bar x=(px(left + slot * i as f64 + gap / 2.0)) y=(px(top + plot_h - h)) width=(px(slot - gap)) height=(px(h))
                    data-value=(b.value) {
                    title { (b.label) ": " (b.value) " " (unit) }
                }
                @if labelled(i) {
                    // The first and last labels align with the plot's edges, so neither is cut.
                    @let (x, anchor) = match i {
                        0 => (left, "start"),
                        _ if i + 1 == bars.len() => (WIDTH - 8.0, "end"),
                        _ => (left + slot * (i as f64 + 0.5), "middle"),
                    };
                    text x=(px(x)) y=(height - 8.0) text-anchor=(anchor) { (b.label) }
                }
            }
        }
    }
}

/// Horizontal bars, one a row, each under its label with its value at its end: long
/// labels stay readable on a narrow screen.
pub fn rows(id: &str, title: &str, unit: &str, bars: &[Bar]) -> Markup {
    let (width, row, label, bar_h, right) = (480.0, 44.0, 16.0, 16.0, 64.0);
    let height = (row * bars.len() as f64).max(row);
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let plot_w = width - right;
    html! {
        svg.rows viewBox=(format!("0 0 {width} {height}")) font-size="15" role="img"
            aria-labelledby=(format!("{id}-title {id}-desc")) {
            title id=(format!("{id}-title")) { (title) }
            desc id=(format!("{id}-desc")) { (description(unit, bars)) }
            @for (i, b) in bars.iter().enumerate() {
                @let y = row * i as f64;
                @let w = plot_w * b.value as f64 / max;
                text x="0" y=(px(y + label)) { (b.label) }
                rect.bar x="0" y=(px(y + label + 4.0)) width=(px(w)) height=(bar_h) data-value=(b.value) {
                    title { (b.label) ": " (b.value) " " (unit) }
                }
                text x=(px(w + 6.0)) y=(px(y + label + 4.0 + bar_h - 3.0)) { (b.value) }
            }
        }
    }
}

/// Coordinates to a tenth of a unit: enough for a screen, short in the page.
fn px(v: f64) -> String {
    let v = (v * 10.0).round() / 10.0;
    format!("{v}")
}

fn description(unit: &str, bars: &[Bar]) -> String {
    let total: u64 = bars.iter().map(|b| b.value).sum();
    format!("{} bars, {total} {unit} in all; the table that follows gives every value.", bars.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bar_is_a_rect_with_its_value() {
        let bars = vec![
            Bar { label: "2026-11-01".into(), value: 3 },
            Bar { label: "2026-11-02".into(), value: 0 },
            Bar { label: "<script>".into(), value: 7 },
        ];
        for svg in [columns("c", "Decisions", "decisions", &bars), rows("r", "By category", "decisions", &bars)] {
            let svg = svg.into_string();
            assert_eq!(svg.matches("<rect class=\"bar\"").count(), 3, "{svg}");
            assert!(svg.contains("<title>2026-11-01: 3 decisions</title>"), "{svg}");
            assert!(svg.contains("data-value=\"0\""), "a zero is a bar too: {svg}");
            assert!(svg.contains("&lt;script&gt;: 7") && !svg.contains("<script>"), "{svg}");
        }
        // The tallest bar fills the plot; the others are in proportion.
        let svg = columns("c", "t", "u", &bars).into_string();
        assert!(svg.contains("height=\"196\" data-value=\"7\""), "{svg}");
    }
}
