//! Input files (AIPerf's custom datasets): `single_turn`, `multi_turn` and `mooncake_trace`
//! JSONL, read through typed lines.
//!
//! A file is read twice. [`InputFile::index`] parses and checks every line once, before anything
//! is sent, and keeps only a compact index (a byte offset, a timestamp and a session per
//! conversation, 32 bytes); the prompts are built from the lines again, one conversation at a
//! time, while the run goes (`conversations`). So memory follows the number of lines, never
//! the number of requests, and a 1,000,000-line trace holds no prompt text at once.

use crate::spec::FileFormat;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The longest line read (a verbatim payload with a long conversation can be large).
pub const MAX_LINE_BYTES: usize = 64 << 20;
/// The most lines a file may hold.
pub const MAX_LINES: usize = 50_000_000;
/// The most turns of one conversation, and the most `hash_ids` of one line.
pub const MAX_TURNS: usize = 100_000;

crate::sentence_error!(
    /// An input file that cannot be used, with its path and line (`trace.jsonl:7: ...`).
    InputFileError
);

/// The fields a text turn may carry (`single_turn` lines and `multi_turn` turns).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TurnForm {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    texts: Option<Vec<String>>,
    #[serde(default)]
    timestamp: Option<f64>,
    #[serde(default)]
    delay: Option<f64>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    output_length: Option<u32>,
    #[serde(default)]
    extra: Option<Map<String, Value>>,
    // Image, audio and video fields: recognised so that a text-only run can refuse them by name.
    #[serde(default)]
    image: Option<Value>,
    #[serde(default)]
    images: Option<Value>,
    #[serde(default)]
    audio: Option<Value>,
    #[serde(default)]
    audios: Option<Value>,
    #[serde(default)]
    video: Option<Value>,
    #[serde(default)]
    videos: Option<Value>,
}

impl TurnForm {
    fn first_media(&self) -> Option<&'static str> {
        [
            ("image", &self.image),
            ("images", &self.images),
            ("audio", &self.audio),
            ("audios", &self.audios),
            ("video", &self.video),
            ("videos", &self.videos),
        ]
        .into_iter()
        .find(|(_, v)| v.is_some())
        .map(|(name, _)| name)
    }
}

const TURN_KEYS: &[&str] = &[
    "text",
    "texts",
    "timestamp",
    "delay",
    "session_id",
    "role",
    "output_length",
    "extra",
    "image",
    "images",
    "audio",
    "audios",
    "video",
    "videos",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MultiTurnForm {
    #[serde(default)]
    session_id: Option<String>,
    turns: Vec<Value>,
}

const MULTI_TURN_KEYS: &[&str] = &["session_id", "turns"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MooncakeForm {
    #[serde(default)]
    timestamp: Option<f64>,
    #[serde(default)]
    input_length: Option<u32>,
    #[serde(default)]
    output_length: Option<u32>,
    #[serde(default)]
    hash_ids: Option<Vec<u32>>,
    #[serde(default)]
    text_input: Option<String>,
    #[serde(default)]
    messages: Option<Vec<Value>>,
    #[serde(default)]
    tools: Option<Value>,
    #[serde(default)]
    payload: Option<Map<String, Value>>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    delay: Option<f64>,
    #[serde(default)]
    extra: Option<Map<String, Value>>,
}

const MOONCAKE_KEYS: &[&str] = &[
    "timestamp",
    "input_length",
    "output_length",
    "hash_ids",
    "text_input",
    "messages",
    "tools",
    "payload",
    "session_id",
    "delay",
    "extra",
];

/// What one turn sends.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnContent {
    /// A literal prompt (`text`, `texts` joined by newlines, or `text_input`).
    Text(String),
    /// A prompt synthesised to `input_length` tokens, block by block from `hash_ids` (empty:
    /// an unshared prompt of that length).
    Synthetic {
        /// Prompt length in tokens.
        input_length: u32,
        /// One id per KV block; equal ids give equal block text.
        hash_ids: Vec<u32>,
    },
    /// OpenAI messages sent as they are, with optional `tools`.
    Messages {
        /// The messages.
        messages: Vec<Value>,
        /// The tools, if any.
        tools: Option<Value>,
    },
    /// A complete request body sent verbatim.
    Payload(Map<String, Value>),
}

/// One turn as read from the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// What it sends.
    pub content: TurnContent,
    /// When to send it (ms on the trace's clock), for a fixed schedule.
    pub timestamp_ms: Option<f64>,
    /// Think time after the previous turn's response, in ms.
    pub delay_ms: Option<f64>,
    /// The message role (default `user`).
    pub role: Option<String>,
    /// Requested output tokens, overriding the run's `osl`.
    pub output_length: Option<u32>,
    /// Merged into the request body (its keys win).
    pub extra: Option<Map<String, Value>>,
}

