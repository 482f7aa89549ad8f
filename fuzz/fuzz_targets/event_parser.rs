//! Any bytes given to the event parser yield an event or a record error, never a panic.
#![no_main]

use chrono::TimeZone;
use libfuzzer_sys::fuzz_target;
use steward_model::{Limits, parse_event};

fuzz_target!(|data: &[u8]| {
    let now = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    if let Err(e) = parse_event(data, &Limits::default(), now) {
        // Every rejection can be shown to the sender.
        let _ = e.to_string();
    }
});
