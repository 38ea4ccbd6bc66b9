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
//!   connection before any response byte can be sent again once on a fresh one;
//! - queues requests that find no idle connection and gives each connection that comes back,
//!   or is newly opened, to the one that has waited longest. Connects run for the queue, at
//!   most one per waiting request and [`CONNECTS_AT_ONCE`] at a time. After a stall of a few
//!   milliseconds an open loop has hundreds of requests due at once; connecting for each of
//!   them while the connections in use come free every few hundred microseconds filled
//!   nginx's accept queue, and the handshakes the kernel dropped were retried a second later.

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
use tokio::sync::oneshot;

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
/// Every this many checkouts take the oldest idle connection instead of the newest, if it has
/// been idle for over half the idle time. Taking the newest keeps the connections in use few
/// and warm; taking the oldest now and then keeps the rest from passing their idle time, as
/// many as the arrival rate can keep alive (at 16,000 checkouts a second, all of 1,024 opened
/// ahead; at 100 a second, about 25). Without it, the spare connections opened ahead expired
/// unused after [`DEFAULT_IDLE_TIMEOUT`], and the next burst of arrivals (a stall of a few
/// milliseconds at 28,000 req/s is hundreds) had to open connections while they were due.
/// Without the age condition, every spare served a request twice a second at 28,000 req/s, each
/// time with cold caches on both sides.
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
    /// Opened and not yet idle or used: handed straight from its connect to a request.
    just_opened: bool,
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
    /// Requests waiting for a connection, and the connects opening connections for them.
    waiting: Mutex<Waiting>,
}

/// What a waiting request receives: a connection, or the error of a connect made for it.
type Handed = Result<Conn, ConnectError>;

/// Requests waiting for a connection (longest waiting first) and the connects under way for
/// them. A connection checked in or newly opened goes to the first that still waits; a
/// request that stopped waiting (cancelled) has closed its receiver.
#[derive(Default)]
struct Waiting {
    queue: VecDeque<oneshot::Sender<Handed>>,
    /// Connect tasks running for waiters; never more than [`CONNECTS_AT_ONCE`], and each goes
    /// on connecting while more requests wait than connects are under way.
    connecting: usize,
}

impl Waiting {
    /// Drops requests that stopped waiting from the front (and from everywhere once the queue
    /// is long), so the count of those waiting stays close.
    fn prune(&mut self) {
        while self.queue.front().is_some_and(|w| w.is_closed()) {
            self.queue.pop_front();
        }
        if self.queue.len() >= WAITERS_SWEEP {
            self.queue.retain(|w| !w.is_closed());
        }
    }

    /// Whether another connect should start: fewer are under way than requests wait, and
    /// fewer than [`CONNECTS_AT_ONCE`]. Counts it as started when so.
    fn start_connect(&mut self) -> bool {
        let start = self.connecting < self.queue.len().min(CONNECTS_AT_ONCE);
        self.connecting += usize::from(start);
        start
    }
}

