//! An incremental reader of Server-Sent Events (the `text/event-stream` format).
//!
//! Bytes go in as they arrive, split anywhere (inside a UTF-8 character, between `\r` and
//! `\n`); whole events come out. Lines end with `\n`, `\r\n` or `\r`; an empty line ends an
//! event; `data:` lines are joined with `\n`; lines starting with `:` are comments. A single
//! event (its data plus the line being read) is capped, so a server that never ends an event
//! cannot make the reader grow without bound.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, `None` when absent (the format's default type, "message").
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field of this event, if it had one.
    pub id: Option<String>,
}

/// The reader's one error: an event larger than the cap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an event of the stream is larger than {cap} bytes")]
pub struct SseTooLarge {
    /// The cap in force.
    pub cap: usize,
}

/// The default cap on one event: 256 KiB, far above any chat delta.
pub const DEFAULT_EVENT_CAP: usize = 256 * 1024;

/// An incremental Server-Sent Events reader. See the [module docs](self).
#[derive(Debug)]
pub struct SseReader {
    cap: usize,
    /// The bytes of the line being read (no line end).
    line: Vec<u8>,
    /// The line being read has bytes (kept even while an oversized event is skipped).
    line_started: bool,
    /// The last byte seen was `\r`: a `\n` that follows belongs to the same line end.
    after_cr: bool,
    /// Still at the very start of the stream, where a UTF-8 byte order mark is dropped.
    at_start: bool,
    /// The event being built.
    data: String,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
    /// An event went over the cap: its remaining lines are dropped until it ends.
    skipping: bool,
}

impl Default for SseReader {
    fn default() -> Self {
        Self::new(DEFAULT_EVENT_CAP)
    }
}

