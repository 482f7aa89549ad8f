//! The answer to an ingest request, bounded whatever the body held: counts, the first
//! rejections in full and the rest counted by field and reason, the first decisions in full
//! and every decision's id. A body of millions of bad records answers in kilobytes.

use std::collections::BTreeMap;

use serde::Serialize;
use steward_engine::{IngestOutcome, Rejection};
use steward_model::Decision;

use crate::Limits;

/// What an ingest request did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct IngestAnswer {
    pub accepted: usize,
    pub duplicates: usize,
    /// The first rejections (`listed_rejections`, 100 by default), each with its index,
    /// line, field and reason.
    pub rejected: Vec<Rejection>,
    /// Every rejection, listed or not.
    pub rejected_total: usize,
    /// When not every rejection is listed: all of them counted by field and reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected_by_reason: Vec<ReasonCount>,
    /// The first live decisions (`inline_decisions`, 100 by default) in full; the others
    /// are read by id at `GET /v1/decisions/{id}`.
    pub decisions: Vec<Decision>,
    /// Every live decision, by id, in the order made.
    pub decision_ids: Vec<String>,
    /// Live decisions by rule.
    pub decisions_by_rule: BTreeMap<String, usize>,
    /// Would-be decisions of rules in shadow (recorded, not enforced; read them with
    /// `GET /v1/decisions?shadow=true`).
    pub shadow_decisions: usize,
}

/// How many rejections had one field and reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReasonCount {
    pub field: String,
    /// The first of these messages. Messages that differ only in the values they quote
    /// (text in quotes, numbers) count as one reason.
    pub error: String,
    pub count: usize,
}

