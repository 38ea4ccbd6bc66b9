//! Sending one request and reading its response, with timestamps taken as bytes arrive.
//!
//! The hot path does as little as possible: the body is pre-serialized, streams are split into
//! SSE events without JSON parsing, and each read is stamped once. Parsing happens later.

use super::clock::RunClock;
use super::pool::{Conn, ConnectError, KeepAlive, Origin, Pool};
use super::record::{ErrorKind, Outcome, RawRecord, RequestError};
use super::sse::SseParser;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{
    AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue, USER_AGENT,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The header carrying each request's id (as vLLM and most gateways name it).
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The most of an error response body kept as its message.
const ERROR_BODY_LIMIT: usize = 2048;

/// One server: where to connect, what to put in the request line and `Host`.
struct Target {
    pool: Arc<Pool>,
    /// Path and query (origin form), e.g. `/v1/chat/completions`.
    path: hyper::Uri,
    host: HeaderValue,
    /// `Authorization: Basic` from URL user-info, unless an API key is given.
    basic_auth: Option<HeaderValue>,
}

/// An HTTP/1.1 client bound to the target URLs (used round-robin), with connection reuse that
/// follows what each server announces (see [`super::pool`]).
pub struct Transport {
    targets: Vec<Target>,
    headers: HeaderMap,
    next_url: AtomicUsize,
    streaming: bool,
    /// Whether connections are reused (`--connection-reuse-strategy pooled`).
    reuse: bool,
    sizes: ResponseSizes,
}

/// The size of the last complete response, so the next one's buffers are allocated once at
/// about the right size instead of doubling their way up (a short chat reply took six
/// reallocations and ended with a third of its payload buffer unused).
#[derive(Debug, Default)]
struct ResponseSizes {
    payload: AtomicUsize,
    events: AtomicUsize,
}

impl ResponseSizes {
    /// Reserves room in `rec` for a response like the last one, an eighth more for variation.
    fn reserve(&self, rec: &mut RawRecord) {
        let grown = |n: usize| n + n / 8;
        rec.payload
            .reserve(grown(self.payload.load(Ordering::Relaxed)));
        rec.events
            .reserve(grown(self.events.load(Ordering::Relaxed)));
    }

    /// Remembers a complete response's size, at most [`RESERVE_LIMIT`] bytes of it: one huge
    /// reply must not make every later request allocate as much.
    fn learn(&self, rec: &RawRecord) {
        self.payload
            .store(rec.payload.len().min(RESERVE_LIMIT), Ordering::Relaxed);
        self.events
            .store(rec.events.len().min(RESERVE_LIMIT / 64), Ordering::Relaxed);
    }
}

/// The most a request's buffers are sized ahead from earlier responses.
const RESERVE_LIMIT: usize = 1 << 20;

/// How to build a [`Transport`].
pub struct TransportConfig<'a> {
    /// Full endpoint URLs.
    pub urls: Vec<reqwest::Url>,
    /// Bearer token.
    pub api_key: Option<&'a str>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Whether responses are read as SSE streams.
    pub streaming: bool,
    /// Connections to keep open per host (the maximum concurrency).
    pub pool_size: usize,
    /// Reuse connections (otherwise one per request, with `Connection: close`).
    pub reuse: bool,
}

