//! Helpers for integration tests: run the real `aiperf` binary and read what it wrote.
#![allow(dead_code)]

pub mod http_peer;
pub mod llama;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built binary.
pub fn aiperf() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aiperf"));
    cmd.env_remove("AIPERF_API_KEY");
    // A calibration of the developer's machine must not add warnings to the tests' runs.
    cmd.env("AIPERF_CALIBRATION", "/nonexistent/aiperf-calibration.json");
    cmd
}

/// Runs `aiperf profile` with the given flags plus `--artifact-dir <dir> --ui-type none`.
pub fn profile(dir: &Path, args: &[&str]) -> Output {
    aiperf()
        .arg("profile")
        .args(args)
        .args([
            "--artifact-dir",
            dir.to_str().unwrap(),
            "--ui-type",
            "none",
            "--random-seed",
            "7",
        ])
        .output()
        .expect("run aiperf")
}

/// The exit code, with stdout and stderr shown on mismatch.
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Parses a JSON file.
pub fn json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses every line of a JSONL file.
pub fn jsonl(path: PathBuf) -> Vec<Value> {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect()
}

/// `profile_export_aiperf.json` of a run directory.
pub fn summary(dir: &Path) -> Value {
    json(dir.join("profile_export_aiperf.json"))
}

/// A metric statistic from the summary.
pub fn stat(summary: &Value, tag: &str, stat: &str) -> f64 {
    summary[tag][stat]
        .as_f64()
        .unwrap_or_else(|| panic!("{tag}.{stat} missing in summary"))
}

/// Polls `condition` every 20 ms for up to `seconds`; returns whether it became true.
pub fn wait_until(seconds: u64, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    condition()
}

/// Writes `content` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// A command's stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Whether a file exists and is not empty.
pub fn has_content(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false)
}

/// Decodes a PNG and checks it is a full-size plot with something drawn on it (more than 1% of
/// its pixels differ from the background at the top-left corner). Returns the top-left pixel.
pub fn assert_plot_png(path: &Path) -> [u8; 3] {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("decodable frame");
    assert_eq!((info.width, info.height), (1280, 720), "{}", path.display());
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    let bg = [pixels[0], pixels[1], pixels[2]];
    let drawn = pixels[..info.buffer_size()]
        .chunks_exact(3)
        .filter(|p| *p != bg)
        .count();
    let total = (info.width * info.height) as usize;
    assert!(
        drawn * 100 > total,
        "{} is blank ({drawn} of {total} pixels drawn)",
        path.display()
    );
    bg
}

