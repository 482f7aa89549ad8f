//! Policy files never panic the parser and checker, whatever the text: TOML errors, unknown
//! keys, bad CEL and bad actions all come back as errors with their lines.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use steward_policy::{Policy, Schema};

fuzz_target!(|data: &[u8]| {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Policy::parse(text, "fuzz.toml", SCHEMA.get_or_init(steward_engine::schema));
});