/// Waiters kept before the closed ones are swept out of the whole queue (they are dropped from
/// its front on every wait, which keeps it short unless requests are cancelled out of order).
const WAITERS_SWEEP: usize = 4096;

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
            waiting: Mutex::new(Waiting::default()),
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
    /// time, else the first to come of those checked in and those opened from now on, taken in
    /// the order the requests began waiting. While requests wait, connects run for them, at
    /// most one per waiting request and [`CONNECTS_AT_ONCE`] at a time, so a backlog after a
    /// stall (hundreds of requests due at once) is served mostly by the connections coming
    /// free every few hundred microseconds instead of a burst of connects the server's accept
    /// queue cannot hold. A connect's error goes to the longest-waiting request. `fresh` skips
    /// the idle list and the waiting: only a new connection will do.
    pub async fn checkout(self: &Arc<Self>, fresh: bool) -> Result<Conn, ConnectError> {
        if fresh {
            return self.connect().await;
        }
        if let Some(conn) = self.take_idle().await {
            return Ok(conn);
        }
        let mut front = false;
        loop {
            let handed = self.wait(front);
            match handed.await {
                Ok(Ok(conn)) => {
                    if let Some(conn) = self.usable(conn).await {
                        return Ok(conn);
                    }
                    // Closed while it was handed over: wait again, first in line.
                    front = true;
                }
                Ok(Err(e)) => return Err(e),
                // Unreachable while the pool lives: senders are only dropped after a send.
                Err(_) => {
                    return Err(ConnectError::Tcp(std::io::Error::other(
                        "the connection pool stopped",
                    )));
                }
            }
        }
    }

    /// Joins the waiting requests (at the back, or at the front for one that already waited)
    /// and starts a connect for them if fewer are under way than requests wait.
    fn wait(self: &Arc<Self>, front: bool) -> oneshot::Receiver<Handed> {
        let (tx, rx) = oneshot::channel();
        let start = match self.waiting.lock() {
            Ok(mut waiting) => {
                waiting.prune();
                if front {
                    waiting.queue.push_front(tx);
                } else {
                    waiting.queue.push_back(tx);
                }
                waiting.start_connect()
            }
            Err(_) => {
                drop(tx);
                false
            }
        };
        if start {
            let pool = self.clone();
            tokio::spawn(async move { pool.connect_for_waiters().await });
        }
        rx
    }

    /// Opens connections for waiting requests, one after the other, while more requests wait
    /// than connects are under way (this one included).
    async fn connect_for_waiters(self: Arc<Self>) {
        loop {
            match self.connect().await {
                Ok(conn) => self.hand_over(conn),
                Err(e) => self.fail_first_waiter(e),
            }
            let Ok(mut waiting) = self.waiting.lock() else {
                return;
            };
            waiting.prune();
            if waiting.queue.len() < waiting.connecting {
                waiting.connecting -= 1;
                return;
            }
        }
    }

    /// Gives a connect's error to the longest-waiting request, if one still waits.
    fn fail_first_waiter(&self, mut error: ConnectError) {
        let Ok(mut waiting) = self.waiting.lock() else {
            return;
        };
        while let Some(waiter) = waiting.queue.pop_front() {
            // A waiter that stopped waiting gives the error back for the next one.
            match waiter.send(Err(error)) {
                Err(Err(back)) => error = back,
                _ => return,
            }
        }
    }

    /// The next idle connection that is still usable, if any.
    async fn take_idle(&self) -> Option<Conn> {
        while let Some(idle) = self.pop_idle() {
            if idle.since.elapsed() > self.idle_timeout() {
                continue;
            }
            if let Some(conn) = self.usable(idle.conn).await {
                return Some(conn);
            }
        }
        None
    }

    /// `conn`, marked reused, if it is still open and ready for a request.
    async fn usable(&self, mut conn: Conn) -> Option<Conn> {
        conn.catch_up().await;
        if conn.sender.is_closed() {
            self.note_closed_after(conn.last_was_stream);
            return None;
        }
        if !conn.sender.is_ready() {
            // The connection task has not caught up with the end of the last response.
            tracing::debug!("waiting for an idle connection to become ready");
            if drive(&mut conn.driver, conn.sender.ready()).await.is_err() {
                self.note_closed_after(conn.last_was_stream);
                return None;
            }
        }
        // A connection that waited anywhere may have been closed by the server meanwhile.
        conn.reused = !conn.just_opened;
        conn.just_opened = false;
        Some(conn)
    }

    /// Gives `conn` to the longest-waiting request, else keeps it idle (up to the limit).
    fn hand_over(&self, mut conn: Conn) {
        if let Ok(mut waiting) = self.waiting.lock() {
            while let Some(waiter) = waiting.queue.pop_front() {
                match waiter.send(Ok(conn)) {
                    Err(Ok(back)) => conn = back,
                    _ => return,
                }
            }
        }
        conn.just_opened = false;
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push_back(Idle {
                conn,
                since: Instant::now(),
            });
        }
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
                    Ok(mut conn) => {
                        conn.just_opened = false;
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

    /// The most recently used idle connection, or every [`OLDEST_EVERY`]th time the oldest if
    /// it has been idle for over half the idle time (so it is used before it expires).
    fn pop_idle(&self) -> Option<Idle> {
        let turn = self.checkouts.fetch_add(1, Ordering::Relaxed) % OLDEST_EVERY == 0;
        let half_idle_time = self.idle_timeout() / 2;
        let mut idle = self.idle.lock().ok()?;
        let oldest = turn
            && idle
                .front()
                .is_some_and(|oldest| oldest.since.elapsed() > half_idle_time);
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
        conn.just_opened = false;
        self.hand_over(conn);
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
            just_opened: true,
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
    use super::{CONNECTS_AT_ONCE, KeepAlive, Origin, Pool, closes_after_streams_learned};
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    /// A listener that accepts and holds connections, and a pool for it.
    async fn pool_on_loopback() -> (Arc<Pool>, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accept = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let origin = Origin {
            host: "127.0.0.1".into(),
            port,
            tls: None,
        };
        (Arc::new(Pool::new(origin, 16)), accept)
    }

    #[tokio::test]
    async fn a_connection_checked_in_goes_to_the_request_waiting_to_connect() {
        let (pool, accept) = pool_on_loopback().await;
        let first = pool.checkout(false).await.unwrap();
        assert!(!first.reused);
        // Every connect permit taken: the next checkout can only be served by a hand-over.
        let permits = pool
            .connecting
            .acquire_many(CONNECTS_AT_ONCE as u32)
            .await
            .unwrap();
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.checkout(false).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        pool.checkin(first, KeepAlive::default(), true);
        let handed = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiting checkout took the connection checked in")
            .unwrap()
            .unwrap();
        assert!(handed.reused);
        assert_eq!(handed.uses, 1);
        assert!(pool.idle.lock().unwrap().is_empty());
        // The connect the waiting request started still completes, and its connection is
        // kept for the next request instead of being thrown away.
        drop(permits);
        for _ in 0..500 {
            if pool.idle.lock().unwrap().len() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(pool.idle.lock().unwrap().len(), 1);
        let next = pool.checkout(false).await.unwrap();
        assert!(
            next.reused && next.uses == 0,
            "the connection opened for the waiter"
        );
        drop((handed, next));
        accept.abort();
    }

    #[tokio::test]
    async fn requests_waiting_together_start_at_most_the_connects_allowed_at_once() {
        let (pool, accept) = pool_on_loopback().await;
        let permits = pool
            .connecting
            .acquire_many(CONNECTS_AT_ONCE as u32)
            .await
            .unwrap();
        let waiting: Vec<_> = (0..200)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.checkout(false).await })
            })
            .collect();
        for _ in 0..500 {
            if pool.waiting.lock().unwrap().queue.len() == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(pool.waiting.lock().unwrap().queue.len(), 200);
        assert_eq!(pool.waiting.lock().unwrap().connecting, CONNECTS_AT_ONCE);
        drop(permits);
        let mut conns = Vec::new();
        for w in waiting {
            let conn = tokio::time::timeout(Duration::from_secs(10), w)
                .await
                .expect("every waiting request is served")
                .unwrap()
                .unwrap();
            assert!(!conn.reused);
            conns.push(conn);
        }
        for _ in 0..500 {
            if pool.waiting.lock().unwrap().connecting == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let w = pool.waiting.lock().unwrap();
        assert_eq!(
            (w.connecting, w.queue.len()),
            (0, 0),
            "the connects stopped"
        );
        drop(w);
        accept.abort();
    }

    #[tokio::test]
    async fn the_oldest_idle_connection_is_taken_in_turn_only_once_half_its_idle_time_passed() {
        let (pool, accept) = pool_on_loopback().await;
        pool.idle_timeout_ms.store(600, Ordering::Relaxed);
        let mut opened = Vec::new();
        for uses in [10, 20, 30] {
            let mut conn = pool.checkout(true).await.unwrap();
            conn.uses = uses;
            opened.push(conn);
        }
        for conn in opened {
            pool.checkin(conn, KeepAlive::default(), false);
        }
        // Its turn, but the oldest is young: the newest is taken.
        pool.checkouts.store(0, Ordering::Relaxed);
        let newest = pool.checkout(false).await.unwrap();
        assert_eq!(newest.uses, 31);
        pool.checkin(newest, KeepAlive::default(), false);
        tokio::time::sleep(Duration::from_millis(350)).await;
        pool.checkouts.store(0, Ordering::Relaxed);
        let oldest = pool.checkout(false).await.unwrap();
        assert_eq!(
            oldest.uses, 11,
            "the oldest, idle for over half its idle time"
        );
        let next = pool.checkout(false).await.unwrap();
        assert_eq!(next.uses, 32, "not its turn: the newest again");
        drop((oldest, next));
        accept.abort();
    }

    #[tokio::test]
    async fn a_refused_connect_fails_the_request_waiting_for_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let origin = Origin {
            host: "127.0.0.1".into(),
            port,
            tls: None,
        };
        let pool = Arc::new(Pool::new(origin, 4));
        let refused = tokio::time::timeout(Duration::from_secs(5), pool.checkout(false))
            .await
            .expect("the connect error reaches the waiting request");
        assert!(matches!(refused, Err(super::ConnectError::Tcp(_))));
    }

    #[tokio::test]
    async fn a_fresh_checkout_never_takes_a_connection_handed_over() {
        let (pool, accept) = pool_on_loopback().await;
        let first = pool.checkout(false).await.unwrap();
        let fresh = pool.checkout(true).await.unwrap();
        assert!(!fresh.reused);
        pool.checkin(first, KeepAlive::default(), true);
        assert_eq!(pool.idle.lock().unwrap().len(), 1);
        assert!(pool.waiting.lock().unwrap().queue.is_empty());
        drop(fresh);
        accept.abort();
    }

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