impl SseReader {
    /// A reader whose events (data plus the line being read) may hold at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        SseReader {
            cap,
            line: Vec::new(),
            line_started: false,
            after_cr: false,
            at_start: true,
            data: String::new(),
            has_data: false,
            event: None,
            id: None,
            skipping: false,
        }
    }

    /// Feeds the next bytes of the stream; returns the events they complete, in order. An
    /// event over the cap comes out as one error at its place, and the reader goes on with
    /// the event after it.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<Result<SseEvent, SseTooLarge>> {
        let mut out = Vec::new();
        if self.at_start && !bytes.is_empty() {
            bytes = self.strip_bom(bytes);
        }
        while !bytes.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    self.extend_line(&bytes[..end], &mut out);
                    self.after_cr = bytes[end] == b'\r';
                    bytes = &bytes[end + 1..];
                    self.end_line(&mut out);
                }
                None => {
                    self.extend_line(bytes, &mut out);
                    bytes = &[];
                }
            }
        }
        out
    }

    /// Whether the stream, were it to end now, would end inside an event (whose lines are
    /// then dropped, as the format says).
    pub fn is_mid_event(&self) -> bool {
        !self.line.is_empty() || self.has_data || self.event.is_some() || self.id.is_some()
    }

    /// Drops a UTF-8 byte order mark at the start of the stream, which may itself arrive split.
    fn strip_bom<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        let seen = self.line.len();
        let want = &BOM[seen..];
        let n = want.len().min(bytes.len());
        if bytes[..n] != want[..n] {
            // Not a mark after all: what was held back is the line's start.
            self.at_start = false;
            self.line_started = !self.line.is_empty();
            return bytes;
        }
        if n == want.len() {
            self.line.clear();
            self.at_start = false;
        } else {
            // Part of a mark: hold it in `line` until the rest arrives.
            self.line.extend_from_slice(&bytes[..n]);
        }
        &bytes[n..]
    }

    fn extend_line(&mut self, part: &[u8], out: &mut Vec<Result<SseEvent, SseTooLarge>>) {
        self.at_start = false;
        self.line_started |= !part.is_empty();
        if self.skipping {
            return;
        }
        if self.line.len() + part.len() + self.data.len() > self.cap {
            self.overflow(out);
            return;
        }
        self.line.extend_from_slice(part);
    }

    fn overflow(&mut self, out: &mut Vec<Result<SseEvent, SseTooLarge>>) {
        self.line.clear();
        self.reset_event();
        self.skipping = true;
        out.push(Err(SseTooLarge { cap: self.cap }));
    }

    fn reset_event(&mut self) {
        self.data.clear();
        self.has_data = false;
        self.event = None;
        self.id = None;
    }

    fn end_line(&mut self, out: &mut Vec<Result<SseEvent, SseTooLarge>>) {
        self.at_start = false;
        if !std::mem::take(&mut self.line_started) {
            if self.skipping {
                self.skipping = false;
            } else if self.has_data {
                // An event ends; one without data is dropped, as the format says.
                let mut data = std::mem::take(&mut self.data);
                data.pop(); // the `\n` after the last data line
                out.push(Ok(SseEvent { event: self.event.take(), data, id: self.id.take() }));
                self.has_data = false;
            } else {
                self.reset_event();
            }
            return;
        }
        if self.skipping {
            self.line.clear();
            return;
        }
        let line = std::mem::take(&mut self.line);
        let text = String::from_utf8_lossy(&line);
        let (field, value) = match text.find(':') {
            Some(0) => return, // a comment
            Some(i) => {
                let v = &text[i + 1..];
                (&text[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (&text[..], ""),
        };
        match field {
            "data" => {
                if self.data.len() + value.len() + 1 > self.cap {
                    self.overflow(out);
                    return;
                }
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            // An id with a NUL is ignored, as the format says.
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {} // `retry` and unknown fields: nothing a chat client uses
        }
        self.line = line;
        self.line.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: &[Result<SseEvent, SseTooLarge>]) -> Vec<String> {
        events.iter().map(|e| e.as_ref().map(|e| e.data.clone()).unwrap_or_else(|e| format!("ERR {e}"))).collect()
    }

    fn whole(bytes: &[u8]) -> Vec<Result<SseEvent, SseTooLarge>> {
        SseReader::default().push(bytes)
    }

    const STREAM: &str = "\u{FEFF}: a comment\r\nevent: delta\r\nid: 7\r\ndata: {\"a\":\"héllo 世界\"}\r\n\r\n\
        data: line one\rdata: line two\r\rdata:no space\n\ndata\n\n: only a comment\n\n\
        event: x\nid: 8\n\ndata: [DONE]\n\n";

    #[test]
    fn reads_fields_line_ends_multi_line_data_and_comments() {
        let events = whole(STREAM.as_bytes());
        assert_eq!(data(&events), ["{\"a\":\"héllo 世界\"}", "line one\nline two", "no space", "", "[DONE]"]);
        let first = events[0].as_ref().unwrap();
        assert_eq!(first.event.as_deref(), Some("delta"));
        assert_eq!(first.id.as_deref(), Some("7"));
        // The fields of an event without data do not leak into the next one.
        assert_eq!(events[4].as_ref().unwrap().event, None);
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let bytes = STREAM.as_bytes();
        let expected = whole(bytes);
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let mut r = SseReader::default();
                let mut got = r.push(&bytes[..i]);
                got.extend(r.push(&bytes[i..j]));
                got.extend(r.push(&bytes[j..]));
                assert_eq!(got, expected, "split at {i} and {j}");
            }
        }
        let mut r = SseReader::default();
        let got: Vec<_> = bytes.iter().flat_map(|b| r.push(std::slice::from_ref(b))).collect();
        assert_eq!(got, expected, "a byte at a time");
    }

    #[test]
    fn an_unfinished_event_is_not_dispatched() {
        let mut r = SseReader::default();
        assert!(r.push(b"data: half").is_empty());
        assert!(r.is_mid_event());
        assert!(r.push(b"\n").is_empty());
        assert!(r.is_mid_event());
        assert_eq!(data(&r.push(b"\n")), ["half"]);
        assert!(!r.is_mid_event());
    }

    #[test]
    fn a_partial_byte_order_mark_that_is_not_one_is_kept() {
        let mut r = SseReader::default();
        assert!(r.push(b"\xEF").is_empty());
        let got = r.push(b"data: x\n\n");
        // Not a mark: the line is "\u{FFFD}data: x", an unknown field.
        assert!(got.is_empty());
        assert_eq!(data(&r.push(b"data: y\n\n")), ["y"]);
    }

    #[test]
    fn an_event_over_the_cap_is_an_error_and_the_next_event_is_read() {
        let mut r = SseReader::new(32);
        let mut got = r.push(b"data: small\n\ndata: ");
        got.extend(r.push(&[b'x'; 100]));
        got.extend(r.push(b"\ndata: more\n\ndata: after\n\n"));
        assert_eq!(data(&got), ["small", "ERR an event of the stream is larger than 32 bytes", "after"]);
        // Many data lines that are each short add up to the cap too.
        let mut r = SseReader::new(32);
        let got = r.push(&b"data: 0123456789\n".repeat(10));
        assert_eq!(data(&got), ["ERR an event of the stream is larger than 32 bytes"]);
        assert!(r.push(&b"data: 0123456789\n".repeat(1000)).is_empty(), "one error per event");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_a_panic() {
        assert_eq!(data(&whole(b"data: \xFF\xFE ok\n\n")), ["\u{FFFD}\u{FFFD} ok"]);
    }
}
