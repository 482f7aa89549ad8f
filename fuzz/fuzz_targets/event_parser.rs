//! Any bytes given to the event parser yield an event or a record error, never a panic; every
//! rejection names its field (a path, or `(record)` for the record as a whole).
#![no_main]

use chrono::TimeZone;
use libfuzzer_sys::fuzz_target;
use steward_model::{Limits, parse_event};

fuzz_target!(|data: &[u8]| {
    let now = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    // Small limits too, so the fuzzer reaches the size rejections with small inputs.
    let small = Limits { max_record_bytes: 512, max_text_bytes: 64, max_id_bytes: 16, ..Limits::default() };
    for limits in [Limits::default(), small] {
        if let Err(e) = parse_event(data, &limits, now) {
            assert!(!e.field.is_empty(), "a rejection without a field: {e}");
            assert!(!e.reason.is_empty(), "a rejection without a reason: {e:?}");
            // Every rejection can be shown to the sender.
            let _ = e.to_string();
        }
    }
});
