//! Conversations from an input file, made ready to send one at a time while the run goes.
//!
//! A producer thread per phase reads conversations back from the file in the phase's order
//! (file order, a seeded random draw, or a seeded shuffle per pass; a fixed-schedule replay
//! takes its window in file order, once), builds each turn's body, and hands them over through
//! a bounded queue, so only a few hundred conversations exist at any moment whatever the file's
//! size. Bodies are built by the endpoint exactly as for synthetic prompts; a turn that carries
//! the conversation so far gets it added when it is sent ([`PreparedTurn::body_with`]).

use super::block_prompts::BlockPrompts;
use super::input_file::{IndexRules, InputFile, InputFileError, TurnContent};
use super::tokenizer::Tokenizer;
use crate::endpoint::{BodyContext, Endpoint};
use crate::spec::{SamplingStrategy, TokenDistribution};
use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Conversations built ahead of the requests that need them.
const PREPARED_AHEAD: usize = 256;

/// One turn, ready to send.
#[derive(Debug, Clone)]
pub struct PreparedTurn {
    /// The body as JSON, without history (`Null` for a conversation of one turn, which needs
    /// no history).
    pub payload: Value,
    /// The body serialized, for a turn sent as it is.
    pub body: Bytes,
    /// Whether the conversation so far is put before this turn's messages.
    pub takes_history: bool,
    /// Tokens of this turn's own input (without history).
    pub input_tokens: u32,
    /// Requested output tokens.
    pub max_tokens: Option<u32>,
    /// Think time after the previous turn's response.
    pub delay: Option<Duration>,
    /// When to send it on the trace's clock (ms), for a fixed schedule.
    pub timestamp_ms: Option<f64>,
}

impl PreparedTurn {
    /// The body to send after `history` (earlier messages and the replies the server gave).
    pub fn body_with(&self, history: &[Value]) -> Bytes {
        if !self.takes_history || history.is_empty() {
            return self.body.clone();
        }
        let mut payload = self.payload.clone();
        if let Some(messages) = payload.get_mut("messages").and_then(Value::as_array_mut) {
            let mut all = history.to_vec();
            all.append(messages);
            *messages = all;
        }
        Bytes::from(serde_json::to_vec(&payload).unwrap_or_default())
    }

    /// The messages this turn adds to the conversation (the user's, before the reply).
    pub fn messages(&self) -> &[Value] {
        self.payload
            .get("messages")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }
}

/// A conversation ready to send.
#[derive(Debug, Clone)]
pub struct PreparedConversation {
    /// Its session id.
    pub id: Arc<str>,
    /// Its number in the file's order (the records' `session_num`).
    pub number: u32,
    /// Its turns in order.
    pub turns: Vec<PreparedTurn>,
}

impl PreparedConversation {
    /// When its first turn is due on the trace's clock (ms).
    pub fn timestamp_ms(&self) -> Option<f64> {
        self.turns.first().and_then(|t| t.timestamp_ms)
    }
}

/// Which conversations a phase sends, in which order.
#[derive(Debug, Clone, Copy)]
pub enum Order {
    /// Every conversation whose first timestamp lies in the window (ms, inclusive), once, in
    /// file order.
    Window {
        /// Skip conversations before this trace time.
        start_ms: Option<f64>,
        /// Skip conversations after this trace time.
        end_ms: Option<f64>,
    },
    /// Draw by the strategy; `once` stops after one pass (every conversation sent once).
    Drawn {
        /// How.
        strategy: SamplingStrategy,
        /// One pass only.
        once: bool,
    },
}

/// Everything building bodies needs.
pub struct Builder {
    /// The checked file.
    pub file: Arc<InputFile>,
    /// The rules it was checked with.
    pub rules: IndexRules,
    /// Counts tokens and makes block prompts.
    pub tokenizer: Arc<dyn Tokenizer>,
    /// Builds bodies.
    pub endpoint: &'static dyn Endpoint,
    /// Model, streaming and extra fields.
    pub body: BodyContext,
    /// Output length of turns without `output_length`.
    pub osl: Option<TokenDistribution>,
    /// Seed for block text, unshared prompts and drawn lengths.
    pub seed: u64,
}

