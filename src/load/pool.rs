//! HTTP/1.1 connections to one server, kept for reuse only while the server will still take a
//! request on them.
//!
//! Why not a general-purpose pool: an LLM server is often cpp-httplib (llama.cpp) or uvicorn
//! (vLLM, SGLang), and both close connections in ways a generic pool races with. llama-server
//! announces `Keep-Alive: timeout=5, max=100` but closes the connection right after every
//! streamed response (its FIN follows the last chunk by ~20 us, seen on loopback); a pool that
//! hands the connection out again before it has read that FIN sends the next request into a
//! closed socket ("connection closed before message completed"). This pool therefore:
//!
//! - never reuses a connection the server announced it will close (`Connection: close`, or the
//!   `max=` count of `Keep-Alive` reached);
//! - keeps an idle connection no longer than 80% of the server's announced `Keep-Alive:
//!   timeout`, and never longer than [`DEFAULT_IDLE_TIMEOUT`] (below the 5 s of uvicorn and
//!   cpp-httplib);
//! - learns when a server closes connections after streamed responses (two such closes seen,
//!   and no fewer closes than connections reused after a stream) and from then on opens a
//!   fresh connection after each stream instead of racing the close. The ratio matters: a
//!   server short of connections (nginx past its `worker_connections`) closes a few idle ones
//!   among thousands it keeps, and learning from those would make every later request
//!   connect anew;
//! - tells the caller whether a connection was reused, so a request that failed on a reused
//!   connection before any response byte can be sent again once on a fresh one.

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Why a new connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TCP: refused, unreachable, timed out, or out of local resources. Only these say the
    /// server (or the client machine) is not there.
    #[error("{0}")]
    Tcp(#[source] std::io::Error),
    /// The TLS handshake failed (certificate, protocol): a configuration problem, not an absent
    /// server.
    #[error("TLS handshake failed: {0}")]
    Tls(#[source] std::io::Error),
    /// The HTTP/1.1 handshake failed.
    #[error("HTTP handshake failed: {0}")]
    Http(#[source] std::io::Error),
}

/// The longest an idle connection is kept when the server announces nothing shorter.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// How long a new connection may take (TCP, then TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections a pool opens at once, ahead of a phase or during it; more requests needing a
/// new connection wait their turn (the wait is their blocked time, `http_req_blocked`). A
/// connect completes in the kernel before the server accepts it, so a burst of hundreds fills
/// a server's accept queue at once (nginx listens with a backlog of 511 and, with one busy
/// worker, accepts slowly); past it the kernel drops the handshakes and TCP retries them only
/// after a second. Seen at 28,000 req/s against nginx on two cores: a burst of 256 connects
/// lost 256 handshakes; with 64 at once a saturated server still loses some, fewer.
pub const CONNECTS_AT_ONCE: usize = 64;
/// Every this many checkouts take the oldest idle connection instead of the newest. Taking the
/// newest keeps the connections in use few and warm; taking the oldest now and then keeps the
/// rest from passing their idle time, as many as the arrival rate can keep alive (at 16,000
/// checkouts a second, all of 1,024 opened ahead; at 100 a second, about 25). Without it, the
/// spare connections opened ahead expired unused after [`DEFAULT_IDLE_TIMEOUT`], and the next
/// burst of arrivals (a stall of a few milliseconds at 28,000 req/s is hundreds) had to open
/// connections while they were due.
const OLDEST_EVERY: u64 = 16;
/// Closes seen right after streamed responses before the pool stops reusing after streams
/// (and only if they are at least as many as the connections reused after a stream).
const STREAM_CLOSES_TO_LEARN: u32 = 2;

/// Whether `closes` connections found closed after a streamed response, against `reused`
/// connections reused after one, say the server closes after every stream.
fn closes_after_streams_learned(closes: u32, reused: u64) -> bool {
    closes >= STREAM_CLOSES_TO_LEARN && u64::from(closes) >= reused
}

/// Where connections go: host, port and whether TLS is used.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Host name or address, as in the URL.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS settings when the scheme is https.
    pub tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
}

/// hyper's connection future: reads and writes the socket for the [`SendRequest`] half.
type Driver = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A connection ready to take one request.
///
/// The connection's I/O runs in the task of the request that holds it (see [`Conn::drive`]),
/// not in a task of its own: a streamed chunk then wakes one task instead of two (the
/// connection task, then the request task through hyper's body channel), which was about a
/// fifth of the client's instructions per request.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    /// `None` once the connection has ended.
    driver: Option<Driver>,
    /// Requests already sent on this connection before this one.
    pub uses: u32,
    /// Whether it was taken from the idle list (so a failure may mean the server closed it).
    pub reused: bool,
    /// Whether the previous response on it was a stream.
    last_was_stream: bool,
}

