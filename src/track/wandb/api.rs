//! The W&B HTTP API as the official SDK speaks it (docs: wandb-protocol.md): GraphQL at
//! `{base}/graphql`, the run's file stream, and signed-URL uploads. Every call retries 429 and
//! 5xx answers and connection failures with exponential backoff, within one deadline for the
//! whole upload, so a sick server can slow an upload but never hang the benchmark.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A client for one W&B server.
pub struct Api {
    http: reqwest::Client,
    base: String,
    api_key: String,
    deadline: Instant,
}

/// First retry delay; doubled after every failed attempt, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

enum Attempt {
    Done(reqwest::Response),
    Retry(String),
}

impl Api {
    /// A client for `base` (no trailing slash needed) that gives up at `deadline`; one
    /// request may take at most 30 s.
    pub fn new(base: &str, api_key: &str, deadline: Instant) -> Result<Api> {
        Self::build(base, api_key, deadline, |b| {
            b.timeout(Duration::from_secs(30))
        })
    }

    /// A client for downloads: a request may take as long as the deadline allows, as long as
    /// bytes keep coming (30 s without any is a failure), so a large record file can arrive.
    pub fn for_download(base: &str, api_key: &str, deadline: Instant) -> Result<Api> {
        Self::build(base, api_key, deadline, |b| {
            b.read_timeout(Duration::from_secs(30))
        })
    }

