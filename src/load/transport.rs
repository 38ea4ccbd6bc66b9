//! Sending one request and reading its response, with timestamps taken as bytes arrive.
//!
//! The hot path does as little as possible: the body is pre-serialized, streams are split into
//! SSE events without JSON parsing, and each read is stamped once. Parsing happens later.

use super::clock::RunClock;
use super::record::{ErrorKind, Outcome, RawRecord, RequestError};
use super::sse::SseParser;
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The most of an error response body kept as its message.
const ERROR_BODY_LIMIT: usize = 2048;

/// An HTTP client bound to the target URLs (used round-robin).
pub struct Transport {
    client: reqwest::Client,
    urls: Vec<reqwest::Url>,
    headers: HeaderMap,
    next_url: AtomicUsize,
    streaming: bool,
}

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
}

impl Transport {
    /// Builds the client: connection pool sized for the concurrency, Nagle off, no proxy.
    pub fn new(cfg: TransportConfig<'_>) -> anyhow::Result<Self> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
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
        let client = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(cfg.pool_size.max(1))
            .pool_idle_timeout(Duration::from_secs(90))
            .connect_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            client,
            urls: cfg.urls,
            headers,
            next_url: AtomicUsize::new(0),
            streaming: cfg.streaming,
        })
    }

    /// Sends `body` to the next URL and reads the response into `rec`. Returns how it ended.
    pub async fn execute(&self, body: Bytes, rec: &mut RawRecord, clock: &RunClock) -> Outcome {
        let url_index = self.next_url.fetch_add(1, Ordering::Relaxed) % self.urls.len();
        let request = match self
            .client
            .post(self.urls[url_index].clone())
            .headers(self.headers.clone())
            .body(body)
            .build()
        {
            Ok(r) => r,
            Err(e) => return error(ErrorKind::Request, None, e.to_string()),
        };
        rec.sent_ns = clock.now_ns();
        let response = self.client.execute(request).await;
        let now = clock.now_ns();
        rec.end_ns = now;
        let mut response = match response {
            Ok(r) => r,
            Err(e) => return error(classify(&e), None, describe(&e)),
        };
        rec.response_start_ns = Some(now);
        let status = response.status();
        rec.status = Some(status.as_u16());
        if !status.is_success() {
            let message = read_error_body(&mut response, rec, clock).await;
            let message = if message.is_empty() {
                status.to_string()
            } else {
                message
            };
            return error(ErrorKind::HttpStatus, Some(status.as_u16()), message);
        }
        let is_event_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if self.streaming && is_event_stream {
            read_stream(response, rec, clock).await
        } else {
            read_body(response, rec, clock).await
        }
    }
}

async fn read_stream(
    mut response: reqwest::Response,
    rec: &mut RawRecord,
    clock: &RunClock,
) -> Outcome {
    rec.streamed = true;
    let mut parser = SseParser::new();
    let mut done = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let at = clock.now_ns();
                rec.end_ns = at;
                rec.bytes_received += chunk.len() as u64;
                parser.feed(&chunk, |event| push_event(rec, at, event.data, &mut done));
            }
            Ok(None) => {
                let at = clock.now_ns();
                rec.end_ns = at;
                parser.finish(|event| push_event(rec, at, event.data, &mut done));
                return Outcome::Success;
            }
            Err(e) => {
                rec.end_ns = clock.now_ns();
                if done {
                    // The stream was complete ([DONE] seen); a broken close afterwards loses nothing.
                    return Outcome::Success;
                }
                return error(
                    ErrorKind::StreamInterrupted,
                    rec.status,
                    format!("stream interrupted: {}", describe(&e)),
                );
            }
        }
    }
}

fn push_event(rec: &mut RawRecord, at: u64, data: &[u8], done: &mut bool) {
    if data == b"[DONE]" {
        *done = true;
        return;
    }
    rec.payload.extend_from_slice(data);
    rec.events.push((at, rec.payload.len() as u32));
}

async fn read_body(
    mut response: reqwest::Response,
    rec: &mut RawRecord,
    clock: &RunClock,
) -> Outcome {
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                rec.bytes_received += chunk.len() as u64;
                rec.payload.extend_from_slice(&chunk);
            }
            Ok(None) => {
                rec.end_ns = clock.now_ns();
                return Outcome::Success;
            }
            Err(e) => {
                rec.end_ns = clock.now_ns();
                return error(
                    ErrorKind::StreamInterrupted,
                    rec.status,
                    format!("body interrupted: {}", describe(&e)),
                );
            }
        }
    }
}

async fn read_error_body(
    response: &mut reqwest::Response,
    rec: &mut RawRecord,
    clock: &RunClock,
) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        rec.bytes_received += chunk.len() as u64;
        if body.len() < ERROR_BODY_LIMIT {
            body.extend_from_slice(&chunk[..chunk.len().min(ERROR_BODY_LIMIT - body.len())]);
        }
    }
    rec.end_ns = clock.now_ns();
    let text = String::from_utf8_lossy(&body);
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

fn classify(e: &reqwest::Error) -> ErrorKind {
    if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Request
    }
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
