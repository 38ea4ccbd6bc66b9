//! An append-only file of JSON lines that never holds a torn line and is never more than
//! [`FLUSH_INTERVAL`] behind.
//!
//! Each line is serialized into memory first; bytes reach the file only as whole lines, in one
//! `write` of everything buffered, when the buffer is full, when [`LineFile::flush_if_due`] finds
//! the last flush older than the interval, or on [`LineFile::flush`]. A `kill -9` therefore loses
//! at most the last interval's lines and leaves no partial line. If a write fails part-way (disk
//! full), the file is cut back to its last whole line and later lines are not written; the
//! error is kept for the caller.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The longest buffered lines wait before they reach the file.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Buffered bytes that trigger a write regardless of time.
const BUFFER_LIMIT: usize = 1 << 16;

/// See the module documentation.
pub struct LineFile {
    file: File,
    buf: Vec<u8>,
    /// Bytes known to be in the file, all whole lines.
    written: u64,
    last_flush: Instant,
    /// The first write error; once set, nothing more is written.
    failed: Option<std::io::ErrorKind>,
}

impl LineFile {
    /// Creates (truncates) the file.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            file: File::create(path)?,
            buf: Vec::with_capacity(BUFFER_LIMIT),
            written: 0,
            last_flush: Instant::now(),
            failed: None,
        })
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
        if let Some(kind) = self.failed {
            self.buf.clear();
            return Err(kind.into());
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        match self.file.write_all(&self.buf) {
            Ok(()) => {
                self.written += self.buf.len() as u64;
                self.buf.clear();
                Ok(())
            }
            Err(e) => {
                // Cut a partly written batch back to the last whole line.
                let _ = self.file.set_len(self.written);
                self.failed = Some(e.kind());
                self.buf.clear();
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
}
