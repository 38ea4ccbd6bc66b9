//! The https path of the load engine (rustls, the system's roots or `SSL_CERT_FILE`), against a
//! Python TLS server with a certificate made for the test by the openssl command-line tool.

mod common;
use common::*;
use std::path::Path;

/// A certificate for `localhost` and its key, written into `dir`.
fn make_certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "basicConstraints=CA:FALSE"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl could not make a certificate");
    (cert, key)
}

fn start_tls_server(cert: &Path, key: &Path) -> (ServerProcess, String) {
    let (server, port) =
        start_python_fixture("tls_server.py", &[cert.as_os_str(), key.as_os_str()]);
    (server, format!("https://localhost:{port}"))
}

#[test]
fn https_servers_are_benchmarked_over_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = make_certificate(tmp.path());
    let (_server, url) = start_tls_server(&cert, &key);
    let run = tmp.path().join("run");
    let out = MockProfile::at(&url)
        .requests(6)
        .arg("--osl", 2)
        .concurrency(2)
        .env("SSL_CERT_FILE", cert.to_string_lossy())
        .run(&run);
    assert_exit(&out, 0);
    let meta = json(run.join("run_metadata.json"));
    assert_eq!(meta["requests"]["success"], 6, "{meta}");
}

/// An untrusted certificate is a request error that names TLS, never "the server went away".
#[test]
fn an_untrusted_certificate_is_said_plainly() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = make_certificate(tmp.path());
    let (_server, url) = start_tls_server(&cert, &key);
    let out = MockProfile::at(&url)
        .requests(25)
        .arg("--osl", 2)
        .run(&tmp.path().join("run"));
    assert_exit(&out, 4);
    let summary = summary(&tmp.path().join("run")).to_string();
    assert!(summary.contains("TLS handshake failed"), "{summary}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("gone away"));
}
