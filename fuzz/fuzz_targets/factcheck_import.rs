//! Fact-check imports never panic, whatever the bytes: JSONL, ClaimReview, and a Cofacts
//! export whose three files are the input's NUL-separated parts.
#![no_main]

use chrono::FixedOffset;
use libfuzzer_sys::fuzz_target;
use steward_model::factcheck_import::{from_claim_review, from_cofacts, from_jsonl};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let offset = FixedOffset::east_opt(8 * 3600).expect("valid offset");
    from_jsonl(text, offset);
    from_claim_review(text, offset);
    let mut parts = text.splitn(3, '\0');
    let (a, r, l) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    from_cofacts(a, r, l, offset);
});
