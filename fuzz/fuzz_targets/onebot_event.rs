//! Any bytes given to the OneBot frame parser yield a frame or an error naming a JSON path,
//! never a panic; any text read as a CQ-code message renders back to the same segments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_onebot::message::{parse_array, parse_cq, to_array, to_cq};
use steward_onebot::parse_frame;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = parse_frame(data) {
        assert!(e.path.starts_with('$'), "an error without a path: {e}");
        assert!(!e.reason.is_empty());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let segments = parse_cq(text);
        assert_eq!(parse_cq(&to_cq(&segments)), segments, "CQ round trip of {text:?}");
        let array = to_array(&segments);
        assert_eq!(parse_array(array.as_array().unwrap()).unwrap(), segments, "array round trip of {text:?}");
    }
});
