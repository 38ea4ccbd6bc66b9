//! JSON pointers (`/benchmark/phases/0/rate`) and the dotted paths people read
//! (`benchmark.phases[0].rate`).

/// Escapes one JSON-pointer token.
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// `/benchmark/phases/0/rate` → `benchmark.phases[0].rate`.
pub fn pointer_to_dotted(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}

/// `benchmark.phases[0].rate` → `/benchmark/phases/0/rate`.
pub fn dotted_to_pointer(path: &str) -> String {
    let mut out = String::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, indices) = part
            .split_once('[')
            .map(|(n, rest)| (n, Some(rest)))
            .unwrap_or((part, None));
        if !name.is_empty() {
            out.push('/');
            out.push_str(&escape_token(name));
        }
        if let Some(rest) = indices {
            for index in rest.split('[') {
                out.push('/');
                out.push_str(index.trim_end_matches(']'));
            }
        }
    }
    out
}