    fn build(
        base: &str,
        api_key: &str,
        deadline: Instant,
        timeouts: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> Result<Api> {
        let builder = reqwest::Client::builder()
            .no_proxy()
            .user_agent(format!("aiperf/{}", crate::VERSION))
            .connect_timeout(Duration::from_secs(5));
        let http = timeouts(builder)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            deadline,
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request built by `build` until it gets a non-retryable answer or time runs out.
    async fn send(
        &self,
        what: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        use backon::BackoffBuilder;
        let mut delays = backon::ExponentialBuilder::new()
            .with_min_delay(FIRST_BACKOFF)
            .with_max_delay(MAX_BACKOFF)
            .with_factor(2.0)
            .without_max_times()
            .build();
        loop {
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                bail!("{what}: gave up, the time budget ran out");
            }
            let attempt = match tokio::time::timeout(remaining, build().send()).await {
                Err(_) => bail!("{what}: gave up, the time budget ran out"),
                Ok(Err(e)) => Attempt::Retry(format!("{what}: {}", connection_error(&e))),
                Ok(Ok(resp)) => {
                    let status = resp.status();
                    if status.as_u16() == 429 || status.is_server_error() {
                        Attempt::Retry(format!("{what}: HTTP {status}"))
                    } else {
                        Attempt::Done(resp)
                    }
                }
            };
            match attempt {
                Attempt::Done(resp) => return Ok(resp),
                Attempt::Retry(why) => {
                    let backoff = delays.next().unwrap_or(MAX_BACKOFF);
                    if Instant::now() + backoff >= self.deadline {
                        bail!("{why} (gave up after retries within the time budget)");
                    }
                    tracing::debug!("{why}; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }

    /// Runs a GraphQL operation and returns its `data`.
    pub async fn graphql(&self, operation: &str, query: &str, variables: Value) -> Result<Value> {
        let url = format!("{}/graphql", self.base);
        let body = json!({"query": query, "variables": variables, "operationName": operation});
        let resp = self
            .send(operation, || {
                self.http
                    .post(&url)
                    .basic_auth("api", Some(&self.api_key))
                    .json(&body)
            })
            .await?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .with_context(|| format!("{operation}: reading the answer"))?;
        if !status.is_success() {
            bail!("{operation}: HTTP {status}: {}", short(&text));
        }
        let doc: Value = serde_json::from_str(&text)
            .with_context(|| format!("{operation}: the answer is not JSON"))?;
        if let Some(errors) = doc
            .get("errors")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        {
            let messages: Vec<&str> = errors
                .iter()
                .filter_map(|e| e["message"].as_str())
                .collect();
            bail!("{operation}: {}", messages.join("; "));
        }
        doc.get("data")
            .cloned()
            .ok_or_else(|| anyhow!("{operation}: the answer has no data"))
    }

    /// Posts one file-stream request for a run.
    pub async fn file_stream(
        &self,
        entity: &str,
        project: &str,
        run: &str,
        body: &Value,
    ) -> Result<()> {
        let url = format!("{}/files/{entity}/{project}/{run}/file_stream", self.base);
        let resp = self
            .send("file_stream", || {
                self.http
                    .post(&url)
                    .basic_auth("api", Some(&self.api_key))
                    .json(body)
            })
            .await?;
        let status = resp.status();
        if !status.is_success() {
            bail!(
                "file_stream: HTTP {status}: {}",
                short(&resp.text().await.unwrap_or_default())
            );
        }
        Ok(())
    }

    /// Uploads bytes to a signed URL: no credentials, only the headers the server returned.
    pub async fn put(&self, url: &str, headers: &[String], bytes: &[u8], what: &str) -> Result<()> {
        let url = self.absolute(url);
        let body = bytes::Bytes::copy_from_slice(bytes);
        let resp = self
            .send(what, || {
                let mut req = self.http.put(&url).body(body.clone());
                for h in headers {
                    if let Some((name, value)) = h.split_once(':') {
                        req = req.header(name.trim(), value.trim());
                    }
                }
                req
            })
            .await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("uploading {what}: HTTP {status}");
        }
        Ok(())
    }

    /// `url` made absolute (a server may answer with a path on itself).
    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_string()
        }
    }

    /// Whether `url` is on the W&B server itself, the only place the API key may go.
    fn same_origin(&self, url: &str) -> bool {
        match (url::Url::parse(url), url::Url::parse(&self.base)) {
            (Ok(a), Ok(b)) => a.origin() == b.origin(),
            _ => false,
        }
    }

    /// Starts a GET of a download URL, retried like every call; a signed storage URL gets no
    /// credentials.
    async fn get_response(&self, url: &str, what: &str) -> Result<reqwest::Response> {
        let url = self.absolute(url);
        let auth = self.same_origin(&url);
        let resp = self
            .send(what, || {
                let req = self.http.get(&url);
                if auth {
                    req.basic_auth("api", Some(&self.api_key))
                } else {
                    req
                }
            })
            .await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("downloading {what}: HTTP {status}");
        }
        Ok(resp)
    }

    /// Downloads a small document (a manifest) into memory, at most 64 MiB.
    pub async fn get(&self, url: &str, what: &str) -> Result<Vec<u8>> {
        const LIMIT: usize = 64 << 20;
        let mut resp = self.get_response(url, what).await?;
        let mut out = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .with_context(|| format!("downloading {what}"))?
        {
            if out.len() + chunk.len() > LIMIT {
                bail!("downloading {what}: larger than {} MiB", LIMIT >> 20);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Downloads `url` into `target` (through a temporary file beside it, renamed when
    /// complete, so a failure never leaves a partial file under the final name), stopping
    /// once more than `max_bytes` arrive (a server cannot fill the disk). Returns the size and
    /// the base64 MD5 of what was written.
    pub async fn get_to_file(
        &self,
        url: &str,
        target: &std::path::Path,
        what: &str,
        max_bytes: u64,
    ) -> Result<(u64, String)> {
        use md5::Digest;
        use std::io::Write;
        let mut resp = self.get_response(url, what).await?;
        let dir = target.parent().unwrap_or(std::path::Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        let mut hash = md5::Md5::new();
        let mut size = 0u64;
        while let Some(chunk) = resp
            .chunk()
            .await
            .with_context(|| format!("downloading {what}"))?
        {
            size += chunk.len() as u64;
            if size > max_bytes {
                bail!("downloading {what}: more than the {max_bytes} bytes expected");
            }
            hash.update(&chunk);
            tmp.write_all(&chunk)
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
        tmp.persist(target)
            .with_context(|| format!("cannot write {}", target.display()))?;
        use base64::Engine;
        let digest = base64::engine::general_purpose::STANDARD.encode(hash.finalize());
        Ok((size, digest))
    }
}

fn connection_error(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "cannot connect to the W&B server".into()
    } else if e.is_timeout() {
        "the W&B server did not answer in time".into()
    } else {
        format!("request failed: {e}")
    }
}

fn short(text: &str) -> String {
    let t: String = text.chars().take(200).collect();
    t.replace('\n', " ")
}