/// A conversation: one or more turns sent in order, each after the previous one's response.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// The session id (the file's, or `line-N` for a line without one).
    pub id: String,
    /// Its position in the file's conversation order.
    pub number: u32,
    /// The turns.
    pub turns: Vec<Turn>,
}

/// Where a conversation is in the file.
#[derive(Debug, Clone, Copy)]
struct ConversationIndex {
    /// Byte offset of its first line.
    offset: u64,
    /// Timestamp of its first turn (ms), NaN without one.
    timestamp_ms: f64,
    /// 1-based line number of its first line.
    line: u32,
    /// For a session spread over several lines (`session_id` in single_turn or mooncake
    /// lines): its index in `sessions`; `u32::MAX` for a conversation on one line.
    session: u32,
}

/// A session spread over several lines: the offsets of its lines, in file order.
#[derive(Debug, Clone)]
struct SpreadSession {
    id: String,
    offsets: Vec<u64>,
}

/// What a checked input file holds, summed while it was indexed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileStats {
    /// Non-blank lines.
    pub lines: u64,
    /// Turns over all conversations (requests one pass sends).
    pub turns: u64,
    /// Turns with a `timestamp`.
    pub timestamped_turns: u64,
    /// Earliest and latest timestamp (ms).
    pub first_timestamp_ms: Option<f64>,
    /// The latest timestamp (ms).
    pub last_timestamp_ms: Option<f64>,
}

/// A checked input file: its conversations' places, never their text.
#[derive(Debug)]
pub struct InputFile {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: FileFormat,
    conversations: Vec<ConversationIndex>,
    sessions: Vec<SpreadSession>,
    /// What it holds.
    pub stats: FileStats,
    /// SHA-256 of the file's bytes, hex (recorded with results so a run names its trace).
    pub sha256: String,
}

/// What indexing needs to check a line.
#[derive(Debug, Clone, Copy)]
pub struct IndexRules {
    /// Tokens per `hash_ids` block.
    pub block_size: u32,
    /// The run sends chat requests (`messages` lines need them).
    pub chat: bool,
}

