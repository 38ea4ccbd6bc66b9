//! Removing secrets from anything that is written or shown: command lines, URLs, headers.

/// Flags whose value is always a secret.
const SECRET_FLAGS: &[&str] = &["--api-key"];
/// Header names whose value is a credential.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "api-key",
    "proxy-authorization",
    "cookie",
];

/// Replaces `user:password@` credentials in a URL.
pub fn redact_url(url: &str) -> String {
    match url.find("://") {
        Some(scheme_end) => {
            let rest = &url[scheme_end + 3..];
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{}<redacted>@{}", &url[..scheme_end + 3], &rest[at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

/// Whether a header carries a credential.
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name.trim()))
}

/// Redacts a `Name: value` header argument when the header is a credential.
fn redact_header_arg(arg: &str) -> String {
    match arg.split_once(':') {
        Some((name, _)) if is_secret_header(name) => format!("{name}: <redacted>"),
        _ => arg.to_string(),
    }
}

/// Quotes an argument for display the way a POSIX shell would need it.
fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The command line as one shell-quoted string with every secret replaced by `<redacted>`.
pub fn redact_command_line(args: &[String]) -> String {
    let mut out = Vec::with_capacity(args.len());
    let mut pending: Option<&str> = None;
    for arg in args {
        if let Some(flag) = pending.take() {
            let shown = if flag == "header" {
                redact_header_arg(arg)
            } else {
                "<redacted>".into()
            };
            out.push(shell_quote(&shown));
            continue;
        }
        if let Some((flag, value)) = arg.split_once('=')
            && flag.starts_with("--")
        {
            let shown = if SECRET_FLAGS.contains(&flag) {
                "<redacted>".to_string()
            } else if flag == "--header" {
                redact_header_arg(value)
            } else {
                redact_url(value)
            };
            out.push(shell_quote(&format!("{flag}={shown}")));
            continue;
        }
        if SECRET_FLAGS.contains(&arg.as_str()) {
            pending = Some("secret");
        } else if arg == "-H" || arg == "--header" {
            pending = Some("header");
        }
        out.push(shell_quote(&redact_url(arg)));
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn api_keys_headers_and_url_credentials_are_hidden() {
        let line = redact_command_line(&args(&[
            "aiperf",
            "profile",
            "--api-key",
            "sk-123",
            "-H",
            "Authorization: Bearer abc",
            "--header=X-Api-Key: k",
            "-u",
            "http://me:pw@host:8000/v1",
            "--api-key=sk-456",
            "-H",
            "X-Trace: 1",
        ]));
        for secret in ["sk-123", "abc", "pw", "sk-456", ": k"] {
            assert!(!line.contains(secret), "{secret} leaked in {line}");
        }
        assert!(line.contains("'X-Trace: 1'"), "{line}");
        assert!(line.contains("http://<redacted>@host:8000/v1"), "{line}");
    }

    #[test]
    fn plain_urls_are_unchanged() {
        assert_eq!(
            redact_url("http://127.0.0.1:8000/v1"),
            "http://127.0.0.1:8000/v1"
        );
    }
}