impl Conn {
    /// Sends a request; resolves when the response head has arrived.
    pub async fn send(
        &mut self,
        request: hyper::Request<Full<Bytes>>,
    ) -> hyper::Result<hyper::Response<hyper::body::Incoming>> {
        drive(&mut self.driver, self.sender.send_request(request)).await
    }

    /// Runs `work` (reading this connection's response body) while doing the connection's
    /// I/O in the same task. Every wake polls the connection first, so the bytes it reads are
    /// in the body channel when `work` is polled.
    pub async fn drive<F: Future>(&mut self, work: F) -> F::Output {
        drive(&mut self.driver, work).await
    }

    /// Lets the connection act on what happened while nobody polled it (a close by the
    /// server, the end of the last response), without waiting.
    async fn catch_up(&mut self) {
        std::future::poll_fn(|cx| {
            if let Some(driver) = &mut self.driver
                && driver.as_mut().poll(cx).is_ready()
            {
                self.driver = None;
            }
            Poll::Ready(())
        })
        .await
    }
}

async fn drive<F: Future>(driver: &mut Option<Driver>, work: F) -> F::Output {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        if let Some(running) = driver
            && running.as_mut().poll(cx).is_ready()
        {
            *driver = None;
        }
        work.as_mut().poll(cx)
    })
    .await
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// How the server said a connection may be reused, read from one response's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeepAlive {
    /// `Connection: close`.
    pub close: bool,
    /// `Keep-Alive: timeout=N`, seconds.
    pub timeout_s: Option<u64>,
    /// `Keep-Alive: max=N`, requests per connection.
    pub max: Option<u32>,
}

impl KeepAlive {
    /// Reads `Connection` and `Keep-Alive` (HTTP/1.0 default is close, which no LLM server uses).
    pub fn from_headers(headers: &hyper::HeaderMap) -> Self {
        let mut out = KeepAlive {
            close: headers
                .get_all(hyper::header::CONNECTION)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|token| token.trim().eq_ignore_ascii_case("close")),
            ..KeepAlive::default()
        };
        for value in headers
            .get_all("keep-alive")
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            for part in value.split(',') {
                let Some((key, number)) = part.split_once('=') else {
                    continue;
                };
                let number = number.trim().trim_matches('"');
                match key.trim().to_ascii_lowercase().as_str() {
                    "timeout" => out.timeout_s = number.parse().ok(),
                    "max" => out.max = number.parse().ok(),
                    _ => {}
                }
            }
        }
        out
    }
}

/// The connections to one origin.
pub struct Pool {
    origin: Origin,
    /// Oldest first.
    idle: Mutex<VecDeque<Idle>>,
    /// Checkouts so far; every [`OLDEST_EVERY`]th takes the oldest idle connection.
    checkouts: AtomicU64,
    max_idle: usize,
    idle_timeout_ms: AtomicU64,
    closes_after_stream: AtomicU32,
    /// Connections whose last response was a stream that were found open and reused.
    reused_after_stream: AtomicU64,
    no_reuse_after_stream: AtomicBool,
    /// [`CONNECTS_AT_ONCE`] permits, one held by each connect in progress.
    connecting: tokio::sync::Semaphore,
}

