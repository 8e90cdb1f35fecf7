//! The tar as an async stream: headers computed in memory; file bytes read one chunk at a
//! time, each chunk filled by a short task on tokio's blocking pool (at most
//! [`MAX_CONCURRENT_READS`] at once in the process). Between chunks nothing is held but the
//! stream's state, so a download whose client is slow holds no thread.

use super::{BLOCK, Entry, TarPlan, check_source_len, dir_header_bytes, file_header_bytes, pad};
use crate::Error;
use bytes::{Bytes, BytesMut};
use futures::Stream;
use std::io::{self, Read, Seek};

/// Most bytes in one chunk of a tar stream.
pub const STREAM_CHUNK: usize = 256 * 1024;

/// Chunk fills (file opens and reads) running at once over all streams of the process, so
/// hundreds of downloads starting together cannot grow the blocking pool to hundreds of threads.
pub const MAX_CONCURRENT_READS: usize = 16;

static READS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_READS);

/// A state that fills one chunk at a time with blocking file I/O.
trait Fill: Send + 'static {
    /// The next chunk of at most [`STREAM_CHUNK`] bytes; `None` at the end.
    fn fill(&mut self) -> io::Result<Option<Bytes>>;
}

/// The stream of `state`'s chunks, each filled on the blocking pool under the read bound.
fn chunks<F: Fill>(state: F) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures::stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        let permit = match READS.acquire().await {
            Ok(p) => p,
            Err(_) => return Some((Err(io::Error::other("file reads closed")), None)),
        };
        let filled = tokio::task::spawn_blocking(move || {
            let r = state.fill();
            (state, r)
        })
        .await;
        drop(permit);
        match filled {
            Ok((state, Ok(Some(chunk)))) => Some((Ok(chunk), Some(state))),
            Ok((_, Ok(None))) => None,
            Ok((_, Err(e))) => Some((Err(e), None)),
            Err(e) => Some((Err(io::Error::other(e)), None)),
        }
    })
}

/// Reads up to `want` more bytes of `file` into `out`; the number read (0 at end of file).
fn read_into(file: &mut std::fs::File, out: &mut BytesMut, want: usize) -> io::Result<usize> {
    let start = out.len();
    out.resize(start + want, 0);
    let read = loop {
        match out.get_mut(start..).map(|b| file.read(b)) {
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Some(r) => break r,
            None => break Ok(0),
        }
    };
    let n = *read.as_ref().unwrap_or(&0);
    out.truncate(start + n);
    read
}

struct Range {
    file: Option<std::fs::File>,
    path: std::path::PathBuf,
    start: u64,
    remaining: u64,
}

impl Fill for Range {
    fn fill(&mut self) -> io::Result<Option<Bytes>> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                let mut f = std::fs::File::open(&self.path)?;
                f.seek(io::SeekFrom::Start(self.start))?;
                self.file.insert(f)
            }
        };
        let want = usize::try_from(self.remaining).map_or(STREAM_CHUNK, |n| n.min(STREAM_CHUNK));
        let mut out = BytesMut::with_capacity(want);
        while out.len() < want {
            let room = want - out.len();
            if read_into(file, &mut out, room)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "{} ended {} bytes early",
                        self.path.display(),
                        self.remaining
                    ),
                ));
            }
        }
        self.remaining -= out.len() as u64;
        Ok(Some(out.freeze()))
    }
}

/// `count` bytes of the file at `path` from `start`, as an async stream of chunks of at most
/// [`STREAM_CHUNK`] bytes (for pre-built tars and their ranges), read under the same bound.
/// Ends with an error item if the file is shorter.
pub fn file_range_stream(
    path: std::path::PathBuf,
    start: u64,
    count: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    chunks(Range {
        file: None,
        path,
        start,
        remaining: count,
    })
}

/// What is written next, precomputed from the plan (names are built once, up front).
enum Item {
    /// Header blocks of a directory, ready to send.
    Dir(Vec<u8>),
    /// A file: its entry name and member index.
    File(String, usize),
}

struct Reading {
    file: std::fs::File,
    remaining: u64,
    padding: usize,
    member: usize,
}

/// The state of a tar produced chunk by chunk (see [`TarPlan::into_stream`]).
struct TarStream {
    plan: TarPlan,
    items: std::vec::IntoIter<Item>,
    reading: Option<Reading>,
    trailer_sent: bool,
}

