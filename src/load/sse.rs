//! An incremental Server-Sent Events parser for streamed completions.
//!
//! It follows the WHATWG event-stream rules where real servers rely on them: lines end in LF,
//! CRLF or CR (a CR at the end of one read and an LF at the start of the next are one line end);
//! `data:` lines of one event are joined with `\n`; lines starting with `:` are comments (keep-alive
//! pings); a blank line dispatches the event. Fields other than `data` and `event` are ignored.
//! It does no JSON parsing and allocates only when an event spans reads, so it can run on the
//! timing path: the caller stamps each read with its arrival time and stores the payloads.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `event:` field, if any (`error` on some servers).
    pub event: Option<&'a [u8]>,
    /// The joined `data:` payload.
    pub data: &'a [u8],
}

/// Incremental parser state; feed it reads in order.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of an incomplete line carried over from the previous read.
    partial_line: Vec<u8>,
    /// Data of the event being assembled.
    data: Vec<u8>,
    /// Whether the event being assembled has any `data:` line (an empty `data:` still counts).
    has_data: bool,
    /// The `event:` field of the event being assembled.
    event: Vec<u8>,
    /// The previous read ended in CR, so a leading LF in the next read belongs to it.
    skip_leading_lf: bool,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one read, calling `on_event` for every event it completes.
    pub fn feed(&mut self, mut chunk: &[u8], mut on_event: impl FnMut(SseEvent<'_>)) {
        // An empty read says nothing: in particular it must not forget a CR that ended the
        // previous read, or a CRLF split around it would count as two line ends (found by the
        // property test).
        if chunk.is_empty() {
            return;
        }
        if self.skip_leading_lf {
            self.skip_leading_lf = false;
            if chunk.first() == Some(&b'\n') {
                chunk = &chunk[1..];
            }
        }
        while !chunk.is_empty() {
            let Some(end) = memchr::memchr2(b'\n', b'\r', chunk) else {
                self.partial_line.extend_from_slice(chunk);
                return;
            };
            let terminator_len = if chunk[end] == b'\r' {
                match chunk.get(end + 1) {
                    Some(b'\n') => 2,
                    Some(_) => 1,
                    None => {
                        self.skip_leading_lf = true;
                        1
                    }
                }
            } else {
                1
            };
            if self.partial_line.is_empty() {
                self.process_line_slice(&chunk[..end], &mut on_event);
            } else {
                self.partial_line.extend_from_slice(&chunk[..end]);
                let line = std::mem::take(&mut self.partial_line);
                self.process_line_slice(&line, &mut on_event);
                self.partial_line = line;
                self.partial_line.clear();
            }
            chunk = &chunk[end + terminator_len..];
        }
    }

    /// Ends the stream: a final event not followed by a blank line is still delivered, because
    /// several servers close the connection right after the last `data:` line.
    pub fn finish(&mut self, mut on_event: impl FnMut(SseEvent<'_>)) {
        if !self.partial_line.is_empty() {
            let line = std::mem::take(&mut self.partial_line);
            self.process_line_slice(&line, &mut on_event);
        }
        self.dispatch(&mut on_event);
    }

    fn process_line_slice(&mut self, line: &[u8], on_event: &mut impl FnMut(SseEvent<'_>)) {
        if line.is_empty() {
            self.dispatch(on_event);
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive ping
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.extend_from_slice(value);
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, on_event: &mut impl FnMut(SseEvent<'_>)) {
        if self.has_data {
            let event = if self.event.is_empty() {
                None
            } else {
                Some(self.event.as_slice())
            };
            on_event(SseEvent {
                event,
                data: &self.data,
            });
        }
        self.data.clear();
        self.event.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events from feeding `input` in the given pieces, as (event, data) strings.
    fn parse_pieces(pieces: &[&[u8]]) -> Vec<(Option<String>, String)> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        let mut push = |e: SseEvent<'_>| {
            out.push((
                e.event.map(|v| String::from_utf8_lossy(v).into_owned()),
                String::from_utf8_lossy(e.data).into_owned(),
            ))
        };
        for piece in pieces {
            parser.feed(piece, &mut push);
        }
        parser.finish(&mut push);
        out
    }

    /// Parses `input` whole and split at every byte position (and byte by byte); all must agree.
    fn parse_everywhere(input: &[u8]) -> Vec<(Option<String>, String)> {
        let whole = parse_pieces(&[input]);
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(parse_pieces(&[a, b]), whole, "split at {split}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(parse_pieces(&bytes), whole, "byte by byte");
        whole
    }

    fn data(events: &[(Option<String>, String)]) -> Vec<&str> {
        events.iter().map(|(_, d)| d.as_str()).collect()
    }

    #[test]
    fn openai_stream_with_done() {
        let input = b"data: {\"a\":1}\n\ndata: {\"a\":2}\n\ndata: [DONE]\n\n";
        assert_eq!(
            data(&parse_everywhere(input)),
            ["{\"a\":1}", "{\"a\":2}", "[DONE]"]
        );
    }

    #[test]
    fn crlf_and_lone_cr_line_endings() {
        let crlf = b"data: one\r\n\r\ndata: two\r\n\r\n";
        assert_eq!(data(&parse_everywhere(crlf)), ["one", "two"]);
        let cr = b"data: one\r\rdata: two\r\r";
        assert_eq!(data(&parse_everywhere(cr)), ["one", "two"]);
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let input = b"data: {\"x\":\ndata: 1}\n\n";
        assert_eq!(data(&parse_everywhere(input)), ["{\"x\":\n1}"]);
    }

    #[test]
    fn comments_and_pings_are_ignored() {
        let input = b": ping\n\n: OPENROUTER PROCESSING\ndata: x\n\n:keepalive\n\n";
        assert_eq!(data(&parse_everywhere(input)), ["x"]);
    }

    #[test]
    fn event_field_and_unknown_fields() {
        let input = b"event: error\ndata: {\"error\":\"boom\"}\nid: 7\nretry: 10\n\n";
        let events = parse_everywhere(input);
        assert_eq!(
            events,
            [(
                Some("error".to_string()),
                "{\"error\":\"boom\"}".to_string()
            )]
        );
    }

    #[test]
    fn data_without_space_and_empty_data() {
        let input = b"data:nospace\n\ndata:\n\n";
        assert_eq!(data(&parse_everywhere(input)), ["nospace", ""]);
    }

    #[test]
    fn final_event_without_blank_line_is_delivered_at_finish() {
        let input = b"data: a\n\ndata: [DONE]";
        assert_eq!(data(&parse_everywhere(input)), ["a", "[DONE]"]);
    }

    #[test]
    fn an_empty_read_between_cr_and_lf_changes_nothing() {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for chunk in [&b"data: a\r"[..], b"", b"\n\r\n"] {
            parser.feed(chunk, |e| events.push(e.data.to_vec()));
        }
        assert_eq!(events, vec![b"a".to_vec()]);
    }

    #[test]
    fn llama_cpp_recorded_stream() {
        // Hand-written from llama.cpp's documented /v1/chat/completions stream: a role-only first
        // chunk with content null, content deltas, a final chunk with finish_reason and timings,
        // then [DONE]; lines end in LF and events in a blank line.
        let input = include_bytes!("../../tests/fixtures/llama_cpp_stream.txt");
        let events = parse_everywhere(input);
        assert_eq!(events.len(), 6);
        assert!(events[0].1.contains("\"role\":\"assistant\""));
        assert_eq!(events.last().map(|e| e.1.as_str()), Some("[DONE]"));
    }

    #[test]
    fn recorded_llama_cpp_stream_parses_to_its_text() {
        let input = include_bytes!("../../tests/fixtures/llama_cpp_stream.txt");
        let chat = crate::endpoint::endpoint_for(crate::spec::EndpointType::Chat);
        let mut parser = SseParser::new();
        let mut deltas = Vec::new();
        parser.feed(input, |e| {
            if e.data != b"[DONE]" {
                deltas.push(chat.parse_event(e.data).unwrap().into_owned());
            }
        });
        let text: String = deltas.iter().map(|d| &*d.content).collect();
        assert_eq!(text, "Hello there!");
        assert!(
            !deltas[0].has_text(),
            "the role-only first chunk carries no text"
        );
        assert_eq!(deltas.iter().filter(|d| d.has_text()).count(), 3);
        assert_eq!(
            deltas
                .last()
                .and_then(|d| d.usage)
                .and_then(|u| u.completion_tokens),
            Some(3)
        );
    }
}