impl Pool {
    /// A pool keeping at most `max_idle` idle connections.
    pub fn new(origin: Origin, max_idle: usize) -> Self {
        Self {
            origin,
            idle: Mutex::new(VecDeque::new()),
            checkouts: AtomicU64::new(0),
            max_idle: max_idle.max(1),
            idle_timeout_ms: AtomicU64::new(DEFAULT_IDLE_TIMEOUT.as_millis() as u64),
            closes_after_stream: AtomicU32::new(0),
            reused_after_stream: AtomicU64::new(0),
            no_reuse_after_stream: AtomicBool::new(false),
            connecting: tokio::sync::Semaphore::new(CONNECTS_AT_ONCE),
        }
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.load(Ordering::Relaxed))
    }

    /// Notes that a connection whose last response was a stream turned out closed.
    fn note_closed_after(&self, last_was_stream: bool) {
        if !last_was_stream {
            return;
        }
        let closes = self.closes_after_stream.fetch_add(1, Ordering::Relaxed) + 1;
        if closes_after_streams_learned(closes, self.reused_after_stream.load(Ordering::Relaxed))
            && !self.no_reuse_after_stream.swap(true, Ordering::Relaxed)
        {
            tracing::info!(
                "{}:{} closes connections after streamed responses; opening a fresh connection for each \
                 request that follows a stream",
                self.origin.host,
                self.origin.port
            );
        }
    }

    /// Tells the pool a reused connection failed before any response byte: the server had
    /// closed it.
    pub fn note_stale(&self, conn: &Conn) {
        self.note_closed_after(conn.last_was_stream);
    }

    /// A connection: the most recently used idle one that is still open and within its idle
    /// time, else a new one. `fresh` skips the idle list.
    pub async fn checkout(&self, fresh: bool) -> Result<Conn, ConnectError> {
        if !fresh {
            while let Some(idle) = self.pop_idle() {
                let mut conn = idle.conn;
                if idle.since.elapsed() > self.idle_timeout() {
                    continue;
                }
                conn.catch_up().await;
                if conn.sender.is_closed() {
                    self.note_closed_after(conn.last_was_stream);
                    continue;
                }
                if !conn.sender.is_ready() {
                    // The connection task has not caught up with the end of the last response.
                    tracing::debug!("waiting for an idle connection to become ready");
                    if drive(&mut conn.driver, conn.sender.ready()).await.is_err() {
                        self.note_closed_after(conn.last_was_stream);
                        continue;
                    }
                }
                conn.reused = true;
                return Ok(conn);
            }
        }
        self.connect().await
    }

    /// Opens up to `count` connections (fewer if the idle list would pass its limit),
    /// [`CONNECTS_AT_ONCE`] at a
    /// time, and keeps them idle, so a phase starts on open connections instead of opening
    /// them while arrivals are due. Returns how many were opened; a failure stops the warming
    /// quietly (the requests then connect, and report, themselves).
    pub async fn prewarm(&self, count: usize) -> usize {
        let idle_now = self.idle.lock().map_or(0, |idle| idle.len());
        let mut remaining = count.min(self.max_idle.saturating_sub(idle_now));
        let mut opened = 0;
        while remaining > 0 {
            let batch = remaining.min(CONNECTS_AT_ONCE);
            let results = futures_util::future::join_all((0..batch).map(|_| self.connect())).await;
            let mut failed = None;
            for result in results {
                match result {
                    Ok(conn) => {
                        opened += 1;
                        if let Ok(mut idle) = self.idle.lock() {
                            idle.push_back(Idle {
                                conn,
                                since: Instant::now(),
                            });
                        }
                    }
                    Err(e) => failed = Some(e),
                }
            }
            if let Some(e) = failed {
                tracing::debug!("stopped opening connections ahead of the phase: {e}");
                break;
            }
            remaining -= batch;
        }
        opened
    }

    /// The most recently used idle connection, or every [`OLDEST_EVERY`]th time the oldest.
    fn pop_idle(&self) -> Option<Idle> {
        let oldest = self.checkouts.fetch_add(1, Ordering::Relaxed) % OLDEST_EVERY == 0;
        let mut idle = self.idle.lock().ok()?;
        if oldest {
            idle.pop_front()
        } else {
            idle.pop_back()
        }
    }

    /// Returns a connection after its response was read to the end, unless the server said (or
    /// is known) to close it.
    pub fn checkin(&self, mut conn: Conn, keep_alive: KeepAlive, was_stream: bool) {
        if let Some(t) = keep_alive.timeout_s {
            let limit = (t.saturating_mul(800)).min(DEFAULT_IDLE_TIMEOUT.as_millis() as u64);
            self.idle_timeout_ms.fetch_min(limit, Ordering::Relaxed);
        }
        conn.uses += 1;
        if conn.reused && conn.last_was_stream {
            self.reused_after_stream.fetch_add(1, Ordering::Relaxed);
        }
        let at_max = keep_alive.max.is_some_and(|m| conn.uses >= m);
        if keep_alive.close
            || at_max
            || conn.sender.is_closed()
            || (was_stream && self.no_reuse_after_stream.load(Ordering::Relaxed))
        {
            return;
        }
        conn.last_was_stream = was_stream;
        conn.reused = false;
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push_back(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    async fn connect(&self) -> Result<Conn, ConnectError> {
        let origin = &self.origin;
        let connect = async {
            let stream = TcpStream::connect((origin.host.as_str(), origin.port))
                .await
                .map_err(ConnectError::Tcp)?;
            stream.set_nodelay(true).map_err(ConnectError::Tcp)?;
            match &origin.tls {
                None => handshake(TokioIo::new(stream)).await,
                Some(config) => {
                    let name =
                        tokio_rustls::rustls::pki_types::ServerName::try_from(origin.host.clone())
                            .map_err(|e| {
                                ConnectError::Tls(std::io::Error::new(
                                    std::io::ErrorKind::InvalidInput,
                                    e,
                                ))
                            })?;
                    let tls = tokio_rustls::TlsConnector::from(config.clone())
                        .connect(name, stream)
                        .await
                        .map_err(ConnectError::Tls)?;
                    handshake(TokioIo::new(tls)).await
                }
            }
        };
        // The semaphore is never closed; without a permit the connect still goes ahead.
        let _permit = self.connecting.acquire().await.ok();
        let (sender, driver) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| {
                ConnectError::Tcp(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no connection within {CONNECT_TIMEOUT:?}"),
                ))
            })??;
        Ok(Conn {
            sender,
            driver: Some(driver),
            uses: 0,
            reused: false,
            last_was_stream: false,
        })
    }
}

