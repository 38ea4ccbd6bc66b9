//! The process's file-descriptor limit, which caps how many connections the client can hold.
//!
//! Each request in flight holds one socket, so a concurrency near `ulimit -n` fails requests
//! with EMFILE: a fault of the client machine that must never pass for the server's. At start
//! the soft limit is raised to the hard limit (what the user is allowed anyway), and a run that
//! still asks for more connections than fit is warned about before it starts.

/// Descriptors the process needs besides its connections (log, JSONL, stdio, runtime, mock).
const RESERVED_DESCRIPTORS: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force.
// `rlim_t` is u64 here but narrower on some targets, so the casts are not redundant everywhere.
#[allow(clippy::unnecessary_cast)]
pub fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write and read a plain struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return Some(raised.rlim_cur as u64);
            }
        }
    }
    Some(limit.rlim_cur as u64)
}

/// A warning when `connections` sockets cannot fit under the soft limit `open_files`.
pub fn connection_warning(connections: u64, open_files: u64) -> Option<String> {
    let needed = connections + RESERVED_DESCRIPTORS;
    (needed > open_files).then(|| {
        format!(
            "up to {connections} connections need about {needed} file descriptors, but this process may open \
             {open_files} (ulimit -n): requests beyond that fail as client errors. Raise the limit (ulimit -n 65536) \
             or lower --concurrency"
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn warns_only_when_connections_do_not_fit() {
        assert!(super::connection_warning(300, 128).is_some());
        assert!(super::connection_warning(64, 1024).is_none());
    }
}
