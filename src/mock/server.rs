//! The mock server's HTTP layer: OpenAI-compatible routes over the timing engine, with faults.

use super::engine::{Admission, EngineHandle};
use super::read_stamp::{ReadStamp, RequestArrival};
use super::words::word;
use crate::dataset::tokenizer::{Tokenizer, builtin};
use crate::spec::mock_url::MockConfig;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

struct AppState {
    config: MockConfig,
    /// `--timing-log`: one line per streamed response with the server's own wall-clock times.
    timing_log: Option<std::sync::Mutex<std::fs::File>>,
    /// `--request-log`: one line per generation request with its body and the reply's text.
    request_log: Option<std::sync::Mutex<std::fs::File>>,
    engine: EngineHandle,
    tokenizer: Arc<dyn Tokenizer>,
    requests: AtomicU64,
    /// Responses sent to the end (the last byte handed to the connection), for `GET /stats`.
    completed: Arc<AtomicU64>,
    /// Streamed responses the client went away from before their end, for `GET /stats`.
    disconnected: Arc<AtomicU64>,
    /// Connections accepted, for `GET /stats`.
    connections: Arc<AtomicU64>,
}

/// A streamed response in progress: counted as a disconnect if it is dropped (its client went
/// away) before it was delivered to the end or ended by an injected fault.
struct Delivery {
    disconnected: Arc<AtomicU64>,
    ended: bool,
}