impl InputFile {
    /// Reads and checks every line of `path`. The first problem is the error, naming the file
    /// and the line: malformed JSON, an unknown key (with the closest known one), a line with
    /// no content, `hash_ids` longer than `input_length` allows, a negative or decreasing
    /// timestamp, image/audio/video fields, an empty file.
    pub fn index(
        path: &Path,
        format: FileFormat,
        rules: IndexRules,
    ) -> Result<Self, InputFileError> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|e| {
            InputFileError::from(format!("cannot read the input file {shown}: {e}"))
        })?;
        let mut reader = BufReader::with_capacity(1 << 20, HashingReader::new(file));
        let mut conversations = Vec::new();
        let mut sessions: Vec<SpreadSession> = Vec::new();
        let mut session_of: HashMap<String, u32> = HashMap::new();
        let mut stats = FileStats::default();
        let mut previous_timestamp: Option<(f64, u64)> = None;
        let mut offset = 0u64;
        let mut line_number = 0u64;
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            let read = (&mut reader)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut buffer)
                .map_err(|e| InputFileError::from(format!("{shown}: cannot read: {e}")))?;
            if read == 0 {
                break;
            }
            line_number += 1;
            let at = |why: String| InputFileError::from(format!("{shown}:{line_number}: {why}"));
            if buffer.len() > MAX_LINE_BYTES {
                return Err(at(format!(
                    "the line is longer than {} MiB",
                    MAX_LINE_BYTES >> 20
                )));
            }
            let line_offset = offset;
            offset += read as u64;
            let text = std::str::from_utf8(&buffer)
                .map_err(|_| at("the line is not UTF-8 text".into()))?;
            if text.trim().is_empty() {
                continue;
            }
            stats.lines += 1;
            if stats.lines as usize > MAX_LINES {
                return Err(at(format!("the file has more than {MAX_LINES} lines")));
            }
            let parsed = parse_line(text, format, rules).map_err(at)?;
            for turn in &parsed.turns {
                if let Some(t) = turn.timestamp_ms {
                    stats.timestamped_turns += 1;
                    stats.first_timestamp_ms =
                        Some(stats.first_timestamp_ms.map_or(t, |f| f.min(t)));
                    stats.last_timestamp_ms = Some(stats.last_timestamp_ms.map_or(t, |l| l.max(t)));
                }
            }
            stats.turns += parsed.turns.len() as u64;
            // Conversations start in timestamp order; a session's later lines come later.
            let first_timestamp = parsed.turns.first().and_then(|t| t.timestamp_ms);
            if let Some(t) = first_timestamp {
                if let Some((before, before_line)) = previous_timestamp
                    && t < before
                {
                    return Err(at(format!(
                        "timestamp {t} is before line {before_line}'s {before}: timestamps must not decrease"
                    )));
                }
                previous_timestamp = Some((t, line_number));
            }
            let line = u32::try_from(line_number).unwrap_or(u32::MAX);
            match parsed.spread_session {
                Some(id) => match session_of.get(&id) {
                    Some(&s) => {
                        let session = &mut sessions[s as usize];
                        if session.offsets.len() >= MAX_TURNS {
                            return Err(at(format!(
                                "session '{id}' has more than {MAX_TURNS} turns"
                            )));
                        }
                        session.offsets.push(line_offset);
                    }
                    None => {
                        let s = sessions.len() as u32;
                        session_of.insert(id.clone(), s);
                        sessions.push(SpreadSession {
                            id,
                            offsets: vec![line_offset],
                        });
                        conversations.push(ConversationIndex {
                            offset: line_offset,
                            timestamp_ms: first_timestamp.unwrap_or(f64::NAN),
                            line,
                            session: s,
                        });
                    }
                },
                None => conversations.push(ConversationIndex {
                    offset: line_offset,
                    timestamp_ms: first_timestamp.unwrap_or(f64::NAN),
                    line,
                    session: u32::MAX,
                }),
            }
        }
        if conversations.is_empty() {
            return Err(InputFileError::from(format!(
                "{shown}: the input file has no entries (it is empty or every line is blank)"
            )));
        }
        let sha256 = reader.into_inner().hex_digest();
        conversations.shrink_to_fit();
        Ok(Self {
            path: path.to_path_buf(),
            format,
            conversations,
            sessions,
            stats,
            sha256,
        })
    }

    /// How many conversations the file holds.
    pub fn conversation_count(&self) -> usize {
        self.conversations.len()
    }

    /// The first turn's timestamp of conversation `n` (ms), if it has one.
    pub fn timestamp_ms(&self, n: usize) -> Option<f64> {
        self.conversations
            .get(n)
            .map(|c| c.timestamp_ms)
            .filter(|t| !t.is_nan())
    }

    /// Whether every conversation starts with a timestamp (so the file can be replayed on a
    /// fixed schedule); otherwise the first line without one.
    pub fn untimed_line(&self) -> Option<u32> {
        self.conversations
            .iter()
            .find(|c| c.timestamp_ms.is_nan())
            .map(|c| c.line)
    }

    /// Whether some turn carries a timestamp.
    pub fn has_timestamps(&self) -> bool {
        self.stats.timestamped_turns > 0
    }

    /// Reads conversation `n` back from the file (checked when indexed).
    pub fn read(
        &self,
        reader: &mut LineReader,
        n: usize,
        rules: IndexRules,
    ) -> Result<Conversation, InputFileError> {
        let index = self.conversations[n];
        let shown = self.path.display();
        let mut turns = Vec::new();
        let mut id = None;
        let offsets: &[u64] = match self.sessions.get(index.session as usize) {
            Some(session) => {
                id = Some(session.id.clone());
                &session.offsets
            }
            None => std::slice::from_ref(&self.conversations[n].offset),
        };
        for &offset in offsets {
            let text = reader
                .line_at(offset)
                .map_err(|e| InputFileError::from(format!("{shown}: cannot read again: {e}")))?;
            let parsed = parse_line(text, self.format, rules).map_err(|why| {
                InputFileError::from(format!("{shown}: changed while the run read it: {why}"))
            })?;
            if id.is_none() {
                id = parsed.conversation_id;
            }
            turns.extend(parsed.turns);
        }
        Ok(Conversation {
            id: id.unwrap_or_else(|| format!("line-{}", index.line)),
            number: n as u32,
            turns,
        })
    }

    /// Opens the file for reading conversations back.
    pub fn reader(&self) -> std::io::Result<LineReader> {
        Ok(LineReader {
            file: BufReader::with_capacity(64 << 10, File::open(&self.path)?),
            line: Vec::new(),
        })
    }
}

