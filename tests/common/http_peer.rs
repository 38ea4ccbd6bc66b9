//! A scripted HTTP/1.1 server on 127.0.0.1 for connection-reuse tests: it answers chat requests
//! with a fixed JSON body and the headers a test chooses, counts connections and requests, and
//! can drop one request on a reused connection without answering (what a server that closed the
//! idle connection does to a request already on its way).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How the peer behaves.
#[derive(Clone, Default)]
pub struct PeerScript {
    /// Extra response header lines, e.g. `"Keep-Alive: timeout=1\r\n"`.
    pub headers: String,
    /// Drop (read, then close without answering) the first request that arrives as the second
    /// request of a connection.
    pub drop_first_reused: bool,
}

/// What the peer saw.
#[derive(Default)]
pub struct PeerLog {
    /// Connections accepted.
    pub connections: AtomicUsize,
    /// Requests read (answered or dropped).
    pub requests: AtomicUsize,
    /// Requests dropped without an answer.
    pub dropped: AtomicUsize,
    /// Requests per connection, in accept order.
    pub per_connection: Mutex<Vec<usize>>,
}

/// Starts the peer; returns its base URL and its log. It serves until the test process ends.
pub fn start_peer(script: PeerScript) -> (String, Arc<PeerLog>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let log = Arc::new(PeerLog::default());
    let dropped_once = Arc::new(AtomicBool::new(false));
    let server_log = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let index = {
                let mut per = server_log.per_connection.lock().unwrap();
                per.push(0);
                per.len() - 1
            };
            server_log.connections.fetch_add(1, Ordering::Relaxed);
            let (log, script, dropped_once) =
                (server_log.clone(), script.clone(), dropped_once.clone());
            std::thread::spawn(move || serve(stream, index, &log, &script, &dropped_once));
        }
    });
    (url, log)
}

fn serve(
    stream: TcpStream,
    index: usize,
    log: &PeerLog,
    script: &PeerScript,
    dropped_once: &AtomicBool,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let mut served_here = 0usize;
    loop {
        let Some(path) = read_request(&mut reader) else {
            return;
        };
        log.requests.fetch_add(1, Ordering::Relaxed);
        log.per_connection.lock().unwrap()[index] += 1;
        served_here += 1;
        if script.drop_first_reused
            && served_here == 2
            && !dropped_once.swap(true, Ordering::Relaxed)
        {
            log.dropped.fetch_add(1, Ordering::Relaxed);
            return; // closes the connection without a byte of response
        }
        let body: &[u8] = if path.starts_with("/v1/models") {
            br#"{"object":"list","data":[{"id":"m","object":"model"}]}"#
        } else {
            br#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n",
            body.len(),
            script.headers
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(body).is_err() {
            return;
        }
    }
}

/// Reads one request (head and `Content-Length` body); its path, or `None` at end of stream.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some(path)
}
