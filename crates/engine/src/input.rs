//! Splitting request bodies and files into records: NDJSON (one record a line) or a JSON
//! array. Entry points share this so every one reports positions the same way.

use serde_json::value::RawValue;

/// One raw record and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub bytes: &'a [u8],
    /// 1-based line number, for NDJSON input.
    pub line: Option<usize>,
}

/// Splits NDJSON into records, skipping blank lines. `first_line` is the 1-based number of
/// the first line of `body` (files are read in chunks).
pub fn split_ndjson(body: &[u8], first_line: usize) -> Vec<RawRecord<'_>> {
    body.split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, line)| {
            let line_bytes = line.strip_suffix(b"\r").unwrap_or(line);
            if line_bytes.iter().all(|b| b.is_ascii_whitespace()) {
                return None;
            }
            Some(RawRecord { bytes: line_bytes, line: Some(first_line + i) })
        })
        .collect()
}

/// Splits a JSON array into its elements. The array itself must be well-formed JSON; an
/// element that is not a valid event is rejected later, on its own.
pub fn split_json_array(body: &[u8]) -> Result<Vec<RawRecord<'_>>, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("body is not valid UTF-8 (byte {})", e.valid_up_to()))?;
    let items: Vec<&RawValue> =
        serde_json::from_str(text).map_err(|e| format!("body is not a JSON array of events: {e}"))?;
    Ok(items.into_iter().map(|v| RawRecord { bytes: v.get().as_bytes(), line: None }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_lines_are_numbered_and_blanks_skipped() {
        let r = split_ndjson(b"{\"a\":1}\n\n  \r\n{\"b\":2}\r\n", 10);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].line, Some(10));
        assert_eq!(r[1].line, Some(13));
        assert_eq!(r[1].bytes, b"{\"b\":2}");
    }

    #[test]
    fn json_array_elements_are_kept_raw() {
        let r = split_json_array(br#"[{"a":1}, {"b":[2]}, 3]"#).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].bytes, br#"{"b":[2]}"#);
        assert!(split_json_array(b"[{").unwrap_err().contains("not a JSON array"));
        assert!(split_json_array(b"{}").is_err());
    }
}
