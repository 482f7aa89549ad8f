//! JSON text for the write path, written straight into a buffer: strings, times and a
//! whole decision, byte for byte as `serde_json` writes them (the tests compare), without
//! going through the formatting machinery. A decision is mostly long strings (its ground,
//! reasons and appeal instructions, in Chinese and English): they are scanned eight bytes
//! at a time for the few bytes JSON escapes.

use chrono::{DateTime, Datelike, Timelike, Utc};
use steward_model::{Decision, Restriction};

/// Appends `s` as a JSON string, escaped as `serde_json` escapes it: `"` and `\`, the
/// short forms `\b \t \n \f \r`, and `\u00xx` for the other control characters.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes.get(i..i + 8)
            && !any_escaped(u64::from_le_bytes(word.try_into().unwrap_or_default()))
        {
            i += 8;
            continue;
        }
        let b = bytes[i];
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0A => b'n',
            0x0C => b'f',
            0x0D => b'r',
            0x00..=0x1F => 0,
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        if short != 0 {
            out.extend_from_slice(&[b'\\', short]);
        } else {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xF) as usize]]);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the eight bytes is a control character, `"` or `\` (exact: the classic
/// "has a byte less than n" and "has a zero byte" tests).
fn any_escaped(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let b = w ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b;
    (control | quote | backslash) & HIGH != 0
}

/// Appends a time as `chrono` serializes a `DateTime<Utc>`: RFC 3339 with `Z` and as many
/// fractional digits as it needs (none, 3, 6 or 9).
pub fn write_time(out: &mut Vec<u8>, t: DateTime<Utc>) {
    let year = t.year();
    let nano = t.nanosecond();
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        // Out-of-range years and leap seconds: rare, left to chrono.
        let _ = serde_json::to_writer(out, &t);
        return;
    }
    let two = |out: &mut Vec<u8>, n: u32| out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
    out.push(b'"');
    two(out, year as u32 / 100);
    two(out, year as u32 % 100);
    out.push(b'-');
    two(out, t.month());
    out.push(b'-');
    two(out, t.day());
    out.push(b'T');
    two(out, t.hour());
    out.push(b':');
    two(out, t.minute());
    out.push(b':');
    two(out, t.second());
    let (digits, fraction) = match nano {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (3, n / 1_000_000),
        n if n % 1_000 == 0 => (6, n / 1_000),
        n => (9, n),
    };
    if digits > 0 {
        out.push(b'.');
        let mut buf = [b'0'; 9];
        let mut f = fraction;
        for slot in buf[..digits].iter_mut().rev() {
            *slot = b'0' + (f % 10) as u8;
            f /= 10;
        }
        out.extend_from_slice(&buf[..digits]);
    }
    out.extend_from_slice(b"Z\"");
}

fn write_opt_time(out: &mut Vec<u8>, t: Option<DateTime<Utc>>) {
    match t {
        Some(t) => write_time(out, t),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends `"key":` (keys here are plain identifiers).
fn key(out: &mut Vec<u8>, first: bool, key: &str) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn write_uint(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// A decision as JSON, exactly as `serde_json::to_string` writes it (fields in their
/// declared order, the same ones left out); values that are rarely long (the facts, the
/// actions) go through `serde_json`.
pub fn decision_json(d: &Decision) -> Result<String, serde_json::Error> {
    // Every field, so that a new one cannot be forgotten here.
    let Decision {
        id,
        event_id,
        account_id,
        post_id,
        rule_id,
        policy_version,
        ground,
        category,
        facts,
        automated_detection,
        automated_decision,
        actions,
        restrictions,
        credit_deducted,
        explanation,
        appeal,
        decided_at,
        shadow,
    } = d;
    let mut out =
        Vec::with_capacity(512 + ground.len() + explanation.len() + appeal.how.len() + 256 * restrictions.len());
    out.push(b'{');
    key(&mut out, true, "id");
    write_str(&mut out, id);
    key(&mut out, false, "event_id");
    write_str(&mut out, event_id);
    if let Some(a) = account_id {
        key(&mut out, false, "account_id");
        write_str(&mut out, a);
    }
    if let Some(p) = post_id {
        key(&mut out, false, "post_id");
        write_str(&mut out, p);
    }
    key(&mut out, false, "rule_id");
    write_str(&mut out, rule_id);
    key(&mut out, false, "policy_version");
    write_str(&mut out, policy_version);
    key(&mut out, false, "ground");
    write_str(&mut out, ground);
    key(&mut out, false, "category");
    write_str(&mut out, category);
    key(&mut out, false, "facts");
    serde_json::to_writer(&mut out, facts)?;
    key(&mut out, false, "automated_detection");
    out.extend_from_slice(if *automated_detection { b"true" } else { b"false" });
    key(&mut out, false, "automated_decision");
    out.extend_from_slice(if *automated_decision { b"true" } else { b"false" });
    key(&mut out, false, "actions");
    serde_json::to_writer(&mut out, actions)?;
    key(&mut out, false, "restrictions");
    out.push(b'[');
    for (i, r) in restrictions.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_restriction(&mut out, r);
    }
    out.push(b']');
    key(&mut out, false, "credit_deducted");
    write_uint(&mut out, u64::from(*credit_deducted));
    key(&mut out, false, "explanation");
    write_str(&mut out, explanation);
    key(&mut out, false, "appeal");
    out.push(b'{');
    key(&mut out, true, "how");
    write_str(&mut out, &appeal.how);
    key(&mut out, false, "until");
    write_time(&mut out, appeal.until);
    out.push(b'}');
    key(&mut out, false, "decided_at");
    write_time(&mut out, *decided_at);
    if *shadow {
        key(&mut out, false, "shadow");
        out.extend_from_slice(b"true");
    }
    out.push(b'}');
    // Every piece written is UTF-8.
    Ok(String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// A restriction as it serializes: fields in declared order, no post and an empty detail
/// left out.
fn write_restriction(out: &mut Vec<u8>, r: &Restriction) {
    let Restriction { decision_id, account_id, post_id, kind, detail, start, end } = r;
    out.push(b'{');
    key(out, true, "decision_id");
    write_str(out, decision_id);
    key(out, false, "account_id");
    write_str(out, account_id);
    if let Some(p) = post_id {
        key(out, false, "post_id");
        write_str(out, p);
    }
    key(out, false, "kind");
    write_str(out, kind.as_str());
    if !detail.is_empty() {
        key(out, false, "detail");
        write_str(out, detail);
    }
    key(out, false, "start");
    write_time(out, *start);
    key(out, false, "end");
    write_opt_time(out, *end);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use serde_json::json;
    use steward_model::{Action, Appeal, RestrictionKind};

    fn text(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("标题党…【】🙂\u{2028}\u{7f}");
        let cases = [
            String::new(),
            "a".into(),
            "12345678".into(),
            "1234567\"".into(),
            "\"1234567".into(),
            "1234567\\x".into(),
            "网传某地自来水被污染，请大家转告家人不要饮用。\n第二行\t\"引号\"".into(),
            all.clone(),
            all.repeat(3),
        ];
        for s in cases {
            assert_eq!(text(&s), serde_json::to_string(&s).unwrap(), "{s:?}");
            // Every offset, so each byte is met both in a word and alone.
            for cut in 0..s.len().min(40) {
                if let Some(tail) = s.get(cut..) {
                    assert_eq!(text(tail), serde_json::to_string(tail).unwrap());
                }
            }
        }
    }

    #[test]
    fn any_escaped_finds_every_byte_that_needs_escaping() {
        for b in 0u8..=255 {
            for pos in 0..8 {
                let mut word = [b'a'; 8];
                word[pos] = b;
                let needs = b < 0x20 || b == b'"' || b == b'\\';
                assert_eq!(any_escaped(u64::from_le_bytes(word)), needs, "byte {b:#x} at {pos}");
            }
        }
    }

    #[test]
    fn times_are_written_as_chrono_serializes_them() {
        let base = Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap();
        let mut times = vec![
            base,
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ];
        for nanos in [1, 10, 999, 1_000, 120_000, 999_999, 1_000_000, 7_000_000, 123_456_789, 999_999_999] {
            times.push(base + Duration::nanoseconds(nanos));
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            times.push(DateTime::from_timestamp((x % 4_000_000_000) as i64, (x >> 34) as u32 % 1_000_000_000).unwrap());
        }
        for t in times {
            let mut out = Vec::new();
            write_time(&mut out, t);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&t).unwrap());
        }
    }

    fn decision(account: bool, post: bool, shadow: bool) -> Decision {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap() + Duration::nanoseconds(123_456_789);
        let restriction = |post: Option<&str>, kind, detail: &str, end| Restriction {
            decision_id: "r@e\"1".into(),
            account_id: "a\u{1}1".into(),
            post_id: post.map(str::to_string),
            kind,
            detail: detail.into(),
            start: at,
            end,
        };
        Decision {
            id: "r@e\"1".into(),
            event_id: "e\"1".into(),
            account_id: account.then(|| "a1".into()),
            post_id: post.then(|| "p1".into()),
            rule_id: "r".into(),
            policy_version: "v 1 — 版本".into(),
            ground: "《网络信息内容生态治理规定》 Art. 6(8)\n\"rumours\"".into(),
            category: "false_information".into(),
            facts: json!({"signals": [{"name": "x", "score": 0.25, "evidence": {"claim": "谣言\"", "n": [1, 2]}}]}),
            automated_detection: true,
            automated_decision: false,
            actions: vec![
                Action::Label { label: "debunked-claim".into() },
                Action::Demonetize { features: vec!["ads".into()], days: 30 },
                Action::DeductCredit { points: 2 },
            ],
            restrictions: vec![
                restriction(Some("p1"), RestrictionKind::Label, "标题党 \"x\"", None),
                restriction(Some("p1"), RestrictionKind::LimitReach, "", None),
                restriction(None, RestrictionKind::Monetization, "ads", Some(at + Duration::days(30))),
            ],
            credit_deducted: 4_000_000_000,
            explanation: "Your post repeats a claim… 已被辟谣\t(fact-check)".into(),
            appeal: Appeal { how: "Reply within 30 days.".into(), until: at + Duration::days(30) },
            decided_at: at,
            shadow,
        }
    }

    #[test]
    fn restriction_kinds_are_written_as_they_serialize() {
        use RestrictionKind::*;
        for kind in [Label, LimitReach, Removed, Posting, NewFollowers, Monetization, Suspended, Closed, Disclosure] {
            assert_eq!(text(kind.as_str()), serde_json::to_string(&kind).unwrap());
        }
    }

    #[test]
    fn a_decision_is_written_as_serde_json_writes_it() {
        for (account, post, shadow) in [(true, true, false), (true, false, true), (false, false, false)] {
            let mut d = decision(account, post, shadow);
            assert_eq!(decision_json(&d).unwrap(), serde_json::to_string(&d).unwrap());
            d.restrictions.clear();
            d.actions.clear();
            d.credit_deducted = 0;
            d.facts = json!({});
            assert_eq!(decision_json(&d).unwrap(), serde_json::to_string(&d).unwrap());
        }
    }
}