/// Whether the file's first entry carries a timestamp (a multi_turn line: its first turn), which
/// makes `aiperf profile` replay it on a fixed schedule. False when it cannot be read: reading
/// it whole later says why.
pub fn first_entry_has_timestamp(path: &Path, format: FileFormat) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let mut line = String::new();
    let mut reader = BufReader::new(file).take(MAX_LINE_BYTES as u64);
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) if line.trim().is_empty() => continue,
            Ok(_) => break,
        }
    }
    let Ok(value) = serde_json::from_str::<Value>(&line) else {
        return false;
    };
    let first = match format {
        FileFormat::MultiTurn => &value["turns"][0],
        FileFormat::SingleTurn | FileFormat::MooncakeTrace => &value,
    };
    first.get("timestamp").is_some_and(Value::is_number)
}

/// Reads lines back at their offsets.
pub struct LineReader {
    file: BufReader<File>,
    line: Vec<u8>,
}

impl LineReader {
    fn line_at(&mut self, offset: u64) -> std::io::Result<&str> {
        self.file.seek(SeekFrom::Start(offset))?;
        self.line.clear();
        (&mut self.file)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut self.line)?;
        std::str::from_utf8(&self.line)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))
    }
}

/// A reader that hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: sha2::Sha256,
}

impl<R> HashingReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: sha2::Digest::new(),
        }
    }

    fn hex_digest(self) -> String {
        sha2::Digest::finalize(self.hasher)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        Ok(n)
    }
}

/// One line, parsed and checked.
struct ParsedLine {
    turns: Vec<Turn>,
    /// A `session_id` that joins this line to others (single_turn and mooncake lines).
    spread_session: Option<String>,
    /// The conversation's own id (a multi_turn line's `session_id`).
    conversation_id: Option<String>,
}

/// Turns a serde error on a line into one sentence, suggesting the closest key for an unknown one.
fn describe_json_error(e: &serde_json::Error, keys: &[&str]) -> String {
    let message = e.to_string();
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        let hint = crate::support::suggest::closest(name, keys.iter().copied())
            .map(|c| format!(" (did you mean '{c}'?)"))
            .unwrap_or_default();
        return format!(
            "unknown key '{name}'{hint}; the keys of this format are {}",
            keys.join(", ")
        );
    }
    if e.is_syntax() || e.is_eof() {
        return format!("malformed JSON: {message}");
    }
    format!("invalid entry: {message}")
}