impl Delivery {
    /// The response ended on the server's terms (delivered, or an injected fault).
    fn end(mut self) {
        self.ended = true;
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if !self.ended {
            self.disconnected.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Which API a request came in on.
#[derive(Clone, Copy, PartialEq)]
enum Api {
    Chat,
    Completions,
}

/// What was decided about one request up front.
#[derive(Default)]
struct Faults {
    reset: bool,
    malformed: bool,
    stream_error: bool,
    stall: bool,
}

/// A running in-process mock server; it stops when this is dropped.
pub struct MockServer {
    /// The bound address (127.0.0.1 and a free port).
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl MockServer {
    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Files the mock server appends to as it serves.
#[derive(Debug, Clone, Copy, Default)]
pub struct MockLogs<'a> {
    /// One line per streamed response with the server's own wall-clock times.
    pub timing: Option<&'a std::path::Path>,
    /// One line per generation request: what it received and what it answered.
    pub requests: Option<&'a std::path::Path>,
}

fn append_log(
    path: Option<&std::path::Path>,
) -> std::io::Result<Option<std::sync::Mutex<std::fs::File>>> {
    path.map(|path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(std::sync::Mutex::new)
    })
    .transpose()
}

/// Appends one line to a log: one write per line on an append-only file, so lines never
/// interleave.
fn write_log_line(log: &std::sync::Mutex<std::fs::File>, value: &Value) {
    let mut line = value.to_string();
    line.push('\n');
    if let Ok(mut file) = log.lock() {
        let _ = std::io::Write::write_all(&mut *file, line.as_bytes());
    }
}

fn router(
    config: MockConfig,
    logs: MockLogs<'_>,
    connections: Arc<AtomicU64>,
) -> std::io::Result<Router> {
    let timing_log = append_log(logs.timing)?;
    let request_log = append_log(logs.requests)?;
    let state = Arc::new(AppState {
        engine: EngineHandle::start(&config)?,
        config,
        timing_log,
        request_log,
        tokenizer: builtin(),
        requests: AtomicU64::new(0),
        completed: Arc::new(AtomicU64::new(0)),
        disconnected: Arc::new(AtomicU64::new(0)),
        connections,
    });
    Ok(Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/ranking", post(rankings))
        .route("/v1/models", get(models))
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/stats", get(stats))
        .layer(axum::middleware::from_fn(take_first_read))
        .with_state(state))
}

/// When a request's bytes reached the server (empty where connections are not stamped).
#[derive(Clone, Copy, Debug)]
struct FirstRead(RequestArrival);

/// Takes every request's read stamps (so the next request on the connection gets its own) and
/// hands them to the handler.
async fn take_first_read(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let first = request
        .extensions()
        .get::<axum::extract::ConnectInfo<ReadStamp>>()
        .map(|info| info.0.take())
        .unwrap_or_default();
    request.extensions_mut().insert(FirstRead(first));
    next.run(request).await
}

/// `GET /stats`: requests received, responses sent to the end, streamed responses whose
/// client went away first, and connections accepted, so a test can compare what the client
/// recorded with what the server saw.
async fn stats(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({
        "requests": state.requests.load(Ordering::Relaxed),
        "completed": state.completed.load(Ordering::Relaxed),
        "disconnected": state.disconnected.load(Ordering::Relaxed),
        "connections": state.connections.load(Ordering::Relaxed),
    }))
}

/// Starts the server on the current runtime at `127.0.0.1:port` (0 = a free port).
pub async fn spawn(config: MockConfig, port: u16) -> std::io::Result<MockServer> {
    let connections = Arc::new(AtomicU64::new(0));
    let app = router(config, MockLogs::default(), connections.clone())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(move |stream| {
        disable_nagle(stream);
        connections.fetch_add(1, Ordering::Relaxed);
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(MockServer {
        addr,
        shutdown: Some(tx),
    })
}

/// Serves until Ctrl-C (for `aiperf mock-server`). With `timing_log`, appends one JSON line per
/// streamed response: `{"request_id", "arrived_ns", "first_read_ns", "received_ns",
/// "first_token_ns", "end_ns"}`, wall-clock nanoseconds: when the kernel queued the request's
/// first bytes on the socket (Linux; `null` elsewhere), when the server first read them, when
/// the request reached the handler, when the first token's chunk was handed to the
/// connection, and after the last; `request_id` is the `X-Request-ID` header. With
/// `logs.requests`, appends one line per chat or completions request as it arrives:
/// `{"received_ns", "request_id", "body", "reply"}`, the body as received and the text the
/// answer will carry (reasoning excluded), to check what a client sent.
pub async fn serve_forever(
    config: MockConfig,
    host: &str,
    port: u16,
    logs: MockLogs<'_>,
) -> std::io::Result<()> {
    let connections = Arc::new(AtomicU64::new(0));
    let app = router(config, logs, connections.clone())?;
    let listener = tokio::net::TcpListener::bind((host, port)).await?;
    let addr = listener.local_addr()?;
    // Stamping is on before anyone is told where to connect.
    let listener = super::read_stamp::StampingListener::new(listener, connections);
    eprintln!("aiperf mock server listening on http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<ReadStamp>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Tokens are small writes; without TCP_NODELAY, Nagle's algorithm and delayed ACKs hold them
/// back for tens of milliseconds and the mock's timing would be a lie.
fn disable_nagle(stream: &mut tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
}

async fn models(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(
        json!({"object": "list", "data": [{"id": state.config.model, "object": "model", "created": 0, "owned_by": "aiperf-mock"}]}),
    )
}

fn error_response(status: StatusCode, message: &str) -> Response {
    let body =
        json!({"error": {"message": message, "type": "mock_error", "code": status.as_u16()}});
    (status, Json(body)).into_response()
}

fn request_rng(state: &AppState) -> ChaCha8Rng {
    let n = state.requests.fetch_add(1, Ordering::Relaxed);
    ChaCha8Rng::seed_from_u64(state.config.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Injected error answers decided before any work, or `None` to proceed.
fn injected_error(state: &AppState, rng: &mut ChaCha8Rng) -> Option<Response> {
    let c = &state.config;
    if c.error_rate > 0.0 && rng.random_bool(c.error_rate) {
        let status =
            StatusCode::from_u16(c.error_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Some(error_response(status, "mock: injected error"));
    }
    if c.rate_limit_rate > 0.0 && rng.random_bool(c.rate_limit_rate) {
        let mut response = error_response(StatusCode::TOO_MANY_REQUESTS, "mock: rate limited");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(c.retry_after_s));
        return Some(response);
    }
    None
}

/// Parses a request body and draws its faults: the body and the request's generator, or the
/// answer to send instead (bad JSON, an injected error or 429).
fn accept(state: &AppState, raw: &[u8]) -> Result<(Value, ChaCha8Rng), Box<Response>> {
    let body: Value = serde_json::from_slice(raw).map_err(|e| {
        Box::new(error_response(
            StatusCode::BAD_REQUEST,
            &format!("invalid JSON body: {e}"),
        ))
    })?;
    let mut rng = request_rng(state);
    match injected_error(state, &mut rng) {
        Some(response) => Err(Box::new(response)),
        None => Ok((body, rng)),
    }
}

fn stream_faults(config: &MockConfig, rng: &mut ChaCha8Rng) -> Faults {
    let mut roll = |p: f64| p > 0.0 && rng.random_bool(p);
    Faults {
        reset: roll(config.reset_rate),
        malformed: roll(config.malformed_rate),
        stream_error: roll(config.stream_error_rate),
        stall: roll(config.stall_rate),
    }
}

fn prompt_text(api: Api, body: &Value) -> String {
    match api {
        Api::Chat => body["messages"]
            .as_array()
            .map(|msgs| {
                msgs.iter()
                    .filter_map(|m| match &m["content"] {
                        Value::String(s) => Some(s.clone()),
                        Value::Array(parts) => Some(
                            parts
                                .iter()
                                .filter_map(|p| p["text"].as_str())
                                .collect::<Vec<_>>()
                                .join(" "),
                        ),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        Api::Completions => match &body["prompt"] {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        },
    }
}

async fn chat(
    State(state): State<Arc<AppState>>,
    axum::Extension(first_read): axum::Extension<FirstRead>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    generate(state, Api::Chat, &headers, first_read, body).await
}

async fn completions(
    State(state): State<Arc<AppState>>,
    axum::Extension(first_read): axum::Extension<FirstRead>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    generate(state, Api::Completions, &headers, first_read, body).await
}

/// Wall-clock nanoseconds now.
pub(super) fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The server's own times for one streamed response, for `--timing-log`.
struct Timing {
    state: Arc<AppState>,
    request_id: Option<String>,
    arrival: RequestArrival,
    received_ns: u64,
    first_token_ns: Option<u64>,
}

impl Timing {
    fn write(&self) {
        let Some(log) = &self.state.timing_log else {
            return;
        };
        let line = json!({
            "request_id": self.request_id,
            "arrived_ns": self.arrival.arrived_ns,
            "first_read_ns": self.arrival.first_read_ns,
            "received_ns": self.received_ns,
            "first_token_ns": self.first_token_ns,
            "end_ns": wall_ns(),
        });
        write_log_line(log, &line);
    }
}

async fn generate(
    state: Arc<AppState>,
    api: Api,
    headers: &axum::http::HeaderMap,
    first_read: FirstRead,
    raw: Bytes,
) -> Response {
    let arrival = Instant::now();
    let timing = state.timing_log.is_some().then(|| Timing {
        state: state.clone(),
        request_id: headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        arrival: first_read.0,
        received_ns: wall_ns(),
        first_token_ns: None,
    });
    let (body, mut rng) = match accept(&state, &raw) {
        Ok(accepted) => accepted,
        Err(response) => return *response,
    };
    let config = &state.config;
    let model = body["model"].as_str().unwrap_or(&config.model).to_string();
    let max_tokens = body["max_completion_tokens"]
        .as_u64()
        .or_else(|| body["max_tokens"].as_u64())
        .map(|n| n.min(u32::MAX as u64) as u32)
        .unwrap_or(config.default_max_tokens);
    let reasoning = config.reasoning_tokens.min(max_tokens.saturating_sub(1));
    if let Some(log) = &state.request_log {
        let reply: String = (reasoning..max_tokens).map(word).collect();
        let line = json!({
            "received_ns": wall_ns(),
            "request_id": headers.get("x-request-id").and_then(|v| v.to_str().ok()),
            "body": body,
            "reply": reply,
        });
        write_log_line(log, &line);
    }
    let stream = body["stream"].as_bool().unwrap_or(false);
    let continuous_usage = body["stream_options"]["continuous_usage_stats"]
        .as_bool()
        .unwrap_or(false);
    let include_usage = body["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false);
    let prompt_tokens = state.tokenizer.count(&prompt_text(api, &body)) as u32;
    let (sink, ticks) = mpsc::unbounded_channel();
    if !state.engine.submit(Admission {
        prompt_tokens,
        output_tokens: max_tokens,
        arrival,
        sink,
    }) {
        return error_response(StatusCode::SERVICE_UNAVAILABLE, "mock engine stopped");
    }
    let job = Job {
        api,
        model,
        max_tokens,
        reasoning,
        prompt_tokens,
        include_usage,
        continuous_usage,
        first_chunk_tokens: config.first_chunk_tokens.max(1),
    };
    if stream {
        let faults = stream_faults(config, &mut rng);
        stream_response(
            job,
            ticks,
            faults,
            ms(config.stall_ms),
            state.completed.clone(),
            Delivery {
                disconnected: state.disconnected.clone(),
                ended: false,
            },
            timing,
        )
    } else {
        let response = full_response(job, ticks).await;
        if response.status().is_success() {
            state.completed.fetch_add(1, Ordering::Relaxed);
        }
        response
    }
}

fn ms(value: f64) -> Duration {
    Duration::from_secs_f64(value / 1e3)
}

/// One generation's fixed facts.
struct Job {
    api: Api,
    model: String,
    max_tokens: u32,
    reasoning: u32,
    prompt_tokens: u32,
    include_usage: bool,
    /// vLLM's `continuous_usage_stats`: cumulative usage in every chunk.
    continuous_usage: bool,
    /// Answer tokens bundled into the first chunk.
    first_chunk_tokens: u32,
}

impl Job {
    fn usage(&self, completion: u32) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
            "completion_tokens_details": {"reasoning_tokens": completion.min(self.reasoning)},
        })
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        match self.api {
            Api::Chat => json!({
                "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }),
            Api::Completions => json!({
                "id": "cmpl-mock", "object": "text_completion", "created": 0, "model": self.model,
                "choices": [{"index": 0, "text": delta.get("content").and_then(Value::as_str).unwrap_or(""), "finish_reason": finish}],
            }),
        }
    }

    /// The delta of token `i`: reasoning first, then answer words.
    fn token_delta(&self, i: u32) -> Value {
        if i < self.reasoning {
            json!({"reasoning_content": word(i)})
        } else {
            json!({"content": word(i)})
        }
    }
}

fn sse(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

fn stream_response(
    job: Job,
    mut ticks: mpsc::UnboundedReceiver<()>,
    faults: Faults,
    stall: Duration,
    completed: Arc<AtomicU64>,
    delivery: Delivery,
    mut timing: Option<Timing>,
) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        let halfway = job.max_tokens / 2;
        if job.api == Api::Chat
            && tx
                .send(Ok(sse(
                    &job.chunk(json!({"role": "assistant", "content": ""}), None)
                )))
                .await
                .is_err()
        {
            return;
        }
        let mut emitted = 0u32;
        let mut bundled = String::new();
        while ticks.recv().await.is_some() {
            if emitted == halfway && emitted > 0 {
                if faults.reset {
                    delivery.end();
                    let _ = tx
                        .send(Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "mock: reset",
                        )))
                        .await;
                    return;
                }
                if faults.stream_error {
                    delivery.end();
                    let error = json!({"error": {"message": "mock: injected mid-stream error", "type": "server_error", "code": 500}});
                    let _ = tx.send(Ok(sse(&error))).await;
                    let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
                    return;
                }
                if faults.malformed
                    && tx
                        .send(Ok(Bytes::from_static(
                            b"data: {\"choices\":[{\"delta\":{\"content\":\n\n",
                        )))
                        .await
                        .is_err()
                {
                    return;
                }
                if faults.stall {
                    tokio::time::sleep(stall).await;
                }
            }
            // The first answer tokens may go out together in one chunk.
            if job.reasoning == 0 && emitted + 1 < job.first_chunk_tokens.min(job.max_tokens) {
                bundled.push_str(word(emitted));
                emitted += 1;
                continue;
            }
            let mut delta = job.token_delta(emitted);
            if !bundled.is_empty() {
                bundled.push_str(word(emitted));
                delta = json!({"content": std::mem::take(&mut bundled)});
            }
            let mut chunk = job.chunk(delta, None);
            if job.continuous_usage {
                chunk["usage"] = job.usage(emitted + 1);
            }
            let chunk = sse(&chunk);
            if let Some(timing) = timing.as_mut().filter(|t| t.first_token_ns.is_none()) {
                timing.first_token_ns = Some(wall_ns());
            }
            if tx.send(Ok(chunk)).await.is_err() {
                return; // client went away; dropping `ticks` frees the engine slot
            }
            emitted += 1;
        }
        let finish = if emitted >= job.max_tokens {
            "length"
        } else {
            "stop"
        };
        let mut last = job.chunk(json!({}), Some(finish));
        if !job.include_usage {
            last["usage"] = Value::Null;
        }
        let _ = tx.send(Ok(sse(&last))).await;
        if job.include_usage {
            let usage = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0, "model": job.model,
                "choices": [], "usage": job.usage(emitted)});
            let _ = tx.send(Ok(sse(&usage))).await;
        }
        if tx
            .send(Ok(Bytes::from_static(b"data: [DONE]\n\n")))
            .await
            .is_ok()
        {
            delivery.end();
            completed.fetch_add(1, Ordering::Relaxed);
            if let Some(timing) = &timing {
                timing.write();
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn full_response(job: Job, mut ticks: mpsc::UnboundedReceiver<()>) -> Response {
    let mut content = String::new();
    let mut reasoning = String::new();
    let mut emitted = 0u32;
    while ticks.recv().await.is_some() {
        if emitted < job.reasoning {
            reasoning.push_str(word(emitted));
        } else {
            content.push_str(word(emitted));
        }
        emitted += 1;
    }
    let finish = if emitted >= job.max_tokens {
        "length"
    } else {
        "stop"
    };
    let body = match job.api {
        Api::Chat => {
            let mut message = json!({"role": "assistant", "content": content});
            if !reasoning.is_empty() {
                message["reasoning_content"] = json!(reasoning);
            }
            json!({"id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": job.model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": job.usage(emitted)})
        }
        Api::Completions => {
            json!({"id": "cmpl-mock", "object": "text_completion", "created": 0, "model": job.model,
            "choices": [{"index": 0, "text": content, "finish_reason": finish}], "usage": job.usage(emitted)})
        }
    };
    Json(body).into_response()
}

async fn embeddings(State(state): State<Arc<AppState>>, raw: Bytes) -> Response {
    let arrival = Instant::now();
    let (body, _rng) = match accept(&state, &raw) {
        Ok(accepted) => accepted,
        Err(response) => return *response,
    };
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "'input' must be a string or a list of strings",
            );
        }
    };
    let tokens: u32 = inputs.iter().map(|i| state.tokenizer.count(i) as u32).sum();
    let c = &state.config;
    let delay = ms(c.ttft_ms + c.prefill_ms_per_token * tokens as f64);
    tokio::time::sleep_until((arrival + delay).into()).await;
    let data: Vec<Value> = (0..inputs.len())
        .map(|i| json!({"object": "embedding", "index": i, "embedding": (0..16).map(|d| ((i + d) as f64 * 0.37).sin()).collect::<Vec<f64>>()}))
        .collect();
    let model = body["model"].as_str().unwrap_or(&c.model);
    Json(json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))
        .into_response()
}

/// `POST /v1/ranking` (NIM rankings): a score per passage, highest first. The score is the
/// number of query words the passage shares, so it is deterministic and meaningful enough.
async fn rankings(State(state): State<Arc<AppState>>, raw: Bytes) -> Response {
    let arrival = Instant::now();
    let (body, _rng) = match accept(&state, &raw) {
        Ok(accepted) => accepted,
        Err(response) => return *response,
    };
    let (Some(query), Some(passages)) =
        (body["query"]["text"].as_str(), body["passages"].as_array())
    else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "a ranking request needs 'query': {'text'} and 'passages': [{'text'}]",
        );
    };
    let texts: Vec<&str> = passages.iter().filter_map(|p| p["text"].as_str()).collect();
    if texts.len() != passages.len() {
        return error_response(StatusCode::BAD_REQUEST, "every passage needs a 'text'");
    }
    let tokens: u32 = std::iter::once(query)
        .chain(texts.iter().copied())
        .map(|t| state.tokenizer.count(t) as u32)
        .sum();
    let c = &state.config;
    let delay = ms(c.ttft_ms + c.prefill_ms_per_token * tokens as f64);
    tokio::time::sleep_until((arrival + delay).into()).await;
    let query_words: std::collections::HashSet<&str> = query.split_whitespace().collect();
    let mut rankings: Vec<(usize, f64)> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let shared = t
                .split_whitespace()
                .filter(|w| query_words.contains(w))
                .count();
            (i, shared as f64)
        })
        .collect();
    rankings.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let rankings: Vec<Value> = rankings
        .into_iter()
        .map(|(index, logit)| json!({"index": index, "logit": logit}))
        .collect();
    state.completed.fetch_add(1, Ordering::Relaxed);
    Json(json!({"rankings": rankings, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))
        .into_response()
}