async fn handshake<T>(io: TokioIo<T>) -> Result<(SendRequest<Full<Bytes>>, Driver), ConnectError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::Builder::new()
        .handshake(io)
        .await
        .map_err(|e| ConnectError::Http(std::io::Error::other(e)))?;
    // It ends when the server closes; dropping it (with the `Conn`) closes the socket.
    let driver: Driver = Box::pin(async move {
        let _ = connection.await;
    });
    Ok((sender, driver))
}

/// A TLS configuration trusting the system's root certificates, HTTP/1.1 only.
pub fn tls_config() -> std::io::Result<Arc<tokio_rustls::rustls::ClientConfig>> {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!("no system root certificates found; https servers will fail to verify");
    }
    let mut config = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::{KeepAlive, closes_after_streams_learned};

    #[test]
    fn a_server_is_taken_to_close_after_streams_only_when_most_reuses_fail() {
        // llama-server: every connection closed after its stream, none reused.
        assert!(!closes_after_streams_learned(1, 0));
        assert!(closes_after_streams_learned(2, 0));
        // nginx past its worker_connections: a few idle connections closed among thousands
        // reused.
        assert!(!closes_after_streams_learned(2, 5_000));
        assert!(!closes_after_streams_learned(40, 5_000));
        assert!(closes_after_streams_learned(5_000, 5_000));
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> hyper::HeaderMap {
        let mut map = hyper::HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, hyper::header::HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn keep_alive_headers_are_read() {
        let ka = KeepAlive::from_headers(&headers(&[("keep-alive", "timeout=5, max=100")]));
        assert_eq!(
            ka,
            KeepAlive {
                close: false,
                timeout_s: Some(5),
                max: Some(100)
            }
        );
        let ka = KeepAlive::from_headers(&headers(&[("connection", "keep-alive, Close")]));
        assert!(ka.close);
        let ka = KeepAlive::from_headers(&headers(&[("keep-alive", "timeout=x, junk")]));
        assert_eq!(ka, KeepAlive::default());
    }
}