fn io_err(e: Error) -> io::Error {
    match e {
        Error::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

impl TarPlan {
    /// The tar as an async stream of chunks; the same bytes as [`write`](Self::write). A member
    /// whose file is missing or has changed size ends the stream with an error item.
    pub fn into_stream(self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let mut members = 0usize;
        let dir_mtime = self.options.fixed_mtime.unwrap_or(0);
        let items: Vec<Item> = self
            .entries()
            .into_iter()
            .map(|e| match e {
                Entry::Dir(name) => {
                    let mut h = Vec::with_capacity(BLOCK as usize);
                    dir_header_bytes(&name, dir_mtime, &mut h);
                    Item::Dir(h)
                }
                Entry::File(name, _) => {
                    members += 1;
                    Item::File(name, members - 1)
                }
            })
            .collect();
        chunks(TarStream {
            plan: self,
            items: items.into_iter(),
            reading: None,
            trailer_sent: false,
        })
    }
}

impl Fill for TarStream {
    fn fill(&mut self) -> io::Result<Option<Bytes>> {
        let mut out = BytesMut::with_capacity(STREAM_CHUNK);
        while out.len() < STREAM_CHUNK {
            if let Some(r) = self.reading.as_mut() {
                if r.remaining > 0 {
                    let room = STREAM_CHUNK - out.len();
                    let want = usize::try_from(r.remaining).map_or(room, |n| n.min(room));
                    let n = read_into(&mut r.file, &mut out, want)?;
                    if n == 0 {
                        let m = self.plan.members().get(r.member);
                        return Err(io::Error::other(format!(
                            "{} ended {} bytes early",
                            m.map_or_else(String::new, |m| m.path.to_string()),
                            r.remaining
                        )));
                    }
                    r.remaining -= n as u64;
                    continue;
                }
                out.resize(out.len() + r.padding, 0);
                self.reading = None;
                continue;
            }
            match self.items.next() {
                Some(Item::Dir(h)) => out.extend_from_slice(&h),
                Some(Item::File(name, index)) => {
                    self.reading = self.open(&name, index, &mut out)?;
                }
                None => {
                    if !self.trailer_sent {
                        out.resize(out.len() + 2 * BLOCK as usize, 0);
                        self.trailer_sent = true;
                    }
                    break;
                }
            }
        }
        Ok((!out.is_empty()).then(|| out.freeze()))
    }
}

impl TarStream {
    /// Opens member `index`, checks its size, appends its header to `out`.
    fn open(&self, name: &str, index: usize, out: &mut BytesMut) -> io::Result<Option<Reading>> {
        let Some(m) = self.plan.members().get(index) else {
            return Err(io::Error::other(format!("no member {index}")));
        };
        let mut file = std::fs::File::open(&m.source)?;
        let meta = file.metadata()?;
        check_source_len(m, meta.len()).map_err(io_err)?;
        if m.offset > 0 {
            file.seek(io::SeekFrom::Start(m.offset))?;
        }
        let mtime = self.plan.member_mtime(m, meta.modified().ok());
        let mut h = Vec::with_capacity(BLOCK as usize);
        let pax_mtime = self.plan.options.fixed_mtime.unwrap_or(0);
        file_header_bytes(name, m.size, (mtime, pax_mtime), &mut h);
        out.extend_from_slice(&h);
        if m.size == 0 {
            return Ok(None);
        }
        Ok(Some(Reading {
            file,
            remaining: m.size,
            // `pad(size) - size` is below one block.
            padding: (pad(m.size) - m.size) as usize,
            member: index,
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::{BundlePath, DownloadName, TarMember, TarOptions, TarPlan};
    use futures::TryStreamExt;

    fn plan(dir: &std::path::Path, files: &[(&str, Vec<u8>)], options: TarOptions) -> TarPlan {
        let members = files
            .iter()
            .enumerate()
            .map(|(i, (p, data))| {
                let src = dir.join(format!("src{i}"));
                std::fs::write(&src, data).unwrap();
                TarMember::new(BundlePath::new(p).unwrap(), src, data.len() as u64)
            })
            .collect();
        TarPlan::new(&DownloadName::new("n.tar").unwrap(), members, options)
    }

    async fn collect(plan: TarPlan) -> std::io::Result<Vec<u8>> {
        let chunks: Vec<bytes::Bytes> = plan.into_stream().try_collect().await?;
        assert!(chunks.iter().all(|c| c.len() <= super::STREAM_CHUNK));
        Ok(chunks.concat())
    }

    #[tokio::test]
    async fn the_stream_gives_the_same_bytes_as_write() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("{}/{}", "d".repeat(150), "f".repeat(120));
        let files = vec![
            ("a/b/big.bin", vec![5u8; 3 * super::STREAM_CHUNK + 17]),
            ("empty", Vec::new()),
            (long.as_str(), b"long name".to_vec()),
            ("caf\u{e9}/x", b"unicode".to_vec()),
            ("a/small", vec![1u8; 511]),
        ];
        for options in [
            TarOptions::deterministic(1_700_000_000),
            TarOptions::default(),
        ] {
            let p = plan(dir.path(), &files, options);
            let sync = p.write(Vec::new(), &|| false).unwrap();
            let streamed = collect(p.clone()).await.unwrap();
            assert_eq!(streamed.len() as u64, p.len());
            assert!(streamed == sync, "stream and write differ");
        }
    }

    #[tokio::test]
    async fn members_read_at_an_offset_of_a_prebuilt_tar() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![("x/1", vec![9u8; 1000]), ("x/2", b"two".to_vec())];
        let p = plan(dir.path(), &files, TarOptions::deterministic(7));
        let prebuilt = dir.path().join("pre.tar");
        std::fs::write(&prebuilt, p.write(Vec::new(), &|| false).unwrap()).unwrap();
        let members = p
            .members()
            .iter()
            .zip(p.data_offsets())
            .map(|(m, off)| TarMember::new(m.path.clone(), prebuilt.clone(), m.size).at_offset(off))
            .collect();
        let renamed = TarPlan::new(
            &DownloadName::new("other name.tar").unwrap(),
            members,
            TarOptions::deterministic(7),
        );
        let bytes = collect(renamed).await.unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut got = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            if e.header().entry_type().is_file() {
                got.push((e.path().unwrap().display().to_string(), data));
            }
        }
        assert_eq!(
            got,
            vec![
                ("other name/x/1".to_owned(), vec![9u8; 1000]),
                ("other name/x/2".to_owned(), b"two".to_vec())
            ]
        );
    }

    #[tokio::test]
    async fn a_changed_or_missing_file_ends_the_stream_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = plan(dir.path(), &[("a", vec![1u8; 10])], TarOptions::default());
        std::fs::write(dir.path().join("src0"), [1u8; 11]).unwrap();
        assert!(collect(p.clone()).await.is_err());
        std::fs::remove_file(dir.path().join("src0")).unwrap();
        assert!(collect(p).await.is_err());
    }
}
