//! The last lines of a child's (or a container's) log, for failure reports.

use std::{
    collections::VecDeque,
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::Path,
    sync::{Arc, Mutex, PoisonError},
};

/// Lines a failure report shows.
pub(crate) const REPORT_LINES: usize = 40;
/// Lines kept in memory for a container log.
const KEPT_LINES: usize = 2_000;
/// Bytes read from the end of a process log file.
const TAIL_BYTES: u64 = 256 * 1024;

/// A bounded in-memory log fed by the container log stream.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogBuffer {
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl LogBuffer {
    /// Appends every line of `bytes` (a Docker log frame).
    pub(crate) fn push(&self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        for line in text.lines().filter(|line| !line.is_empty()) {
            if lines.len() == KEPT_LINES {
                lines.pop_front();
            }
            lines.push_back(line.to_owned());
        }
    }

    /// The last `n` lines, newline-separated.
    pub(crate) fn tail(&self, n: usize) -> String {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let skip = lines.len().saturating_sub(n);
        let tail: Vec<&str> = lines.iter().skip(skip).map(String::as_str).collect();
        tail.join("\n")
    }
}

/// The last `n` lines of the file at `path`; a message instead when it cannot be read.
pub(crate) fn file_tail(path: &Path, n: usize) -> String {
    match read_tail(path) {
        Ok(text) => last_lines(&text, n),
        Err(err) => format!("(cannot read {}: {err})", path.display()),
    }
}

fn read_tail(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_keeps_the_last_lines_of_multi_line_frames() {
        let buffer = LogBuffer::default();
        buffer.push(b"one\ntwo\n");
        buffer.push(b"three\n");
        assert_eq!(buffer.tail(2), "two\nthree");
        assert_eq!(buffer.tail(10), "one\ntwo\nthree");
    }

    #[test]
    fn buffer_is_bounded() {
        let buffer = LogBuffer::default();
        for i in 0..KEPT_LINES + 5 {
            buffer.push(format!("line {i}\n").as_bytes());
        }
        assert_eq!(buffer.tail(usize::MAX).lines().count(), KEPT_LINES);
        assert!(buffer
            .tail(1)
            .ends_with(&format!("line {}", KEPT_LINES + 4)));
    }

    #[test]
    fn file_tail_returns_the_last_lines_or_says_why_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        assert_eq!(file_tail(&path, 2), "b\nc");
        assert!(file_tail(&dir.path().join("missing"), 2).starts_with("(cannot read"));
    }
}
