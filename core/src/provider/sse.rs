//! Incremental parsers for streamed HTTP bodies: Server-Sent Events and NDJSON.
//!
//! Both parsers are pure (no I/O): feed them byte chunks exactly as they come off the socket —
//! split anywhere, even inside a multi-byte character or between `\r` and `\n` — and they hand
//! back the complete events or lines seen so far.
//!
//! [`SseParser`] follows the WHATWG event-stream rules: lines end with `\n`, `\r\n` or `\r`;
//! a UTF-8 byte-order mark at the very start is skipped; lines starting with `:` are comments;
//! `field: value` with one optional space after the colon; several `data:` lines are joined
//! with `\n`; a blank line dispatches the event; an event without any `data:` line is dropped.
//!
//! [`NdjsonSplitter`] splits newline-delimited JSON (Ollama) into lines, ignoring blank ones.
//!
//! Invalid UTF-8 never panics: complete lines are decoded lossily (`U+FFFD`). A line longer than
//! the limit (default [`DEFAULT_MAX_LINE`]) is an error rather than unbounded buffering.

use std::fmt;

/// The longest line either parser buffers before giving up (16 MiB).
pub const DEFAULT_MAX_LINE: usize = 16 * 1024 * 1024;

/// A line grew past the parser's limit without a line ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong {
    /// The limit, in bytes.
    pub limit: usize,
}

impl fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a line of the stream is longer than {} bytes",
            self.limit
        )
    }
}

impl std::error::Error for LineTooLong {}

/// Splits bytes into lines, remembering a partial line between chunks.
#[derive(Debug, Clone)]
struct LineSplitter {
    partial: Vec<u8>,
    /// The previous chunk ended with `\r` (a following `\n` belongs to it).
    skip_lf: bool,
    /// Whether a lone `\r` ends a line (SSE) or is kept (NDJSON strips it at the end only).
    cr_ends_line: bool,
    max: usize,
}

impl LineSplitter {
    fn new(cr_ends_line: bool, max: usize) -> LineSplitter {
        LineSplitter {
            partial: Vec::new(),
            skip_lf: false,
            cr_ends_line,
            max,
        }
    }

    /// Calls `on_line` with every line completed by `chunk` (without its line ending).
    fn feed(
        &mut self,
        mut chunk: &[u8],
        on_line: &mut dyn FnMut(&[u8]),
    ) -> Result<(), LineTooLong> {
        if self.skip_lf {
            if let Some((&first, rest)) = chunk.split_first() {
                self.skip_lf = false;
                if first == b'\n' {
                    chunk = rest;
                }
            }
        }
        loop {
            let end = if self.cr_ends_line {
                chunk.iter().position(|&b| b == b'\n' || b == b'\r')
            } else {
                chunk.iter().position(|&b| b == b'\n')
            };
            let Some(i) = end else { break };
            let terminator = chunk[i];
            if self.partial.is_empty() {
                if i > self.max {
                    return Err(LineTooLong { limit: self.max });
                }
                on_line(&chunk[..i]);
            } else {
                self.partial.extend_from_slice(&chunk[..i]);
                self.check_len()?;
                on_line(&self.partial);
                self.partial.clear();
            }
            chunk = &chunk[i + 1..];
            if terminator == b'\r' {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
        }
        self.partial.extend_from_slice(chunk);
        self.check_len()
    }

    fn check_len(&mut self) -> Result<(), LineTooLong> {
        if self.partial.len() > self.max {
            self.partial = Vec::new();
            Err(LineTooLong { limit: self.max })
        } else {
            Ok(())
        }
    }

    /// The unterminated last line, if any bytes are left.
    fn take_partial(&mut self) -> Option<Vec<u8>> {
        self.skip_lf = false;
        if self.partial.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.partial))
        }
    }
}

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if the event had one (the spec's default type is `message`).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last `id:` field seen so far in the stream, if any.
    pub id: Option<String>,
}

/// An incremental Server-Sent-Events parser. See the [module docs](self) for the rules.
#[derive(Debug, Clone)]
pub struct SseParser {
    lines: LineSplitter,
    state: SseState,
}

/// Field state between lines.
#[derive(Debug, Clone)]
struct SseState {
    /// Still before the first line (where a BOM may appear).
    at_start: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    last_id: Option<String>,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::new()
    }
}

impl SseParser {
    /// A parser with the default line limit.
    pub fn new() -> SseParser {
        SseParser::with_max_line(DEFAULT_MAX_LINE)
    }