impl Transport {
    /// Builds the client: one connection pool per URL, sized for the concurrency; Nagle off.
    pub fn new(cfg: TransportConfig<'_>) -> anyhow::Result<Self> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if !cfg.reuse {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("aiperf/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some(key) = cfg.api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                anyhow::anyhow!("the API key contains characters not allowed in a header")
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        for (name, value) in &cfg.headers {
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| anyhow::anyhow!("'{name}' is not a valid HTTP header name"))?;
            let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
                anyhow::anyhow!("the value of header '{name}' is not a valid HTTP header value")
            })?;
            value.set_sensitive(crate::redact::is_secret_header(name.as_str()));
            headers.insert(name, value);
        }
        let mut tls = None;
        let mut targets = Vec::with_capacity(cfg.urls.len());
        for url in &cfg.urls {
            let shown = crate::redact::redact_url(url.as_str());
            let host = url
                .host_str()
                .ok_or_else(|| anyhow::anyhow!("URL '{shown}' has no host"))?
                .to_string();
            let port = url
                .port_or_known_default()
                .ok_or_else(|| anyhow::anyhow!("URL '{shown}' has no port"))?;
            let tls = match url.scheme() {
                "https" => Some(match &tls {
                    Some(config) => std::sync::Arc::clone(config),
                    None => tls.insert(super::pool::tls_config()?).clone(),
                }),
                _ => None,
            };
            let mut path = url.path().to_string();
            if let Some(query) = url.query() {
                path.push('?');
                path.push_str(query);
            }
            let host_header = match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.clone(),
            };
            let basic_auth = if !url.username().is_empty() && cfg.api_key.is_none() {
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8_lossy()
                        .into_owned()
                };
                let credentials = format!(
                    "{}:{}",
                    decode(url.username()),
                    decode(url.password().unwrap_or(""))
                );
                use base64::Engine;
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))?;
                value.set_sensitive(true);
                Some(value)
            } else {
                None
            };
            targets.push(Target {
                pool: Arc::new(Pool::new(Origin { host, port, tls }, cfg.pool_size)),
                path: path.parse()?,
                host: HeaderValue::from_str(&host_header)?,
                basic_auth,
            });
        }
        Ok(Self {
            targets,
            headers,
            next_url: AtomicUsize::new(0),
            streaming: cfg.streaming,
            reuse: cfg.reuse,
            sizes: ResponseSizes::default(),
        })
    }

    fn request(
        &self,
        target: &Target,
        body: Bytes,
        request_id: u128,
    ) -> hyper::Request<Full<Bytes>> {
        let mut request = hyper::Request::new(Full::new(body));
        *request.method_mut() = hyper::Method::POST;
        *request.uri_mut() = target.path.clone();
        let headers = request.headers_mut();
        headers.clone_from(&self.headers);
        headers.insert(HOST, target.host.clone());
        // A user's own `X-Request-ID` header (in `--header`) wins.
        if !headers.contains_key(X_REQUEST_ID) {
            let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            let text = uuid::Uuid::from_u128(request_id)
                .hyphenated()
                .encode_lower(&mut text);
            if let Ok(value) = HeaderValue::from_str(text) {
                headers.insert(X_REQUEST_ID, value);
            }
        }
        if let Some(auth) = &target.basic_auth {
            headers.insert(AUTHORIZATION, auth.clone());
        }
        request
    }

    /// Opens about `count` connections ahead of a phase, shared across the targets the way
    /// requests are (round robin). Returns how many were opened.
    pub async fn prewarm(&self, count: usize) -> usize {
        let per_target = count.div_ceil(self.targets.len().max(1));
        let warming = self.targets.iter().map(|t| t.pool.prewarm(per_target));
        futures_util::future::join_all(warming)
            .await
            .into_iter()
            .sum()
    }

    /// Sends `body` to the next URL and reads the response into `rec`. Returns how it ended.
    ///
    /// A request that fails on a reused connection before any response byte arrived (the
    /// server had closed the connection) is sent once more on a fresh connection; the record
    /// says so (`reconnected`) and its times still run from the first send.
    ///
    /// With `control.cancel_after`, the request is abandoned that long after it was handed to
    /// its connection (its bytes are written in the same step): the connection is closed, so
    /// the server sees the client go away, and the request ends [`Outcome::Cancelled`]. Zero
    /// disconnects right after sending. `control.prefill_slot` is given back when the first
    /// token arrives, or when the request ends without one.
    pub async fn execute(
        &self,
        body: Bytes,
        rec: &mut RawRecord,
        clock: &RunClock,
        control: super::dispatch::SendControl,
    ) -> Outcome {
        let super::dispatch::SendControl {
            cancel_after,
            mut prefill_slot,
            url,
        } = control;
        let url_index = url.unwrap_or_else(|| self.next_url.fetch_add(1, Ordering::Relaxed))
            % self.targets.len();
        let target = &self.targets[url_index];
        let asked_ns = clock.now_ns();
        rec.sent_ns = asked_ns;
        let mut fresh = false;
        let mut deadline = None;
        loop {
            tracing::debug!(request = rec.index, fresh, "checking out a connection");
            // Without reuse every request connects anew; its connect time is its blocked time.
            let checkout = target.pool.checkout(fresh || !self.reuse).await;
            if !fresh {
                // The request is sent when it has a connection: the wait for one (a connect, or
                // an idle connection catching up) is its own figure, not the server's time.
                rec.sent_ns = clock.now_ns();
                rec.blocked_ns = rec.sent_ns.saturating_sub(asked_ns);
                deadline = cancel_after.map(|d| tokio::time::Instant::now() + d);
            }
            let conn = match checkout {
                Ok(conn) => conn,
                Err(e) => {
                    rec.end_ns = clock.now_ns();
                    let kind = match &e {
                        _ if is_client_resource_error(&e) => ErrorKind::ClientResource,
                        ConnectError::Tcp(_) => ErrorKind::Connect,
                        ConnectError::Tls(_) | ConnectError::Http(_) => ErrorKind::Request,
                    };
                    return error(kind, None, format!("cannot connect: {}", describe(&e)));
                }
            };
            let attempt = self.attempt(
                target,
                conn,
                body.clone(),
                rec,
                clock,
                fresh,
                &mut prefill_slot,
            );
            let attempted = match deadline {
                // The timeout polls the exchange before its timer, so even a zero delay
                // writes the request before the connection is dropped.
                Some(at) => match tokio::time::timeout_at(at, attempt).await {
                    Ok(attempted) => attempted,
                    Err(_) => {
                        rec.end_ns = clock.now_ns();
                        return Outcome::Cancelled;
                    }
                },
                None => attempt.await,
            };
            match attempted {
                Attempt::Done(outcome) => return outcome,
                Attempt::Resend => fresh = true,
            }
        }
    }

    /// One exchange on `conn`; it is dropped (closed) unless the response was read whole.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        target: &Target,
        mut conn: Conn,
        body: Bytes,
        rec: &mut RawRecord,
        clock: &RunClock,
        fresh: bool,
        prefill_slot: &mut Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Attempt {
        tracing::debug!(request = rec.index, reused = conn.reused, "sending");
        let response = conn.send(self.request(target, body, rec.request_id)).await;
        let now = clock.now_ns();
        rec.end_ns = now;
        let response = match response {
            Ok(r) => r,
            Err(e) if conn.reused && !fresh && closed_before_answer(&e) => {
                target.pool.note_stale(&conn);
                rec.reconnected = true;
                return Attempt::Resend;
            }
            Err(e) => {
                let kind = if is_client_resource_error(&e) {
                    ErrorKind::ClientResource
                } else {
                    ErrorKind::Request
                };
                return Attempt::Done(error(
                    kind,
                    None,
                    format!("error sending request: {}", describe(&e)),
                ));
            }
        };
        tracing::debug!(request = rec.index, "response headers");
        rec.response_start_ns = Some(now);
        let status = response.status();
        rec.status = Some(status.as_u16());
        let keep_alive = KeepAlive::from_headers(response.headers());
        let is_event_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let mut body = response.into_body();
        if !status.is_success() {
            let (message, complete) = read_error_body(&mut conn, &mut body, rec, clock).await;
            if complete && self.reuse {
                target.pool.checkin(conn, keep_alive, false);
            }
            let message = if message.is_empty() {
                status.to_string()
            } else {
                message
            };
            return Attempt::Done(error(ErrorKind::HttpStatus, Some(status.as_u16()), message));
        }
        let streamed = self.streaming && is_event_stream;
        self.sizes.reserve(rec);
        let (outcome, complete) = if streamed {
            read_stream(&mut conn, &mut body, rec, clock, prefill_slot).await
        } else {
            read_body(&mut conn, &mut body, rec, clock).await
        };
        if complete {
            self.sizes.learn(rec);
        }
        tracing::debug!(request = rec.index, complete, "response read");
        if complete && self.reuse {
            target.pool.checkin(conn, keep_alive, streamed);
        }
        Attempt::Done(outcome)
    }
}

