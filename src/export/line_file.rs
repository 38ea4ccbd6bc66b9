//! An append-only file of JSON lines that never holds a torn line and is never more than
//! [`FLUSH_INTERVAL`] behind.
//!
//! Each line is serialized into memory first; bytes reach the file only as whole lines, in one
//! `write` of everything buffered, when the buffer is full, when [`LineFile::flush_if_due`] finds
//! the last flush older than the interval, or on [`LineFile::flush`]. A `kill -9` therefore loses
//! at most the last interval's lines and leaves no partial line. If a write fails part-way (disk
//! full), the file is cut back to its last whole line and later lines are not written; the
//! error is kept for the caller.
//!
//! Several writers may append to one file ([`LineFile::writer`]): each buffers its own lines and
//! appends them under a lock, so lines from different writers interleave but never mix.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The longest buffered lines wait before they reach the file.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Buffered bytes that trigger a write regardless of time.
const BUFFER_LIMIT: usize = 1 << 16;

/// See the module documentation.
pub struct LineFile {
    sink: Arc<Mutex<Sink>>,
    buf: Vec<u8>,
    last_flush: Instant,
}

/// The file, shared by every writer.
struct Sink {
    file: File,
    /// Bytes known to be in the file, all whole lines.
    written: u64,
    /// The first write error; once set, nothing more is written by any writer.
    failed: Option<std::io::ErrorKind>,
}

impl LineFile {
    /// Creates (truncates) the file.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let sink = Sink {
            file: File::create(path)?,
            written: 0,
            failed: None,
        };
        Ok(Self::over(Arc::new(Mutex::new(sink))))
    }

    fn over(sink: Arc<Mutex<Sink>>) -> Self {
        Self {
            sink,
            buf: Vec::with_capacity(BUFFER_LIMIT),
            last_flush: Instant::now(),
        }
    }

    /// Another writer appending to the same file, with its own buffer. Its lines reach the file
    /// only when it flushes; a write error seen by any writer stops them all.
    pub fn writer(&self) -> Self {
        Self::over(self.sink.clone())
    }

    /// Appends one line written by `write` (which must not write the newline). If `write`
    /// fails, nothing of the line is kept.
    pub fn push(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mark = self.buf.len();
        if let Err(e) = write(&mut self.buf) {
            self.buf.truncate(mark);
            return Err(e);
        }
        self.buf.push(b'\n');
        if self.buf.len() >= BUFFER_LIMIT {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered lines if the last write is older than [`FLUSH_INTERVAL`].
    pub fn flush_if_due(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() && self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes every buffered line now.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.last_flush = Instant::now();
        if self.buf.is_empty() {
            return match self
                .sink
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .failed
            {
                Some(kind) => Err(kind.into()),
                None => Ok(()),
            };
        }
        // The sink's state changes only after a write completed or was cut back, so a lock
        // poisoned by a panic elsewhere still guards a file of whole lines.
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        let result = sink.append(&self.buf);
        self.buf.clear();
        result
    }
}

impl Sink {
    fn append(&mut self, lines: &[u8]) -> std::io::Result<()> {
        if let Some(kind) = self.failed {
            return Err(kind.into());
        }
        match self.file.write_all(lines) {
            Ok(()) => {
                self.written += lines.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Cut a partly written batch back to the last whole line.
                let _ = self.file.set_len(self.written);
                self.failed = Some(e.kind());
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_the_file_whole_and_only_on_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut file = LineFile::create(&path).unwrap();
        file.push(|b| b.write_all(b"{\"a\":1}")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        file.flush().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n");
    }

    #[test]
    fn a_failed_line_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut file = LineFile::create(&path).unwrap();
        let failed = file.push(|b| {
            b.write_all(b"{\"half")?;
            Err(std::io::Error::other("serializer failed"))
        });
        assert!(failed.is_err());
        file.push(|b| b.write_all(b"{}")).unwrap();
        file.flush().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
    }

    #[test]
    fn big_batches_are_written_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut file = LineFile::create(&path).unwrap();
        let line = vec![b'x'; 1000];
        for _ in 0..70 {
            file.push(|b| b.write_all(&line)).unwrap();
        }
        let on_disk = std::fs::read(&path).unwrap();
        assert!(on_disk.len() >= BUFFER_LIMIT);
        assert!(on_disk.ends_with(b"\n"));
    }

    #[test]
    fn writers_of_one_file_interleave_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let first = LineFile::create(&path).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut w = first.writer();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        w.push(|b| write!(b, "{{\"writer\":{t},\"i\":{i}}}"))
                            .unwrap();
                    }
                    w.flush().unwrap();
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        let mut seen = vec![0; 4];
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let (t, i) = (
                v["writer"].as_u64().unwrap() as usize,
                v["i"].as_u64().unwrap(),
            );
            assert_eq!(i, seen[t], "writer {t}'s lines out of order or torn");
            seen[t] += 1;
        }
        assert_eq!(seen, vec![5000; 4]);
    }
}
