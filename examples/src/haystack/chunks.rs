//! Response bodies sent as they are encoded, in chunks of about [`CHUNK_BYTES`]: the encoder
//! runs on a blocking thread and writes into a [`ChunkWriter`], which hands each full chunk to
//! the HTTP body through a small channel. The first bytes leave before the last row is
//! encoded, and a large answer never sits whole in memory a second time as text.
//!
//! When the client goes away, the next chunk cannot be sent and the encoder stops with
//! [`io::ErrorKind::BrokenPipe`]; when encoding fails midway, the body ends with an error
//! (the connection is cut, so a client never takes a truncated body for a whole one).

use std::io::{self, Write};

use axum::body::Body;
use bytes::Bytes;
use haystack_core::{Grid, Value, json};
use tokio::sync::mpsc;

use super::formats::Format;

/// Bytes of one body chunk (the last one may be shorter).
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Chunks encoded ahead of what the client has read.
pub const CHUNKS_AHEAD: usize = 4;

/// One item of a streamed body.
type Chunk = io::Result<Bytes>;

/// An [`io::Write`] that sends what is written, in chunks of [`CHUNK_BYTES`], to the body
/// made with it by [`channel`]. Call [`Write::flush`] (or [`ChunkWriter::fail`]) at the end:
/// dropping it sends what is buffered and ends the body.
#[derive(Debug)]
pub struct ChunkWriter {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
}

/// Bytes gathered before a body is streamed: an answer that ends sooner is sent whole, with
/// a Content-Length (a short chunked body would wait on the client's delayed ACK for its
/// terminating chunk, ~40 ms, on connections without TCP_NODELAY).
pub const STREAM_AFTER: usize = 16 * CHUNK_BYTES;

/// The receiving end of a [`ChunkWriter`]: made into a body by [`Pending::body`].
#[derive(Debug)]
pub struct Pending {
    rx: mpsc::Receiver<Chunk>,
}

/// A writer and the receiver its chunks go to. The writer must be used from a blocking thread
/// (it waits for the client when [`CHUNKS_AHEAD`] chunks are not yet taken).
pub fn channel() -> (ChunkWriter, Pending) {
    let (tx, rx) = mpsc::channel::<Chunk>(CHUNKS_AHEAD);
    (
        ChunkWriter {
            tx,
            buf: Vec::with_capacity(CHUNK_BYTES),
        },
        Pending { rx },
    )
}

impl Pending {
    /// The body: whole (with a known length) when the encoder ends within [`STREAM_AFTER`]
    /// bytes, else streamed from the chunks gathered so far on. `Err` when encoding failed
    /// before anything was sent.
    pub async fn body(mut self) -> io::Result<Body> {
        let mut head: Vec<Bytes> = Vec::new();
        let mut size = 0;
        while size < STREAM_AFTER {
            match self.rx.recv().await {
                None => {
                    let whole: Vec<u8> = head.iter().flat_map(|c| c.iter().copied()).collect();
                    return Ok(Body::from(whole));
                }
                Some(Err(e)) => return Err(e),
                Some(Ok(chunk)) => {
                    size += chunk.len();
                    head.push(chunk);
                }
            }
        }
        let first = futures::stream::iter(head.into_iter().map(Ok::<_, io::Error>));
        let rest = futures::stream::unfold(self.rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        Ok(Body::from_stream(futures::StreamExt::chain(first, rest)))
    }
}

impl ChunkWriter {
    /// Sends the buffered bytes as one chunk.
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
        self.tx
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }

    /// Ends the body with an error instead of the rest of its bytes (nothing buffered is
    /// sent): the client sees a cut connection, not a short answer.
    pub fn fail(mut self, why: &str) {
        self.buf.clear();
        let _ = self.tx.blocking_send(Err(io::Error::other(why.to_owned())));
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // Fill the chunk to exactly CHUNK_BYTES, send it, and go on with the rest.
        let room = CHUNK_BYTES.saturating_sub(self.buf.len());
        let (now, rest) = data.split_at(room.min(data.len()));
        self.buf.extend_from_slice(now);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        for piece in rest.chunks(CHUNK_BYTES) {
            self.buf.extend_from_slice(piece);
            if self.buf.len() >= CHUNK_BYTES {
                self.send()?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Drop for ChunkWriter {
    fn drop(&mut self) {
        let _ = self.send();
    }
}

/// Encodes `grid` in `format` into `w` (on a blocking thread), then ends the body: whole, or
/// cut with an error if encoding fails. Zinc, JSON and CSV are written row by row as they are
/// encoded; Trio is encoded whole, then sent in chunks.
pub fn encode(format: Format, grid: Grid, mut w: ChunkWriter) {
    let result = match format {
        Format::Zinc => haystack_zinc::to_writer(&mut w, &grid).map_err(|e| e.to_string()),
        Format::Json | Format::Json3 => {
            let version = if format == Format::Json {
                json::Version::V4
            } else {
                json::Version::V3
            };
            json::to_writer(&mut w, &Value::Grid(Box::new(grid)), version)
                .map_err(|e| e.to_string())
        }
        Format::Csv => haystack_zinc::csv::to_writer(&mut w, &grid).map_err(|e| e.to_string()),
        Format::Trio => format
            .write_grid(&grid)
            .map_err(|e| e.to_string())
            .and_then(|text| w.write_all(text.as_bytes()).map_err(|e| e.to_string())),
    };
    match result.and_then(|()| w.flush().map_err(|e| e.to_string())) {
        Ok(()) => {}
        Err(why) => w.fail(&why),
    }
}