/// How one exchange on a connection ended.
enum Attempt {
    /// With this outcome.
    Done(Outcome),
    /// The reused connection had been closed by the server before it answered: send again on
    /// a fresh one.
    Resend,
}

/// Whether a send failed because the server had closed the (reused) connection before it
/// answered: the request never got a response byte, so sending it again cannot count twice.
fn closed_before_answer(e: &hyper::Error) -> bool {
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        source = err.source();
    }
    false
}

/// The next data chunk of a body (trailers are skipped).
async fn next_chunk(conn: &mut Conn, body: &mut Incoming) -> Result<Option<Bytes>, hyper::Error> {
    loop {
        match conn.drive(body.frame()).await {
            None => return Ok(None),
            Some(Err(e)) => return Err(e),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}

/// Reads an event stream; also says whether the body was read to its end (so the connection
/// may be reused).
async fn read_stream(
    conn: &mut Conn,
    body: &mut Incoming,
    rec: &mut RawRecord,
    clock: &RunClock,
    prefill_slot: &mut Option<tokio::sync::OwnedSemaphorePermit>,
) -> (Outcome, bool) {
    rec.streamed = true;
    let mut parser = SseParser::new();
    let mut done = false;
    loop {
        match next_chunk(conn, body).await {
            Ok(Some(chunk)) => {
                let at = clock.now_ns();
                rec.end_ns = at;
                rec.bytes_received += chunk.len() as u64;
                let seen = rec.events.len();
                parser.feed(&chunk, |event| push_event(rec, at, event.data, &mut done));
                // Prefill ends with the first token: the slot goes to the next request.
                if prefill_slot.is_some()
                    && rec
                        .event_payloads()
                        .skip(seen)
                        .any(|(_, data)| carries_text(data))
                {
                    *prefill_slot = None;
                }
            }
            Ok(None) => {
                let at = clock.now_ns();
                rec.end_ns = at;
                parser.finish(|event| push_event(rec, at, event.data, &mut done));
                return (Outcome::Success, true);
            }
            Err(e) => {
                rec.end_ns = clock.now_ns();
                if done {
                    // The stream was complete ([DONE] seen); a broken close afterwards loses nothing.
                    return (Outcome::Success, false);
                }
                let failed = error(
                    ErrorKind::StreamInterrupted,
                    rec.status,
                    format!("stream interrupted: {}", describe(&e)),
                );
                return (failed, false);
            }
        }
    }
}

/// Whether an OpenAI-style chunk carries generated text (a non-empty `content`,
/// `reasoning_content`, `reasoning` or `text`), judged from its bytes without parsing it. It
/// may answer "no" for an unusual spelling, never "yes" for a chunk without text, so a prefill
/// slot is never given back before the record's first token.
fn carries_text(data: &[u8]) -> bool {
    [
        &b"\"content\""[..],
        b"\"reasoning_content\"",
        b"\"reasoning\"",
        b"\"text\"",
    ]
    .iter()
    .any(|key| {
        memchr::memmem::find_iter(data, key).any(|at| {
            let rest = &data[at + key.len()..];
            let rest = rest.trim_ascii_start();
            let Some(rest) = rest.strip_prefix(b":") else {
                return false;
            };
            let rest = rest.trim_ascii_start();
            rest.strip_prefix(b"\"")
                .is_some_and(|value| value.first().is_some_and(|&c| c != b'"'))
        })
    })
}

fn push_event(rec: &mut RawRecord, at: u64, data: &[u8], done: &mut bool) {
    if data == b"[DONE]" {
        *done = true;
        return;
    }
    rec.payload.extend_from_slice(data);
    rec.events.push((at, rec.payload.len() as u32));
}

/// Reads a plain body; also says whether it was read to its end.
async fn read_body(
    conn: &mut Conn,
    body: &mut Incoming,
    rec: &mut RawRecord,
    clock: &RunClock,
) -> (Outcome, bool) {
    loop {
        match next_chunk(conn, body).await {
            Ok(Some(chunk)) => {
                rec.bytes_received += chunk.len() as u64;
                rec.payload.extend_from_slice(&chunk);
            }
            Ok(None) => {
                rec.end_ns = clock.now_ns();
                return (Outcome::Success, true);
            }
            Err(e) => {
                rec.end_ns = clock.now_ns();
                let failed = error(
                    ErrorKind::StreamInterrupted,
                    rec.status,
                    format!("body interrupted: {}", describe(&e)),
                );
                return (failed, false);
            }
        }
    }
}

/// The message of an error response, and whether its body was read to the end.
async fn read_error_body(
    conn: &mut Conn,
    response: &mut Incoming,
    rec: &mut RawRecord,
    clock: &RunClock,
) -> (String, bool) {
    let mut body = Vec::new();
    let complete = loop {
        match next_chunk(conn, response).await {
            Ok(Some(chunk)) => {
                rec.bytes_received += chunk.len() as u64;
                if body.len() < ERROR_BODY_LIMIT {
                    body.extend_from_slice(
                        &chunk[..chunk.len().min(ERROR_BODY_LIMIT - body.len())],
                    );
                }
            }
            Ok(None) => break true,
            Err(_) => break false,
        }
    };
    rec.end_ns = clock.now_ns();
    (error_message(&body), complete)
}

/// The message of an error body: an OpenAI-style error object's message, else the text.
fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    // Prefer the message of an OpenAI-style error object.
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("error")
                .and_then(|e| e.get("message").or(Some(e)))
                .or_else(|| v.get("message"))
                .or_else(|| v.get("detail"))
                .map(|m| {
                    m.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| m.to_string())
                })
        })
        .unwrap_or_else(|| text.trim().chars().take(300).collect())
}