fn parse_line(text: &str, format: FileFormat, rules: IndexRules) -> Result<ParsedLine, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?;
    if !value.is_object() {
        return Err("each line must be a JSON object".into());
    }
    match format {
        FileFormat::SingleTurn => {
            let form: TurnForm =
                serde_json::from_value(value).map_err(|e| describe_json_error(&e, TURN_KEYS))?;
            let session = form.session_id.clone();
            Ok(ParsedLine {
                turns: vec![text_turn(form)?],
                spread_session: session,
                conversation_id: None,
            })
        }
        FileFormat::MultiTurn => {
            let form: MultiTurnForm = serde_json::from_value(value)
                .map_err(|e| describe_json_error(&e, MULTI_TURN_KEYS))?;
            if form.turns.is_empty() {
                return Err("'turns' is empty: a conversation needs at least one turn".into());
            }
            if form.turns.len() > MAX_TURNS {
                return Err(format!("more than {MAX_TURNS} turns"));
            }
            let mut turns = Vec::with_capacity(form.turns.len());
            let mut previous: Option<f64> = None;
            for (k, turn) in form.turns.into_iter().enumerate() {
                let in_turn = |why: String| format!("turn {}: {why}", k + 1);
                let turn: TurnForm = serde_json::from_value(turn)
                    .map_err(|e| in_turn(describe_json_error(&e, TURN_KEYS)))?;
                let turn = text_turn(turn).map_err(in_turn)?;
                if let (Some(t), Some(p)) = (turn.timestamp_ms, previous)
                    && t < p
                {
                    return Err(in_turn(format!(
                        "timestamp {t} is before the previous turn's {p}"
                    )));
                }
                previous = turn.timestamp_ms.or(previous);
                turns.push(turn);
            }
            Ok(ParsedLine {
                turns,
                spread_session: None,
                conversation_id: form.session_id,
            })
        }
        FileFormat::MooncakeTrace => {
            let form: MooncakeForm = serde_json::from_value(value)
                .map_err(|e| describe_json_error(&e, MOONCAKE_KEYS))?;
            let session = form.session_id.clone();
            Ok(ParsedLine {
                turns: vec![mooncake_turn(form, rules)?],
                spread_session: session,
                conversation_id: None,
            })
        }
    }
}

fn check_time(name: &str, value: Option<f64>) -> Result<Option<f64>, String> {
    match value {
        Some(v) if !v.is_finite() || v < 0.0 => Err(format!(
            "'{name}' is {v}: it must be a number of milliseconds, 0 or more"
        )),
        // About 31,700 years: past this the nanosecond clock would overflow.
        Some(v) if v > 1e15 => Err(format!("'{name}' is {v} ms, too far in the future")),
        other => Ok(other),
    }
}

/// The longest prompt or output a line may ask for, in tokens (what `--isl`/`--osl` allow).
pub const MAX_LINE_TOKENS: u32 = crate::spec::validate::MAX_TOKENS as u32;

fn check_output_length(value: Option<u32>) -> Result<Option<u32>, String> {
    match value {
        Some(0) => Err("'output_length' is 0: ask for at least one token".into()),
        Some(n) if n > MAX_LINE_TOKENS => Err(format!(
            "'output_length' is {n}: at most {MAX_LINE_TOKENS} tokens"
        )),
        other => Ok(other),
    }
}

