//! A progress bar on standard error while a large input file is read.
//!
//! Drawn only when standard error is a terminal and the file is at least
//! [`PROGRESS_MIN_BYTES`] long, so pipes, redirects and tests see no bar. It shows bytes read of
//! the file's size, bytes per second, and lines read with lines per second (a Zinc or CSV row is
//! one line).

use std::io::{self, Read};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Files smaller than this are read without a progress bar.
pub const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// Whether a bar is drawn for a file of `len` bytes.
pub(crate) fn wants_bar(len: u64, stderr_is_terminal: bool) -> bool {
    stderr_is_terminal && len >= PROGRESS_MIN_BYTES
}

/// A reader that moves a progress bar by the bytes it yields and counts the lines in them.
pub(crate) struct ProgressReader<R> {
    inner: R,
    bar: ProgressBar,
    lines: u64,
}

impl<R: Read> ProgressReader<R> {
    /// Wraps `inner`, a file of `len` bytes called `name`, drawing on standard error.
    pub(crate) fn new(inner: R, len: u64, name: &str) -> Self {
        Self::with_target(inner, len, name, ProgressDrawTarget::stderr())
    }

    fn with_target(inner: R, len: u64, name: &str, target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(Some(len), target);
        let style = ProgressStyle::with_template(
            "{prefix} {bar:24} {bytes}/{total_bytes} {bytes_per_sec} {msg} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(name.to_owned());
        bar.enable_steady_tick(Duration::from_millis(250));
        ProgressReader {
            inner,
            bar,
            lines: 0,
        }
    }

    fn lines_message(&self) -> String {
        let secs = self.bar.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            self.lines as f64 / secs
        } else {
            0.0
        };
        format!("{} lines, {rate:.0} lines/s", self.lines)
    }
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = buf.get(..n).unwrap_or_default();
        self.lines += read.iter().filter(|&&b| b == b'\n').count() as u64;
        self.bar.inc(n as u64);
        let message = self.lines_message();
        self.bar.set_message(message);
        Ok(n)
    }
}

impl<R> Drop for ProgressReader<R> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_only_for_large_files_on_a_terminal() {
        assert!(wants_bar(PROGRESS_MIN_BYTES, true));
        assert!(!wants_bar(PROGRESS_MIN_BYTES - 1, true));
        assert!(!wants_bar(u64::MAX, false));
    }

    #[test]
    fn counts_bytes_and_lines_and_passes_every_byte_through() {
        let data = b"ver:\"3.0\"\na,b\n1,2\n3,4\n".repeat(1000);
        let mut reader = ProgressReader::with_target(
            &data[..],
            data.len() as u64,
            "x",
            ProgressDrawTarget::hidden(),
        );
        let mut out = Vec::new();
        // Short reads, as a file gives them.
        let mut chunk = [0u8; 7];
        loop {
            let n = reader.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(out, data);
        assert_eq!(reader.lines, 4000);
        assert_eq!(reader.bar.position(), data.len() as u64);
        assert!(reader.lines_message().starts_with("4000 lines"));
    }
}
