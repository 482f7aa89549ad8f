//! Splitting request bodies and files into records: NDJSON (one record a line) or a JSON
//! array. Entry points share this so every one reports positions the same way.

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
    let mut cursor = Cursor { format: BodyFormat::Ndjson, offset: 0, line: first_line, index: 0, done: false };
    cursor.next_slice(body, usize::MAX, usize::MAX)
}

/// Splits a JSON array into its elements. The array itself must be well-formed JSON; an
/// element that is not a valid event is rejected later, on its own.
pub fn split_json_array(body: &[u8]) -> Result<Vec<RawRecord<'_>>, String> {
    Ok(Cursor::new(body, BodyFormat::JsonArray)?.next_slice(body, usize::MAX, usize::MAX))
}

/// How a body holds its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    JsonArray,
    Ndjson,
}

/// Reads a body a slice of records at a time, so that a large body is never split whole
/// (8 million one-byte records would take more memory as records than as bytes) and its
/// slices can take turns with other work. The cursor holds offsets, not the body.
#[derive(Debug, Clone)]
pub struct Cursor {
    format: BodyFormat,
    /// Byte offset where the next record (or, in an array, its separator) starts.
    offset: usize,
    /// 1-based number of the line at `offset` (NDJSON).
    line: usize,
    /// Records read so far: the next record's 0-based index in the body.
    index: usize,
    done: bool,
}

impl Cursor {
    /// A cursor at the start of `body`. A JSON array is checked whole first (well-formed
    /// JSON, an array): when it is not, nothing of it is read and the error says why.
    pub fn new(body: &[u8], format: BodyFormat) -> Result<Cursor, String> {
        let mut cursor = Cursor { format, offset: 0, line: 1, index: 0, done: false };
        if format == BodyFormat::JsonArray {
            std::str::from_utf8(body).map_err(|e| format!("body is not valid UTF-8 (byte {})", e.valid_up_to()))?;
            // Checks syntax and nesting without building anything.
            serde_json::from_slice::<serde::de::IgnoredAny>(body)
                .map_err(|e| format!("body is not a JSON array of events: {e}"))?;
            let start = body.iter().position(|b| !b.is_ascii_whitespace());
            match start {
                Some(at) if body[at] == b'[' => cursor.offset = at + 1,
                _ => return Err("body is not a JSON array of events: it does not start with `[`".into()),
            }
        }
        Ok(cursor)
    }

    /// Index in the body of the next record to be read.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether every record has been read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next records of `body` (the body the cursor was made for): at most
    /// `max_records`, and no more once `max_bytes` of records are taken (one at least).
    pub fn next_slice<'a>(&mut self, body: &'a [u8], max_records: usize, max_bytes: usize) -> Vec<RawRecord<'a>> {
        let mut out = Vec::new();
        let mut bytes = 0;
        while !self.done && out.len() < max_records.max(1) && (bytes < max_bytes || out.is_empty()) {
            let record = match self.format {
                BodyFormat::Ndjson => self.next_line(body),
                BodyFormat::JsonArray => self.next_element(body),
            };
            if let Some(r) = record {
                bytes += r.bytes.len();
                self.index += 1;
                out.push(r);
            }
        }
        out
    }

    /// The next non-blank line, or `None` at the end (or for a blank line).
    fn next_line<'a>(&mut self, body: &'a [u8]) -> Option<RawRecord<'a>> {
        let rest = &body[self.offset.min(body.len())..];
        let (line, next) = match memchr_newline(rest) {
            Some(i) => (&rest[..i], self.offset + i + 1),
            None => (rest, body.len()),
        };
        let number = self.line;
        self.offset = next;
        self.line += 1;
        if next >= body.len() {
            self.done = true;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return None;
        }
        Some(RawRecord { bytes: line, line: Some(number) })
    }

    /// The next element of a checked JSON array, or `None` at its end.
    fn next_element<'a>(&mut self, body: &'a [u8]) -> Option<RawRecord<'a>> {
        let start = skip_whitespace(body, self.offset);
        if body.get(start).is_none_or(|&b| b == b']') {
            self.done = true;
            return None;
        }
        // The array is well-formed: the element ends at the first `,` or `]` outside
        // strings and nested brackets.
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        let mut end = start;
        while let Some(&b) = body.get(end) {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => in_string = true,
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' if depth == 0 => break,
                    b']' | b'}' => depth -= 1,
                    b',' if depth == 0 => break,
                    _ => {}
                }
            }
            end += 1;
        }
        let element = body[start..end].trim_ascii_end();
        match body.get(end) {
            Some(b',') => self.offset = end + 1,
            _ => {
                self.offset = end;
                self.done = true;
            }
        }
        Some(RawRecord { bytes: element, line: None })
    }
}

fn skip_whitespace(body: &[u8], from: usize) -> usize {
    from + body.get(from..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_whitespace()).count())
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
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

    fn sliced(body: &[u8], format: BodyFormat, max: usize) -> Vec<Vec<(Vec<u8>, Option<usize>)>> {
        let mut cursor = Cursor::new(body, format).unwrap();
        let mut out = Vec::new();
        while !cursor.is_done() {
            out.push(cursor.next_slice(body, max, usize::MAX).iter().map(|r| (r.bytes.to_vec(), r.line)).collect());
        }
        out
    }

    #[test]
    fn a_cursor_reads_what_the_whole_splitters_read_a_slice_at_a_time() {
        let ndjson: &[u8] = b"{\"a\":1}\n\n  \r\n{\"b\":2}\r\n1\n[2]";
        let whole: Vec<_> = split_ndjson(ndjson, 1).iter().map(|r| (r.bytes.to_vec(), r.line)).collect();
        for max in [1, 2, 3, 100] {
            assert_eq!(sliced(ndjson, BodyFormat::Ndjson, max).concat(), whole, "slices of {max}");
        }
        let array: &[u8] = br#" [ {"a":"x,]\"}"} , [1,[2]], 3 ,"s" ] "#;
        let whole: Vec<_> = split_json_array(array).unwrap().iter().map(|r| (r.bytes.to_vec(), r.line)).collect();
        assert_eq!(whole.len(), 4);
        for max in [1, 3, 100] {
            assert_eq!(sliced(array, BodyFormat::JsonArray, max).concat(), whole, "slices of {max}");
        }
        assert_eq!(sliced(b"[]", BodyFormat::JsonArray, 5).concat(), vec![]);
        assert_eq!(sliced(b"", BodyFormat::Ndjson, 5).concat(), vec![]);
    }

    #[test]
    fn a_slice_stops_at_its_byte_budget_but_takes_one_record_at_least() {
        let body = b"{\"a\":1}\n{\"b\":2}\n{\"c\":3}";
        let mut cursor = Cursor::new(body, BodyFormat::Ndjson).unwrap();
        assert_eq!(cursor.next_slice(body, 10, 1).len(), 1);
        assert_eq!(cursor.next_slice(body, 10, 7).len(), 1);
        assert_eq!(cursor.index(), 2);
    }

    #[test]
    fn a_malformed_array_is_refused_before_anything_is_read() {
        for bad in [&b"[{"[..], b"{}", b"[1,]", b"\xff", b"[1] 2"] {
            assert!(Cursor::new(bad, BodyFormat::JsonArray).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