/// The queue a phase's requests take conversations from; ends when the producer is done.
pub struct Feed {
    receiver: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<PreparedConversation>>,
    primed: tokio::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
    /// The producer's error, if reading the file failed mid-run.
    pub failure: Arc<Mutex<Option<String>>>,
}

impl Feed {
    /// Waits until the queue is full or the producer is done, so a phase that starts its clock
    /// after this never waits for a conversation to be built.
    pub async fn primed(&self) {
        if let Some(primed) = self.primed.lock().await.take() {
            let _ = primed.await;
        }
    }

    /// The next conversation, or `None` once the phase's conversations are all handed out.
    pub async fn next(&self) -> Option<PreparedConversation> {
        self.receiver.lock().await.recv().await
    }

    /// The next conversation if one is ready now, without waiting (for a blocking thread).
    pub fn try_next(&self) -> Option<PreparedConversation> {
        self.receiver.try_lock().ok()?.try_recv().ok()
    }

    /// The same as [`Feed::next`], for a blocking thread (the open-loop pacer).
    pub fn blocking_next(&self) -> Option<PreparedConversation> {
        self.receiver.blocking_lock().blocking_recv()
    }
}

impl Builder {
    /// Starts the producer thread that hands out a phase's conversations in `order` (drawn
    /// with `seed`); the feed ends when they are all handed out or the phase drops it.
    pub fn start(self: &Arc<Self>, order: Order, seed: u64) -> Feed {
        let (tx, rx) = tokio::sync::mpsc::channel(PREPARED_AHEAD);
        let (primed_tx, primed_rx) = tokio::sync::oneshot::channel();
        let failure = Arc::new(Mutex::new(None));
        let (builder, failed) = (self.clone(), failure.clone());
        let spawned = std::thread::Builder::new()
            .name("aiperf-dataset".into())
            .spawn(move || {
                let mut primed = Some(primed_tx);
                if let Err(e) = builder.produce(order, seed, &tx, &mut primed)
                    && let Ok(mut slot) = failed.lock()
                {
                    *slot = Some(e.to_string());
                }
                // Done (or failed): dropping the sender says so to a phase still waiting.
                drop(primed);
            });
        if let Err(e) = spawned
            && let Ok(mut slot) = failure.lock()
        {
            *slot = Some(format!("cannot start the dataset reader: {e}"));
        }
        Feed {
            receiver: tokio::sync::Mutex::new(rx),
            primed: tokio::sync::Mutex::new(Some(primed_rx)),
            failure,
        }
    }