/// The PNG file names in a directory, sorted.
pub fn pngs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".png"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A process killed (and reaped) when dropped.
pub struct ServerProcess(pub std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `aiperf mock-server --port 0 ARGS` as its own process; returns it with its base URL.
/// Its stderr is drained on a thread so the server never blocks on a full pipe.
pub fn start_mock_server(args: &[&str]) -> (ServerProcess, String) {
    use std::io::BufRead;
    let mut child = aiperf()
        .args(["mock-server", "--port", "0"])
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start aiperf mock-server");
    let mut reader = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("mock server banner");
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = line.trim().rsplit(' ').next().unwrap_or("").to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (ServerProcess(child), url)
}

/// Every file below `dir`, recursively.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// `GET path` on a server given by its base URL; the whole response, head and body.
pub fn http_get(base: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

/// The mock server's `GET /stats` counters: (requests received, responses sent to the end).
pub fn mock_stats(base: &str) -> (u64, u64) {
    (
        mock_counter(base, "requests"),
        mock_counter(base, "completed"),
    )
}

/// The mock server's count of streamed responses whose client went away before their end.
pub fn mock_disconnects(base: &str) -> u64 {
    mock_counter(base, "disconnected")
}

/// One of the mock server's `GET /stats` counters (`connections`, `disconnected`, ...).
pub fn mock_counter(base: &str, name: &str) -> u64 {
    let response = http_get(base, "/stats");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: Value = serde_json::from_str(body.trim()).unwrap_or_default();
    v[name].as_u64().unwrap_or(0)
}

/// Starts `python3 tests/fixtures/SCRIPT PORT ARGS...` on a free port and waits until it
/// accepts connections; returns it with its port.
pub fn start_python_fixture(script: &str, args: &[&std::ffi::OsStr]) -> (ServerProcess, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("python3")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(script),
        )
        .arg(port.to_string())
        .args(args)
        .spawn()
        .expect("start python3");
    let server = ServerProcess(child);
    let up = wait_until(20, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "{script} did not start");
    (server, port)
}

/// `aiperf profile` against one server, written as the behaviour under test:
/// `MockProfile::new("ttft_ms=3").streaming().requests(8).run(dir)`.
///
/// Every run gets `--artifact-dir DIR --ui-type none --random-seed 7`, like [`profile`], so
/// runs are reproducible and print no progress bars. Flags the builder has no method for go
/// through [`MockProfile::arg`] and [`MockProfile::flag`].
#[derive(Clone, Debug)]
pub struct MockProfile {
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl MockProfile {
    /// The embedded mock server with URL settings such as `ttft_ms=3&itl_ms=1` (may be empty),
    /// model `mock-model`.
    pub fn new(settings: &str) -> Self {
        let url = if settings.is_empty() {
            "mock://".to_string()
        } else {
            format!("mock://?{settings}")
        };
        Self::at(&url).model("mock-model")
    }

    /// Any server URL (an `http://` base or `mock://...`), model `m`.
    pub fn at(url: &str) -> Self {
        Self {
            args: vec!["-u".into(), url.into()],
            envs: Vec::new(),
        }
        .model("m")
    }

    /// `-m NAME` (replaces the default).
    pub fn model(mut self, name: &str) -> Self {
        if let Some(i) = self.args.iter().position(|a| a == "-m") {
            self.args.drain(i..i + 2);
        }
        self.arg("-m", name)
    }

    /// `--streaming`.
    pub fn streaming(self) -> Self {
        self.flag("--streaming")
    }

    /// `--request-count N`.
    pub fn requests(self, n: u64) -> Self {
        self.arg("--request-count", n)
    }

    /// `--concurrency N`.
    pub fn concurrency(self, n: u64) -> Self {
        self.arg("--concurrency", n)
    }

    /// `--isl N --osl M`: prompt and output token counts.
    pub fn tokens(self, isl: u64, osl: u64) -> Self {
        self.arg("--isl", isl).arg("--osl", osl)
    }

    /// `--request-rate R`.
    pub fn rate(self, per_second: f64) -> Self {
        self.arg("--request-rate", per_second)
    }

    /// `--benchmark-duration S`.
    pub fn duration(self, seconds: f64) -> Self {
        self.arg("--benchmark-duration", seconds)
    }

    /// `--endpoint-type KIND`.
    pub fn endpoint(self, kind: &str) -> Self {
        self.arg("--endpoint-type", kind)
    }

    /// Any flag with a value.
    pub fn arg(mut self, flag: &str, value: impl std::fmt::Display) -> Self {
        self.args.push(flag.to_string());
        self.args.push(value.to_string());
        self
    }

    /// Any flag without a value.
    pub fn flag(mut self, flag: &str) -> Self {
        self.args.push(flag.to_string());
        self
    }

    /// Several flags at once, as written on a command line.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// An environment variable for the aiperf process.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.envs.push((key.to_string(), value.into()));
        self
    }

    /// The command, ready to run or spawn, writing into `dir`.
    pub fn command(&self, dir: &Path) -> Command {
        let mut cmd = aiperf();
        cmd.arg("profile")
            .args(&self.args)
            .arg("--artifact-dir")
            .arg(dir)
            .args(["--ui-type", "none", "--random-seed", "7"]);
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs to the end; the output with its exit status.
    pub fn run(&self, dir: &Path) -> Output {
        self.command(dir).output().expect("run aiperf")
    }
}

/// Parses `path` as the artifact type `T` and checks that `T` writes the same JSON document
/// back (key order aside): the type is the file, not a guess at it.
pub fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(path: &Path) -> T {
    let original = json(path.to_path_buf());
    let typed: T = aiperf::artifacts::io::read(path).unwrap_or_else(|e| panic!("{e}"));
    let again = serde_json::to_value(&typed).unwrap();
    assert_eq!(again, original, "{} does not round-trip", path.display());
    typed
}
