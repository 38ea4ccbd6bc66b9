//! Turning configured URLs into endpoint URLs: starting embedded mock servers for `mock://`,
//! appending the API path, and checking each server is reachable before anything starts.

use crate::error::AppError;
use crate::mock::{MockConfig, MockServer};
use crate::redact::redact_url;
use crate::spec::{EndpointSpec, EndpointType};
use reqwest::Url;
use std::time::{Duration, Instant};

crate::sentence_error!(
    /// A server URL that cannot be turned into an endpoint URL.
    InvalidUrl
);

/// The resolved targets; embedded mock servers live as long as this value.
pub struct Targets {
    /// Full endpoint URLs, in round-robin order.
    pub urls: Vec<Url>,
    _mock_servers: Vec<MockServer>,
}

impl Targets {
    /// URLs for display (credentials redacted).
    pub fn display(&self) -> Vec<String> {
        self.urls.iter().map(|u| redact_url(u.as_str())).collect()
    }
}

/// The endpoint URL for a base URL: an explicit `path` is appended (unless the base already ends
/// with it); otherwise a base without a path gets the API's default path, a base ending in `/v1`
/// gets the rest of it, and a base with any other path is used as given.
pub fn endpoint_url(base: &str, path: Option<&str>, kind: EndpointType) -> Result<Url, InvalidUrl> {
    let mut url =
        Url::parse(base).map_err(|e| format!("URL '{}' is not valid: {e}", redact_url(base)))?;
    let existing = url.path().trim_end_matches('/').to_string();
    let new_path = match path {
        Some(p) if existing.ends_with(p.trim_end_matches('/')) => existing,
        Some(p) => match existing
            .strip_suffix("/v1")
            .filter(|_| p.starts_with("/v1/"))
        {
            Some(prefix) => format!("{prefix}{p}"),
            None => format!("{existing}{p}"),
        },
        None if existing.is_empty() => kind.default_path().to_string(),
        None if existing.ends_with("/v1") => format!("{existing}{}", &kind.default_path()[3..]),
        None => existing,
    };
    url.set_path(&new_path);
    Ok(url)
}

/// Starts mock servers and resolves every URL.
pub async fn resolve(endpoint: &EndpointSpec) -> Result<Targets, AppError> {
    let mut urls = Vec::new();
    let mut servers = Vec::new();
    for raw in &endpoint.urls {
        let base = if raw.starts_with("mock://") {
            let config = MockConfig::from_mock_url(raw).map_err(AppError::config)?;
            let server = crate::mock::spawn(config, 0).await.map_err(|e| {
                AppError::failure(format!("cannot start the embedded mock server: {e}"))
            })?;
            let base = server.base_url();
            servers.push(server);
            base
        } else {
            raw.clone()
        };
        urls.push(
            endpoint_url(&base, endpoint.path.as_deref(), endpoint.endpoint_type)
                .map_err(AppError::config)?,
        );
    }
    Ok(Targets {
        urls,
        _mock_servers: servers,
    })
}

/// Checks every server accepts TCP connections, retrying for `wait` (one attempt when zero).
pub async fn check_reachable(targets: &Targets, wait: Duration) -> Result<(), AppError> {
    for url in &targets.urls {
        let host = url.host_str().unwrap_or("localhost").to_string();
        let port = url.port_or_known_default().unwrap_or(80);
        let deadline = Instant::now() + wait;
        loop {
            let attempt = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::TcpStream::connect((host.as_str(), port)),
            );
            let error = match attempt.await {
                Ok(Ok(_)) => break,
                Ok(Err(e)) => e.to_string(),
                Err(_) => "no answer within 5 s".to_string(),
            };
            if Instant::now() >= deadline {
                return Err(AppError::unreachable(format!(
                    "cannot reach {}: {error}. Is the server running and listening there? Nothing was benchmarked{}.",
                    redact_url(url.as_str()),
                    if wait.is_zero() {
                        " (use --wait-for-model-timeout SECONDS to wait for a starting server)"
                    } else {
                        ""
                    }
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use EndpointType::*;

    #[test]
    fn endpoint_paths() {
        let u = |b, p, k| endpoint_url(b, p, k).unwrap().to_string();
        assert_eq!(
            u("http://h:8000", None, Chat),
            "http://h:8000/v1/chat/completions"
        );
        assert_eq!(
            u("http://h:8000/", None, Completions),
            "http://h:8000/v1/completions"
        );
        assert_eq!(
            u("http://h:8000/v1", None, Chat),
            "http://h:8000/v1/chat/completions"
        );
        assert_eq!(
            u("http://h/v1/chat/completions", None, Chat),
            "http://h/v1/chat/completions"
        );
        assert_eq!(
            u("http://h/api", Some("/v1/embeddings"), Embeddings),
            "http://h/api/v1/embeddings"
        );
        assert_eq!(
            u("http://h/v1", Some("/v1/custom"), Chat),
            "http://h/v1/custom"
        );
        assert_eq!(
            u("http://h/v1/custom", Some("/v1/custom"), Chat),
            "http://h/v1/custom"
        );
    }
}