    /// A parser that fails on lines longer than `max` bytes.
    pub fn with_max_line(max: usize) -> SseParser {
        SseParser {
            lines: LineSplitter::new(true, max),
            state: SseState {
                at_start: true,
                event: None,
                data: String::new(),
                has_data: false,
                last_id: None,
            },
        }
    }

    /// Feeds the next bytes and returns the events they completed, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        let mut out = Vec::new();
        let state = &mut self.state;
        self.lines
            .feed(chunk, &mut |line| state.line(line, &mut out))?;
        Ok(out)
    }

    /// Ends the stream. Strictly, an event not followed by a blank line is discarded at the end
    /// of the stream; this parser is lenient and returns it (a final line without its line
    /// ending counts too), so a server that omits the last blank line still works.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let mut out = Vec::new();
        if let Some(line) = self.lines.take_partial() {
            self.state.line(&line, &mut out);
        }
        self.state.dispatch(&mut out);
        self.state.at_start = true;
        out.pop()
    }
}

impl SseState {
    fn line(&mut self, mut line: &[u8], out: &mut Vec<SseEvent>) {
        if self.at_start {
            self.at_start = false;
            if let Some(rest) = line.strip_prefix(b"\xEF\xBB\xBF") {
                line = rest;
            }
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"id" if !value.contains(&0) => {
                self.last_id = Some(String::from_utf8_lossy(value).into_owned());
            }
            _ => {} // `retry` and unknown fields are ignored
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if !self.has_data {
            return;
        }
        self.has_data = false;
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the trailing '\n' added after the last data line
        out.push(SseEvent {
            event,
            data,
            id: self.last_id.clone(),
        });
    }
}

/// Splits newline-delimited JSON into lines. Blank lines are skipped; a trailing `\r` and
/// surrounding whitespace are trimmed.
#[derive(Debug, Clone)]
pub struct NdjsonSplitter {
    lines: LineSplitter,
}

impl Default for NdjsonSplitter {
    fn default() -> Self {
        NdjsonSplitter::new()
    }
}

impl NdjsonSplitter {
    /// A splitter with the default line limit.
    pub fn new() -> NdjsonSplitter {
        NdjsonSplitter::with_max_line(DEFAULT_MAX_LINE)
    }

    /// A splitter that fails on lines longer than `max` bytes.
    pub fn with_max_line(max: usize) -> NdjsonSplitter {
        NdjsonSplitter {
            lines: LineSplitter::new(false, max),
        }
    }

    /// Feeds the next bytes and returns the non-blank lines they completed, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<String>, LineTooLong> {
        let mut out = Vec::new();
        self.lines
            .feed(chunk, &mut |line| push_line(line, &mut out))?;
        Ok(out)
    }

    /// Ends the stream: returns the last line if it had no line ending and is not blank.
    pub fn finish(&mut self) -> Option<String> {
        let mut out = Vec::new();
        if let Some(line) = self.lines.take_partial() {
            push_line(&line, &mut out);
        }
        out.pop()
    }
}

