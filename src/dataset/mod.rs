//! Prompts: synthetic prompts with exact token counts, and the tokenizers that count them.

pub mod bpe;
mod pretokenize;
pub mod synthetic;
pub mod tokenizer;

pub use synthetic::{Dataset, DatasetEntry};