fn text_turn(form: TurnForm) -> Result<Turn, String> {
    if let Some(field) = form.first_media() {
        return Err(format!(
            "'{field}' needs a multimodal run, and aiperf sends text only: remove the field or use text"
        ));
    }
    let text = match (form.text, form.texts) {
        (Some(_), Some(_)) => return Err("give 'text' or 'texts', not both".into()),
        (Some(text), None) => text,
        (None, Some(texts)) => texts.join("\n"),
        (None, None) => return Err("the entry has no content: give 'text' or 'texts'".into()),
    };
    if text.is_empty() {
        return Err("the entry's text is empty".into());
    }
    Ok(Turn {
        content: TurnContent::Text(text),
        timestamp_ms: check_time("timestamp", form.timestamp)?,
        delay_ms: check_time("delay", form.delay)?,
        role: form.role,
        output_length: check_output_length(form.output_length)?,
        extra: form.extra,
    })
}

fn mooncake_turn(form: MooncakeForm, rules: IndexRules) -> Result<Turn, String> {
    let given = [
        form.text_input.is_some(),
        form.messages.is_some(),
        form.payload.is_some(),
        form.input_length.is_some() || form.hash_ids.is_some(),
    ]
    .iter()
    .filter(|&&g| g)
    .count();
    if given == 0 {
        return Err(
            "the entry has no content: give 'input_length' (with optional 'hash_ids'), 'text_input', 'messages' or 'payload'"
                .into(),
        );
    }
    if given > 1 {
        return Err(
            "give one of 'input_length'/'hash_ids', 'text_input', 'messages' or 'payload', not several".into(),
        );
    }
    if form.tools.is_some() && form.messages.is_none() {
        return Err("'tools' goes with 'messages'".into());
    }
    let content = if let Some(text) = form.text_input {
        if text.is_empty() {
            return Err("'text_input' is empty".into());
        }
        TurnContent::Text(text)
    } else if let Some(messages) = form.messages {
        if messages.is_empty() {
            return Err("'messages' is empty".into());
        }
        if !rules.chat {
            return Err("'messages' needs --endpoint-type chat".into());
        }
        TurnContent::Messages {
            messages,
            tools: form.tools,
        }
    } else if let Some(payload) = form.payload {
        TurnContent::Payload(payload)
    } else {
        let hash_ids = form.hash_ids.unwrap_or_default();
        let Some(input_length) = form.input_length else {
            return Err("'hash_ids' needs 'input_length' (the prompt's tokens)".into());
        };
        if input_length == 0 {
            return Err("'input_length' is 0: a prompt needs at least one token".into());
        }
        if input_length > MAX_LINE_TOKENS {
            return Err(format!(
                "'input_length' is {input_length}: at most {MAX_LINE_TOKENS} tokens"
            ));
        }
        if hash_ids.len() > MAX_TURNS {
            return Err(format!("more than {MAX_TURNS} hash_ids"));
        }
        let blocks = input_length.div_ceil(rules.block_size) as usize;
        if hash_ids.len() > blocks {
            return Err(format!(
                "{} hash_ids need more than input_length {input_length} tokens: at block size {} they allow at most {blocks}",
                hash_ids.len(),
                rules.block_size
            ));
        }
        TurnContent::Synthetic {
            input_length,
            hash_ids,
        }
    };
    Ok(Turn {
        content,
        timestamp_ms: check_time("timestamp", form.timestamp)?,
        delay_ms: check_time("delay", form.delay)?,
        role: None,
        output_length: check_output_length(form.output_length)?,
        extra: form.extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const RULES: IndexRules = IndexRules {
        block_size: 512,
        chat: true,
    };

    fn file(lines: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(lines.as_bytes()).unwrap();
        f
    }

    fn index(lines: &str, format: FileFormat) -> Result<InputFile, String> {
        let f = file(lines);
        InputFile::index(f.path(), format, RULES).map_err(|e| {
            let path = f.path().display().to_string();
            e.0.replace(&path, "F")
        })
    }

    fn all(lines: &str, format: FileFormat) -> Vec<Conversation> {
        let f = file(lines);
        let input = InputFile::index(f.path(), format, RULES).unwrap();
        let mut reader = input.reader().unwrap();
        (0..input.conversation_count())
            .map(|n| input.read(&mut reader, n, RULES).unwrap())
            .collect()
    }

    #[test]
    fn single_turn_reads_every_field() {
        let c = all(
            concat!(
                r#"{"text": "hello", "timestamp": 5, "delay": 2.5, "role": "user", "output_length": 7, "extra": {"temperature": 0}}"#,
                "\n\n",
                r#"{"texts": ["a", "b"]}"#,
                "\n"
            ),
            FileFormat::SingleTurn,
        );
        assert_eq!(c.len(), 2);
        let t = &c[0].turns[0];
        assert_eq!(t.content, TurnContent::Text("hello".into()));
        assert_eq!(
            (t.timestamp_ms, t.delay_ms, t.output_length),
            (Some(5.0), Some(2.5), Some(7))
        );
        assert_eq!(t.role.as_deref(), Some("user"));
        assert_eq!(t.extra.as_ref().unwrap()["temperature"], 0);
        assert_eq!(c[1].turns[0].content, TurnContent::Text("a\nb".into()));
        assert_eq!(c[1].id, "line-3");
    }

    #[test]
    fn single_turn_lines_of_one_session_form_one_conversation_in_file_order() {
        let c = all(
            concat!(
                r#"{"session_id": "s1", "text": "one"}"#,
                "\n",
                r#"{"session_id": "s2", "text": "other"}"#,
                "\n",
                r#"{"session_id": "s1", "text": "two", "delay": 100}"#,
                "\n"
            ),
            FileFormat::SingleTurn,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].id, "s1");
        assert_eq!(c[0].turns.len(), 2);
        assert_eq!(c[0].turns[1].content, TurnContent::Text("two".into()));
        assert_eq!(c[0].turns[1].delay_ms, Some(100.0));
        assert_eq!(c[1].id, "s2");
    }

    #[test]
    fn multi_turn_reads_turns_in_order() {
        let c = all(
            r#"{"session_id": "chat-1", "turns": [{"text": "hi", "timestamp": 0}, {"text": "more", "delay": 500, "output_length": 3}]}"#,
            FileFormat::MultiTurn,
        );
        assert_eq!(c[0].id, "chat-1");
        assert_eq!(c[0].turns.len(), 2);
        assert_eq!(c[0].turns[1].delay_ms, Some(500.0));
        assert_eq!(c[0].turns[1].output_length, Some(3));
    }

    #[test]
    fn mooncake_reads_hash_ids_text_messages_and_payload() {
        let c = all(
            concat!(
                r#"{"timestamp": 0, "input_length": 1000, "output_length": 52, "hash_ids": [46, 47]}"#,
                "\n",
                r#"{"timestamp": 10, "text_input": "literal", "output_length": 4}"#,
                "\n",
                r#"{"timestamp": 20, "messages": [{"role": "user", "content": "m"}], "tools": [{"type": "function"}]}"#,
                "\n",
                r#"{"timestamp": 30, "payload": {"model": "x", "messages": []}, "session_id": "p", "delay": 1, "extra": {"top_p": 1}}"#,
                "\n",
                r#"{"timestamp": 40, "input_length": 9}"#,
                "\n"
            ),
            FileFormat::MooncakeTrace,
        );
        assert_eq!(
            c[0].turns[0].content,
            TurnContent::Synthetic {
                input_length: 1000,
                hash_ids: vec![46, 47]
            }
        );
        assert_eq!(c[0].turns[0].output_length, Some(52));
        assert_eq!(c[1].turns[0].content, TurnContent::Text("literal".into()));
        assert!(matches!(
            &c[2].turns[0].content,
            TurnContent::Messages { tools: Some(_), .. }
        ));
        assert!(matches!(&c[3].turns[0].content, TurnContent::Payload(p) if p["model"] == "x"));
        assert_eq!(c[3].id, "p");
        assert_eq!(
            c[4].turns[0].content,
            TurnContent::Synthetic {
                input_length: 9,
                hash_ids: vec![]
            }
        );
    }

    #[test]
    fn bad_lines_name_the_file_the_line_and_the_problem() {
        use FileFormat::*;
        let cases: &[(&str, FileFormat, &str)] = &[
            (
                "{\"text\": \"a\"}\n{oops\n",
                SingleTurn,
                "F:2: malformed JSON",
            ),
            (
                "{\"txt\": \"a\"}\n",
                SingleTurn,
                "F:1: unknown key 'txt' (did you mean 'text'?)",
            ),
            (
                "{\"role\": \"user\"}\n",
                SingleTurn,
                "F:1: the entry has no content",
            ),
            (
                "{\"timestamp\": 1}\n",
                MooncakeTrace,
                "F:1: the entry has no content",
            ),
            (
                "{\"input_length\": 600, \"hash_ids\": [1, 2, 3]}\n",
                MooncakeTrace,
                "F:1: 3 hash_ids need more than input_length 600",
            ),
            (
                "{\"text\": \"a\", \"timestamp\": -1}\n",
                SingleTurn,
                "F:1: 'timestamp' is -1",
            ),
            (
                "{\"text\": \"a\", \"timestamp\": 5}\n{\"text\": \"b\", \"timestamp\": 4}\n",
                SingleTurn,
                "F:2: timestamp 4 is before line 1's 5",
            ),
            ("\n\n", SingleTurn, "F: the input file has no entries"),
            (
                "{\"text\": \"a\", \"image\": \"x.png\"}\n",
                SingleTurn,
                "F:1: 'image' needs a multimodal run",
            ),
            ("{\"turns\": []}\n", MultiTurn, "F:1: 'turns' is empty"),
            (
                "{\"turns\": [{\"txt\": 1}]}\n",
                MultiTurn,
                "F:1: turn 1: unknown key 'txt'",
            ),
            (
                "[1, 2]\n",
                SingleTurn,
                "F:1: each line must be a JSON object",
            ),
            (
                "{\"input_lenght\": 5}\n",
                MooncakeTrace,
                "did you mean 'input_length'?",
            ),
            (
                "{\"input_length\": 5, \"output_length\": 0}\n",
                MooncakeTrace,
                "'output_length' is 0",
            ),
            (
                "{\"input_length\": 4000000000}\n",
                MooncakeTrace,
                "'input_length' is 4000000000: at most 1000000",
            ),
            (
                "{\"input_length\": 5000000000}\n",
                MooncakeTrace,
                "F:1: invalid entry",
            ),
            (
                "{\"text\": \"a\", \"output_length\": 2000000}\n",
                SingleTurn,
                "'output_length' is 2000000",
            ),
            (
                "{\"text\": \"a\", \"timestamp\": 1e300}\n",
                SingleTurn,
                "too far in the future",
            ),
            ("\u{0}\u{ff}\n", SingleTurn, "F:1:"),
        ];
        for (lines, format, expected) in cases {
            let e = index(lines, *format).unwrap_err();
            assert!(e.contains(expected), "{lines:?}: {e}");
        }
    }

    #[test]
    fn index_records_timestamps_hash_and_stats() {
        let f = file("{\"text\": \"a\", \"timestamp\": 3}\n{\"text\": \"b\", \"timestamp\": 9}\n");
        let input = InputFile::index(f.path(), FileFormat::SingleTurn, RULES).unwrap();
        assert_eq!(input.timestamp_ms(1), Some(9.0));
        assert_eq!(input.untimed_line(), None);
        assert_eq!(input.stats.first_timestamp_ms, Some(3.0));
        assert_eq!(input.stats.turns, 2);
        assert_eq!(input.sha256.len(), 64);
        let untimed = file("{\"text\": \"a\", \"timestamp\": 3}\n{\"text\": \"b\"}\n");
        let input = InputFile::index(untimed.path(), FileFormat::SingleTurn, RULES).unwrap();
        assert_eq!(input.untimed_line(), Some(2));
    }
}
