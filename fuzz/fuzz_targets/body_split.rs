//! Request bodies split into records (NDJSON and JSON arrays) and parsed: never a panic, and
//! every rejection names its field.
#![no_main]

use chrono::TimeZone;
use libfuzzer_sys::fuzz_target;
use steward_engine::input::{split_json_array, split_ndjson};
use steward_model::{Limits, parse_event};

fuzz_target!(|data: &[u8]| {
    let now = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let mut records = split_ndjson(data, 1);
    if let Ok(array) = split_json_array(data) {
        records.extend(array);
    }
    for r in records {
        if let Err(e) = parse_event(r.bytes, &Limits::default(), now) {
            assert!(!e.field.is_empty(), "a rejection without a field: {e}");
        }
    }
});
