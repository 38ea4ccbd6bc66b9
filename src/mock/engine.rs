//! The mock server's timing engine, on its own thread so token times are not rounded to the
//! async runtime's millisecond timer.
//!
//! Two models:
//! - **Independent** (`max_batch = 0`): every request runs on its own clock with unlimited
//!   capacity: first token at `arrival + ttft_ms + prefill_ms_per_token × ISL`, then one token
//!   `itl_ms` after the previous one was emitted (each delay scaled by a uniform jitter factor in [1 - jitter, 1 + jitter]).
//! - **Continuous batching** (`max_batch = M > 0`): an engine loop of steps. At the start of a step
//!   waiting requests are admitted (FIFO) while fewer than M sequences run. With B sequences in the
//!   step (running + admitted) and P prompt tokens admitted, the step lasts
//!   `ttft_ms + prefill_ms_per_token × P + decode_ms_per_seq × (B - 1)` if it admits anything, else
//!   `itl_ms + decode_ms_per_seq × (B - 1)`. At the end of a step every sequence in it emits one
//!   token. So at low load TTFT ≈ ttft_ms + prefill × ISL and ITL ≈ itl_ms; at saturation output
//!   throughput is M / (itl_ms + decode_ms_per_seq × (M - 1)) tokens per ms, and extra load only
//!   waits in the queue, so TTFT climbs with load.
//!
//! A sequence whose receiver has gone (client disconnected) is dropped, freeing its batch slot.

use crate::spec::mock_url::MockConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// A request handed to the engine.
pub struct Admission {
    /// Prompt length in tokens.
    pub prompt_tokens: u32,
    /// Tokens to generate.
    pub output_tokens: u32,
    /// When the request arrived.
    pub arrival: Instant,
    /// Receives one `()` per generated token; dropped when generation ends.
    pub sink: UnboundedSender<()>,
}

/// A handle to submit requests to the engine thread; the thread ends when every handle is dropped.
#[derive(Clone)]
pub struct EngineHandle {
    tx: Sender<Admission>,
}

impl EngineHandle {
    /// Starts the engine thread.
    pub fn start(config: &MockConfig) -> std::io::Result<Self> {
        let (tx, rx) = channel();
        let config = config.clone();
        std::thread::Builder::new()
            .name("mock-engine".into())
            .spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
                if config.max_batch == 0 {
                    run_independent(&config, &rx, &mut rng);
                } else {
                    run_batching(&config, &rx, &mut rng);
                }
            })?;
        Ok(Self { tx })
    }

    /// Submits a request; false if the engine has stopped.
    pub fn submit(&self, admission: Admission) -> bool {
        self.tx.send(admission).is_ok()
    }
}

fn ms(value: f64) -> Duration {
    Duration::from_secs_f64(value.max(0.0) / 1e3)
}

fn jittered(config: &MockConfig, rng: &mut ChaCha8Rng, value_ms: f64) -> Duration {
    if config.jitter > 0.0 {
        ms(value_ms * rng.random_range(1.0 - config.jitter..=1.0 + config.jitter))
    } else {
        ms(value_ms)
    }
}

/// Waits for the next admission until `deadline` (forever if `None`). `Err` = engine shut down.
fn wait(rx: &Receiver<Admission>, deadline: Option<Instant>) -> Result<Option<Admission>, ()> {
    match deadline {
        None => rx.recv().map(Some).map_err(|_| ()),
        Some(d) => match rx.recv_timeout(d.saturating_duration_since(Instant::now())) {
            Ok(a) => Ok(Some(a)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(()),
        },
    }
}

struct Sequence {
    sink: UnboundedSender<()>,
    remaining: u32,
    prompt_tokens: u32,
}

impl Sequence {
    /// Emits one token; false when the sequence is finished or its client is gone.
    fn emit(&mut self) -> bool {
        if self.sink.send(()).is_err() {
            return false;
        }
        self.remaining = self.remaining.saturating_sub(1);
        self.remaining > 0
    }
}

fn run_independent(config: &MockConfig, rx: &Receiver<Admission>, rng: &mut ChaCha8Rng) {
    let mut timers: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut sequences: HashMap<u64, Sequence> = HashMap::new();
    let mut next_id = 0u64;
    loop {
        let next_deadline = timers.peek().map(|Reverse((at, _))| *at);
        match wait(rx, next_deadline) {
            Ok(Some(a)) => {
                if a.output_tokens == 0 {
                    continue;
                }
                let first = a.arrival
                    + jittered(
                        config,
                        rng,
                        config.ttft_ms + config.prefill_ms_per_token * a.prompt_tokens as f64,
                    );
                sequences.insert(
                    next_id,
                    Sequence {
                        sink: a.sink,
                        remaining: a.output_tokens,
                        prompt_tokens: 0,
                    },
                );
                timers.push(Reverse((first, next_id)));
                next_id += 1;
            }
            Ok(None) => {}
            Err(()) if timers.is_empty() => return,
            Err(()) => std::thread::sleep(Duration::from_millis(1)),
        }
        let now = Instant::now();
        while let Some(&Reverse((at, id))) = timers.peek() {
            if at > now {
                break;
            }
            timers.pop();
            let Some(seq) = sequences.get_mut(&id) else {
                continue;
            };
            if seq.emit() {
                // The next token is due one ITL after this one was actually emitted: like a real
                // engine, the mock never catches up with a burst, so every gap is at least ITL.
                timers.push(Reverse((
                    at.max(now) + jittered(config, rng, config.itl_ms),
                    id,
                )));
            } else {
                sequences.remove(&id);
            }
        }
    }
}

fn run_batching(config: &MockConfig, rx: &Receiver<Admission>, rng: &mut ChaCha8Rng) {
    let max_batch = config.max_batch as usize;
    let mut waiting: VecDeque<Sequence> = VecDeque::new();
    let mut running: Vec<Sequence> = Vec::new();
    let mut step_end: Option<Instant> = None;
    let mut shutting_down = false;
    loop {
        if shutting_down && step_end.is_none() && waiting.is_empty() {
            return;
        }
        match wait(rx, step_end) {
            Ok(Some(a)) => {
                if a.output_tokens > 0 {
                    waiting.push_back(Sequence {
                        sink: a.sink,
                        remaining: a.output_tokens,
                        prompt_tokens: a.prompt_tokens,
                    });
                }
            }
            Ok(None) => {}
            Err(()) => {
                shutting_down = true;
                if step_end.is_none() {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        let now = Instant::now();
        let step_start = match step_end {
            Some(end) if end <= now => {
                // Finish the step: every sequence in it emits a token. The next step starts now
                // (a late engine loop is a slow engine, never followed by a catch-up burst).
                running.retain_mut(Sequence::emit);
                now
            }
            Some(_) => continue,
            None => now,
        };
        step_end = None;
        let mut admitted_prompt_tokens = 0u64;
        let mut admitted = 0usize;
        while running.len() < max_batch {
            let Some(seq) = waiting.pop_front() else {
                break;
            };
            if seq.sink.is_closed() {
                continue;
            }
            admitted_prompt_tokens += seq.prompt_tokens as u64;
            admitted += 1;
            running.push(seq);
        }
        if running.is_empty() {
            continue;
        }
        let batch_extra = config.decode_ms_per_seq * (running.len() - 1) as f64;
        let step_ms = if admitted > 0 {
            config.ttft_ms
                + config.prefill_ms_per_token * admitted_prompt_tokens as f64
                + batch_extra
        } else {
            config.itl_ms + batch_extra
        };
        step_end = Some(step_start + jittered(config, rng, step_ms));
    }
}