fn error(kind: ErrorKind, code: Option<u16>, message: String) -> Outcome {
    Outcome::Error(RequestError {
        kind,
        code,
        message,
    })
}

/// Whether an error (or any of its causes) is the client running out of a local resource: file
/// descriptors (EMFILE, ENFILE), ephemeral ports (EADDRNOTAVAIL), buffers or memory. Such
/// failures are the machine's, never the server's.
pub fn is_client_resource_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.raw_os_error(),
                Some(
                    libc::EMFILE
                        | libc::ENFILE
                        | libc::EADDRNOTAVAIL
                        | libc::ENOBUFS
                        | libc::ENOMEM
                )
            )
        {
            return true;
        }
        current = err.source();
    }
    false
}

/// The error and its causes in one line ("error sending request: connection refused").
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{RESERVE_LIMIT, RawRecord, ResponseSizes, carries_text};

    #[test]
    fn buffers_are_sized_from_the_last_response_within_a_limit() {
        let fresh = || RawRecord::new(crate::spec::PhaseKind::Profiling, 0, Default::default(), 0);
        let sizes = ResponseSizes::default();
        let mut first = fresh();
        sizes.reserve(&mut first);
        assert_eq!(first.payload.capacity(), 0, "nothing learnt yet");
        first.payload = vec![b'x'; 1600];
        first.events = vec![(0, 0); 10];
        sizes.learn(&first);
        let mut next = fresh();
        sizes.reserve(&mut next);
        assert!((1800..2000).contains(&next.payload.capacity()));
        assert!(next.events.capacity() >= 11);
        first.payload = vec![0; RESERVE_LIMIT * 4];
        sizes.learn(&first);
        let mut after_huge = fresh();
        sizes.reserve(&mut after_huge);
        assert!(after_huge.payload.capacity() < RESERVE_LIMIT * 2);
    }

    #[test]
    fn text_is_recognised_without_parsing() {
        for with_text in [
            &br#"{"choices":[{"delta":{"content":"Hi"}}]}"#[..],
            br#"{"choices":[{"delta":{"content" : " "}}]}"#,
            br#"{"choices":[{"delta":{"reasoning_content":"hmm"}}]}"#,
            br#"{"choices":[{"delta":{"reasoning":"so"}}]}"#,
            br#"{"choices":[{"text":"x","index":0}]}"#,
            br#"{"choices":[{"delta":{"content":"\"q\""}}]}"#,
        ] {
            assert!(
                carries_text(with_text),
                "{}",
                String::from_utf8_lossy(with_text)
            );
        }
        for without in [
            &br#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#[..],
            br#"{"choices":[{"delta":{"content":null}}]}"#,
            br#"{"choices":[],"usage":{"prompt_tokens":9}}"#,
            br#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
            br#"{"choices":[{"delta":{"content""#,
            b"",
        ] {
            assert!(
                !carries_text(without),
                "{}",
                String::from_utf8_lossy(without)
            );
        }
    }
}