    fn produce(
        &self,
        order: Order,
        seed: u64,
        tx: &tokio::sync::mpsc::Sender<PreparedConversation>,
        primed: &mut Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<(), InputFileError> {
        let mut reader = self
            .file
            .reader()
            .map_err(|e| InputFileError::from(format!("{}: {e}", self.file.path.display())))?;
        let mut blocks =
            BlockPrompts::new(self.tokenizer.clone(), self.rules.block_size, self.seed)
                .map_err(|e| InputFileError::from(e.to_string()))?;
        let n = self.file.conversation_count();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut send = |index: usize, rng: &mut ChaCha8Rng| -> Result<bool, InputFileError> {
            let conversation = self.file.read(&mut reader, index, self.rules)?;
            let prepared = self.prepare(&conversation, &mut blocks, rng);
            // The phase ended (or stopped early): no one takes more.
            let taken = tx.blocking_send(prepared).is_ok();
            if tx.capacity() == 0
                && let Some(primed) = primed.take()
            {
                let _ = primed.send(());
            }
            Ok(taken)
        };
        match order {
            Order::Window { start_ms, end_ms } => {
                for index in 0..n {
                    let t = self.file.timestamp_ms(index).unwrap_or(0.0);
                    if start_ms.is_some_and(|s| t < s) {
                        continue;
                    }
                    if end_ms.is_some_and(|e| t > e) {
                        break;
                    }
                    if !send(index, &mut rng)? {
                        break;
                    }
                }
            }
            Order::Drawn { strategy, once } => {
                let mut permutation: Vec<u32> = Vec::new();
                'passes: loop {
                    if strategy == SamplingStrategy::Shuffle {
                        permutation = (0..n as u32).collect();
                        rand::seq::SliceRandom::shuffle(permutation.as_mut_slice(), &mut rng);
                    }
                    for k in 0..n {
                        let index = match strategy {
                            SamplingStrategy::Sequential => k,
                            SamplingStrategy::Random => rng.random_range(0..n),
                            SamplingStrategy::Shuffle => {
                                permutation.get(k).map_or(k, |&i| i as usize)
                            }
                        };
                        if !send(index, &mut rng)? {
                            break 'passes;
                        }
                    }
                    if once {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Builds every turn's body of one conversation.
    pub fn prepare(
        &self,
        conversation: &super::input_file::Conversation,
        blocks: &mut BlockPrompts,
        rng: &mut ChaCha8Rng,
    ) -> PreparedConversation {
        let several = conversation.turns.len() > 1;
        let turns = conversation
            .turns
            .iter()
            .enumerate()
            .map(|(k, turn)| {
                let max_tokens = turn
                    .output_length
                    .or_else(|| self.osl.map(|d| d.sample(&mut *rng)));
                let (mut payload, texts, takes_history) = match &turn.content {
                    TurnContent::Text(text) => (
                        self.endpoint.build_body(text, max_tokens, &self.body),
                        vec![text.clone()],
                        true,
                    ),
                    TurnContent::Synthetic {
                        input_length,
                        hash_ids,
                    } => {
                        let key = (u64::from(conversation.number) << 20) | k as u64;
                        let prompt = blocks.prompt(*input_length, hash_ids, key);
                        let payload = self.endpoint.build_body(&prompt, max_tokens, &self.body);
                        (payload, vec![prompt], true)
                    }
                    TurnContent::Messages { messages, tools } => {
                        let mut payload = self.endpoint.build_body("", max_tokens, &self.body);
                        payload["messages"] = Value::Array(messages.clone());
                        if let Some(tools) = tools {
                            payload["tools"] = tools.clone();
                        }
                        (payload, message_texts(messages), false)
                    }
                    TurnContent::Payload(body) => {
                        let texts = body
                            .get("messages")
                            .and_then(Value::as_array)
                            .map(|m| message_texts(m))
                            .or_else(|| {
                                body.get("prompt")
                                    .and_then(Value::as_str)
                                    .map(|p| vec![p.to_string()])
                            })
                            .unwrap_or_default();
                        (Value::Object(body.clone()), texts, false)
                    }
                };
                if let (Some(role), Some(first)) = (
                    &turn.role,
                    payload
                        .get_mut("messages")
                        .and_then(Value::as_array_mut)
                        .and_then(|m| m.first_mut()),
                ) {
                    first["role"] = json!(role);
                }
                if let (Some(extra), Some(object)) = (&turn.extra, payload.as_object_mut()) {
                    merge(object, extra);
                }
                let input_tokens = if matches!(
                    turn.content,
                    TurnContent::Text(_) | TurnContent::Synthetic { .. }
                ) {
                    let prompt = texts.first().map_or("", String::as_str);
                    self.endpoint
                        .input_texts(prompt, &payload)
                        .iter()
                        .map(|t| self.tokenizer.count(t))
                        .sum::<usize>()
                } else {
                    texts.iter().map(|t| self.tokenizer.count(t)).sum::<usize>()
                };
                let body = Bytes::from(serde_json::to_vec(&payload).unwrap_or_default());
                PreparedTurn {
                    // Only a conversation's history needs the body as JSON; a single turn is
                    // sent as its bytes, and the queue ahead holds half the memory.
                    payload: if several { payload } else { Value::Null },
                    body,
                    takes_history,
                    input_tokens: u32::try_from(input_tokens).unwrap_or(u32::MAX),
                    max_tokens,
                    delay: turn.delay_ms.map(|ms| Duration::from_secs_f64(ms / 1e3)),
                    timestamp_ms: turn.timestamp_ms,
                }
            })
            .collect();
        PreparedConversation {
            id: conversation.id.as_str().into(),
            number: conversation.number,
            turns,
        }
    }
}

/// The text of every message's content (a string, or the text parts of a list).
fn message_texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .flat_map(|m| match &m["content"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p["text"].as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn merge(body: &mut Map<String, Value>, extra: &Map<String, Value>) {
    for (k, v) in extra {
        body.insert(k.clone(), v.clone());
    }
}
