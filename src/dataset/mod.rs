//! Prompts: synthetic prompts with exact token counts, input files (single_turn, multi_turn,
//! mooncake_trace) and the conversations built from them, and the tokenizers that count them.

pub mod block_prompts;
pub mod bpe;
pub mod conversations;
pub mod input_file;
mod pretokenize;
pub mod synthetic;
pub mod tokenizer;

pub use synthetic::{Dataset, DatasetEntry};

use std::sync::Arc;

/// What a request sent, as the records report it: which conversation and turn, and the input
/// and output lengths it asked for (known when the body was built, so nothing is looked up later).
#[derive(Debug, Clone)]
pub struct RequestInput {
    /// The conversation's session id (`conversation_id` in the records).
    pub conversation: Arc<str>,
    /// The conversation's number in the dataset (`session_num`).
    pub session_num: u32,
    /// The turn within the conversation, from 0 (`turn_index`).
    pub turn: u32,
    /// Input tokens the body carries (with a multi-turn conversation's history).
    pub input_tokens: u32,
    /// Requested output tokens, if any.
    pub max_tokens: Option<u32>,
    /// Set on the last turn of a conversation of several turns.
    pub session_end: Option<SessionEnd>,
}

/// What the last turn of a conversation knows of the whole conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionEnd {
    /// Run-clock time its first turn was due.
    pub started_ns: u64,
    /// Turns it sent.
    pub turns: u32,
}

impl Default for RequestInput {
    fn default() -> Self {
        Self {
            conversation: Arc::from(""),
            session_num: 0,
            turn: 0,
            input_tokens: 0,
            max_tokens: None,
            session_end: None,
        }
    }
}