/// A rejection message without the values it quotes, which vary from record to record:
/// text in double quotes or backticks after the field's own name becomes `"…"`, and runs of
/// digits `#`. Used as a key only: "RFC 3339" becomes "RFC #" in both messages it compares.
fn reason_shape(error: &str) -> String {
    // The field's name, in backticks, leads the message; keep it as it is.
    let (head, rest) = match error.strip_prefix("field `").and_then(|r| r.find("`: ").map(|i| i + 10)) {
        Some(end) => error.split_at(end),
        None => ("", error),
    };
    let mut out = String::with_capacity(error.len());
    out.push_str(head);
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '`' => {
                // To the closing quote, past escaped quotes; an unclosed quote elides the rest.
                let mut escaped = false;
                for d in chars.by_ref() {
                    if d == c && !escaped {
                        break;
                    }
                    escaped = d == '\\' && !escaped;
                }
                out.push(c);
                out.push('…');
                out.push(c);
            }
            '0'..='9' => {
                while chars.next_if(|d| d.is_ascii_digit()).is_some() {}
                out.push('#');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Builds an [`IngestAnswer`] from the outcomes of a request's slices, in order.
#[derive(Debug)]
pub struct AnswerBuilder {
    answer: IngestAnswer,
    /// Rejections by field, then by [`reason_shape`]: the first message and the count.
    counts: BTreeMap<String, BTreeMap<String, (String, usize)>>,
    /// Distinct (field, message) pairs in `counts`.
    reasons: usize,
    /// Rejections whose reason came after `rejection_reasons` distinct ones.
    other_reasons: usize,
    limits: Limits,
}

/// The key under which reasons past the bound are counted.
const OTHER: &str = "(other reasons)";

impl AnswerBuilder {
    pub fn new(limits: Limits) -> Self {
        AnswerBuilder { answer: IngestAnswer::default(), counts: BTreeMap::new(), reasons: 0, other_reasons: 0, limits }
    }

    /// Adds one slice's outcome; `base` is the index in the body of the slice's first record.
    pub fn add(&mut self, outcome: IngestOutcome, base: usize) {
        let a = &mut self.answer;
        a.accepted += outcome.accepted;
        a.duplicates += outcome.duplicates;
        a.shadow_decisions += outcome.shadow_decisions;
        for mut r in outcome.rejected {
            a.rejected_total += 1;
            let shape = reason_shape(&r.error);
            // Looked up by reference: most rejections of a large body repeat a reason.
            match self.counts.get_mut(&r.field).and_then(|by_error| by_error.get_mut(&shape)) {
                Some((_, n)) => *n += 1,
                None if self.reasons < self.limits.rejection_reasons => {
                    self.counts.entry(r.field.clone()).or_default().insert(shape, (r.error.clone(), 1));
                    self.reasons += 1;
                }
                None => self.other_reasons += 1,
            }
            if a.rejected.len() < self.limits.listed_rejections {
                r.index += base;
                a.rejected.push(r);
            }
        }
        for d in outcome.decisions {
            *a.decisions_by_rule.entry(d.rule_id.clone()).or_default() += 1;
            a.decision_ids.push(d.id.clone());
            if a.decisions.len() < self.limits.inline_decisions {
                a.decisions.push(d);
            }
        }
    }

    pub fn finish(self) -> IngestAnswer {
        let mut answer = self.answer;
        if answer.rejected.len() < answer.rejected_total {
            answer.rejected_by_reason = self
                .counts
                .into_iter()
                .flat_map(|(field, by_error)| {
                    by_error.into_values().map(move |(error, count)| ReasonCount { field: field.clone(), error, count })
                })
                .chain((self.other_reasons > 0).then(|| ReasonCount {
                    field: OTHER.into(),
                    error: OTHER.into(),
                    count: self.other_reasons,
                }))
                .collect();
            answer.rejected_by_reason.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.field.cmp(&b.field)));
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(index: usize, field: &str) -> Rejection {
        Rejection { index, line: None, field: field.into(), error: format!("field `{field}`: bad") }
    }

    #[test]
    fn rejections_past_the_bound_are_counted_not_listed() {
        let limits = Limits { listed_rejections: 3, rejection_reasons: 2, ..Limits::default() };
        let mut b = AnswerBuilder::new(limits);
        for slice in 0..4 {
            let rejected = (0..5).map(|i| rejection(i, ["a", "b", "c"][i % 3])).collect();
            b.add(IngestOutcome { accepted: 1, rejected, ..Default::default() }, slice * 6);
        }
        let a = b.finish();
        assert_eq!((a.accepted, a.rejected_total, a.rejected.len()), (4, 20, 3));
        assert_eq!(a.rejected.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1, 2]);
        let counts: Vec<(&str, usize)> = a.rejected_by_reason.iter().map(|c| (c.field.as_str(), c.count)).collect();
        assert_eq!(counts, [("a", 8), ("b", 8), (OTHER, 4)]);

        // All listed: no counts.
        let mut b = AnswerBuilder::new(Limits::default());
        b.add(IngestOutcome { rejected: vec![rejection(0, "at")], ..Default::default() }, 10);
        let a = b.finish();
        assert_eq!((a.rejected[0].index, a.rejected_by_reason.len()), (10, 0));
    }

    #[test]
    fn bad_values_of_one_kind_count_as_one_reason() {
        let limits = Limits { listed_rejections: 0, ..Limits::default() };
        let mut b = AnswerBuilder::new(limits);
        let rejected = (0..300)
            .map(|i| Rejection {
                index: i,
                line: None,
                field: "at".into(),
                error: format!("field `at`: \"{i}x\\\"y\" is not an RFC 3339 time (input is out of range at {i})"),
            })
            .chain([Rejection {
                index: 300,
                line: Some(7),
                field: "(record)".into(),
                error: "invalid UTF-8 at byte 12".into(),
            }])
            .collect();
        b.add(IngestOutcome { rejected, ..Default::default() }, 0);
        let a = b.finish();
        let counts: Vec<(&str, &str, usize)> =
            a.rejected_by_reason.iter().map(|c| (c.field.as_str(), c.error.as_str(), c.count)).collect();
        assert_eq!(
            counts,
            [
                ("at", "field `at`: \"0x\\\"y\" is not an RFC 3339 time (input is out of range at 0)", 300),
                ("(record)", "invalid UTF-8 at byte 12", 1),
            ]
        );
    }
}