fn push_line(line: &[u8], out: &mut Vec<String>) {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if !text.is_empty() {
        out.push(text.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
            id: None,
        }
    }

    fn all_at_once(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = p.feed(input).unwrap();
        out.extend(p.finish());
        out
    }

    fn byte_by_byte(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for b in input {
            out.extend(p.feed(std::slice::from_ref(b)).unwrap());
        }
        out.extend(p.finish());
        out
    }

    /// Every way of cutting `input` in two (and byte by byte) gives the same events.
    fn check(input: &[u8], expected: &[SseEvent]) {
        assert_eq!(all_at_once(input), expected, "all at once");
        assert_eq!(byte_by_byte(input), expected, "byte by byte");
        for cut in 0..=input.len() {
            let mut p = SseParser::new();
            let mut out = p.feed(&input[..cut]).unwrap();
            out.extend(p.feed(&input[cut..]).unwrap());
            out.extend(p.finish());
            assert_eq!(out, expected, "cut at {cut}");
        }
    }

    #[test]
    fn basic_events() {
        check(
            b"data: hello\n\ndata: world\n\n",
            &[ev(None, "hello"), ev(None, "world")],
        );
    }

    #[test]
    fn all_line_endings() {
        let expected = [ev(Some("a"), "1"), ev(None, "2"), ev(None, "3")];
        check(
            b"event: a\r\ndata: 1\r\n\r\ndata: 2\r\rdata: 3\n\n",
            &expected,
        );
        check(
            b"event: a\rdata: 1\r\rdata: 2\n\ndata: 3\r\n\r\n",
            &expected,
        );
    }

    #[test]
    fn crlf_split_between_cr_and_lf() {
        let mut p = SseParser::new();
        assert!(p.feed(b"data: x\r").unwrap().is_empty());
        // The \n completes the \r\n of the data line, not a blank line.
        assert!(p.feed(b"\n").unwrap().is_empty());
        assert_eq!(p.feed(b"\r\n").unwrap(), vec![ev(None, "x")]);
    }

    #[test]
    fn comments_fields_and_spaces() {
        check(
            b": this is a comment\n:\nevent:ping\ndata:no-space\n\n",
            &[ev(Some("ping"), "no-space")],
        );
        // Only one space after the colon is removed.
        check(b"data:  two\n\n", &[ev(None, " two")]);
        // Unknown fields and `retry` are ignored; a field without a colon has an empty value.
        check(b"retry: 10\nfoo: bar\ndata\n\n", &[ev(None, "")]);
    }

    #[test]
    fn multiline_data() {
        check(
            b"data: line one\ndata: line two\ndata:\n\n",
            &[ev(None, "line one\nline two\n")],
        );
    }

    #[test]
    fn event_without_data_is_dropped_and_type_reset() {
        check(b"event: lonely\n\ndata: after\n\n", &[ev(None, "after")]);
    }

    #[test]
    fn ids_are_remembered() {
        let out = all_at_once(b"id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n");
        assert_eq!(out[0].id.as_deref(), Some("7"));
        assert_eq!(out[1].id.as_deref(), Some("7"));
        assert_eq!(out[2].id.as_deref(), Some(""));
    }

    #[test]
    fn bom_only_at_start() {
        check(b"\xEF\xBB\xBFdata: x\n\n", &[ev(None, "x")]);
        // A BOM later on is just bytes in a field name (so the line is ignored).
        check(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n", &[ev(None, "a")]);
    }

    #[test]
    fn invalid_utf8_is_lossy() {
        check(b"data: a\xFFb\n\n", &[ev(None, "a\u{FFFD}b")]);
        // A multi-byte character split across chunks is intact.
        check("data: héllo ✓\n\n".as_bytes(), &[ev(None, "héllo ✓")]);
    }

    #[test]
    fn finish_is_lenient() {
        assert_eq!(all_at_once(b"data: [DONE]"), vec![ev(None, "[DONE]")]);
        assert_eq!(all_at_once(b"data: [DONE]\n"), vec![ev(None, "[DONE]")]);
        assert_eq!(all_at_once(b"data: a\n\n"), vec![ev(None, "a")]);
        assert_eq!(all_at_once(b""), vec![]);
        assert_eq!(all_at_once(b": comment"), vec![]);
    }

    #[test]
    fn line_limit() {
        let mut p = SseParser::with_max_line(8);
        assert!(p.feed(b"data: 12").unwrap().is_empty());
        assert_eq!(p.feed(b"345").unwrap_err(), LineTooLong { limit: 8 });
        let mut p = SseParser::with_max_line(8);
        assert!(p.feed(b"data: 123456789\n").is_err());
    }

    #[test]
    fn realistic_openai_stream() {
        let input = b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n\
                      data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n\
                      data: [DONE]\n\n";
        let out = all_at_once(input);
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].data, "[DONE]");
        assert_eq!(byte_by_byte(input), out);
    }

    fn ndjson_all(input: &[u8]) -> Vec<String> {
        let mut s = NdjsonSplitter::new();
        let mut out = s.feed(input).unwrap();
        out.extend(s.finish());
        out
    }

    #[test]
    fn ndjson_lines() {
        let input = b"{\"a\":1}\n\n  \r\n{\"b\":2}\r\n{\"c\":3}";
        let expected = vec!["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"];
        assert_eq!(ndjson_all(input), expected);
        for cut in 0..=input.len() {
            let mut s = NdjsonSplitter::new();
            let mut out = s.feed(&input[..cut]).unwrap();
            out.extend(s.feed(&input[cut..]).unwrap());
            out.extend(s.finish());
            assert_eq!(out, expected, "cut at {cut}");
        }
        let mut s = NdjsonSplitter::new();
        let mut out = Vec::new();
        for b in input.iter() {
            out.extend(s.feed(std::slice::from_ref(b)).unwrap());
        }
        out.extend(s.finish());
        assert_eq!(out, expected);
    }

    #[test]
    fn ndjson_lossy_and_limit() {
        assert_eq!(ndjson_all(b"\xFF\n"), vec!["\u{FFFD}"]);
        let mut s = NdjsonSplitter::with_max_line(4);
        assert!(s.feed(b"123456").is_err());
        assert_eq!(ndjson_all(b"\n\n"), Vec::<String>::new());
    }
}
