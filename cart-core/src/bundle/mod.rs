//! Streaming tar output.
//!
//! A [`TarPlan`] lists the members of a cart's tar; [`TarPlan::write`] streams it into any
//! [`Write`], reading one file at a time through a fixed buffer, so memory does not grow with the
//! cart. Members sit under a top directory named after the download file name without `.tar`;
//! names that do not fit a ustar header get a PAX `path` record. The exact length is known before
//! writing ([`TarPlan::len`]), so servers can send `Content-Length`.
//!
//! ```
//! use cart_core::{BundlePath, DownloadName, TarMember, TarOptions, TarPlan};
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("x"), b"hello").unwrap();
//! let plan = TarPlan::new(
//!     &DownloadName::new("my_cart.tar").unwrap(),
//!     vec![TarMember::new(BundlePath::new("1/2/foo.txt").unwrap(), dir.path().join("x"), 5)],
//!     TarOptions::deterministic(0),
//! );
//! let bytes = plan.write(Vec::new(), &|| false).unwrap();
//! assert_eq!(bytes.len() as u64, plan.len());
//! let mut archive = tar::Archive::new(&bytes[..]);
//! let names: Vec<String> = archive.entries().unwrap()
//!     .map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
//! assert_eq!(names, ["my_cart", "my_cart/1", "my_cart/1/2", "my_cart/1/2/foo.txt"]);
//! ```

use crate::{BundlePath, DownloadName, Error, Result};

mod stream;
use std::collections::HashSet;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::PathBuf;
pub use stream::{MAX_CONCURRENT_READS, STREAM_CHUNK, file_range_stream};

/// Size of the output buffer between the tar builder and the destination.
pub const WRITE_BUFFER: usize = 1024 * 1024;

pub(crate) const BLOCK: u64 = 512;

/// One file of the tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarMember {
    /// Its path under the top directory.
    pub path: BundlePath,
    /// Where its bytes are on disk.
    pub source: PathBuf,
    /// Where its bytes start in `source` (0: the whole file is the member; otherwise `source`
    /// holds it at this offset, e.g. inside a pre-built tar).
    pub offset: u64,
    /// Its size. With offset 0 the file must still have exactly this size when written;
    /// otherwise it must hold at least `offset + size` bytes.
    pub size: u64,
    /// Its modification time in seconds (`None`: the source file's).
    pub mtime: Option<u64>,
}

impl TarMember {
    /// A member that is the whole file `source`.
    pub fn new(path: BundlePath, source: PathBuf, size: u64) -> Self {
        TarMember {
            path,
            source,
            offset: 0,
            size,
            mtime: None,
        }
    }
    /// The same member read from `offset` in its source.
    pub fn at_offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }
    /// The same member with a fixed modification time (seconds).
    pub fn with_mtime(mut self, mtime: u64) -> Self {
        self.mtime = Some(mtime);
        self
    }
}

/// How headers are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TarOptions {
    /// `Some(t)`: every entry gets modification time `t` (seconds), for byte-identical output
    /// from identical input. `None`: files keep their modification times.
    pub fixed_mtime: Option<u64>,
}

impl TarOptions {
    /// Deterministic output: every mtime is `mtime`, owners 0, modes 0644/0755.
    pub fn deterministic(mtime: u64) -> Self {
        TarOptions {
            fixed_mtime: Some(mtime),
        }
    }
}

/// The members of a tar and how to write it.
#[derive(Debug, Clone)]
pub struct TarPlan {
    top: String,
    members: Vec<TarMember>,
    options: TarOptions,
}

pub(crate) enum Entry<'a> {
    Dir(String),
    File(String, &'a TarMember),
}

pub(crate) fn pad(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    // "<len> <key>=<value>\n" where <len> counts itself.
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

/// A ustar header for `name`, plus the PAX `path` record when the name does not fit.
pub(crate) fn header_for(name: &str) -> (tar::Header, Option<Vec<u8>>) {
    let mut header = tar::Header::new_ustar();
    if name.is_ascii() && header.set_path(name).is_ok() {
        return (header, None);
    }
    if let Some(ustar) = header.as_ustar_mut() {
        let bytes = name.as_bytes();
        let n = bytes.len().min(ustar.name.len());
        if let (Some(dst), Some(src)) = (ustar.name.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
    }
    (header, Some(pax_record("path", name.as_bytes())))
}

impl TarPlan {
    /// A plan for a download named `name` (top directory: its stem).
    pub fn new(name: &DownloadName, members: Vec<TarMember>, options: TarOptions) -> Self {
        TarPlan {
            top: name.stem(),
            members,
            options,
        }
    }

    /// The members.
    pub fn members(&self) -> &[TarMember] {
        &self.members
    }

    /// Directories first seen, then each file, in member order.
    pub(crate) fn entries(&self) -> Vec<Entry<'_>> {
        let mut out = vec![Entry::Dir(self.top.clone())];
        let mut dirs: HashSet<String> = HashSet::new();
        for m in &self.members {
            let p = m.path.as_str();
            for (i, _) in p.match_indices('/') {
                // `i` indexes an ASCII '/', a char boundary.
                let d = format!("{}/{}", self.top, &p[..i]);
                if dirs.insert(d.clone()) {
                    out.push(Entry::Dir(d));
                }
            }
            out.push(Entry::File(format!("{}/{}", self.top, p), m));
        }
        out
    }

    /// The exact number of bytes [`write`](Self::write) produces.
    pub fn len(&self) -> u64 {
        self.layout().0
    }

    /// Where each member's data starts in the tar, in member order. A tar written from this
    /// plan can serve as the source of every member (see [`TarMember::at_offset`]).
    pub fn data_offsets(&self) -> Vec<u64> {
        self.layout().1
    }

    fn layout(&self) -> (u64, Vec<u64>) {
        let mut total = 0;
        let mut offsets = Vec::with_capacity(self.members.len());
        for e in self.entries() {
            let (name, size) = match &e {
                Entry::Dir(n) => (n.as_str(), 0),
                Entry::File(n, m) => (n.as_str(), m.size),
            };
            if let (_, Some(pax)) = header_for(name) {
                total += BLOCK + pad(pax.len() as u64);
            }
            total += BLOCK;
            if matches!(e, Entry::File(..)) {
                offsets.push(total);
            }
            total += pad(size);
        }
        (total + 2 * BLOCK, offsets)
    }

    /// The options.
    pub fn options(&self) -> TarOptions {
        self.options
    }

    /// Whether the plan has no files.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Streams the tar into `out` and returns it. `cancelled` is polled before each write; when it
    /// says yes, writing stops with [`Error::Cancelled`]. A member whose file is missing or has
    /// changed size fails the write (the output is then incomplete and must be discarded).
    pub fn write<W: Write>(&self, out: W, cancelled: &dyn Fn() -> bool) -> Result<W> {
        let guarded = CancelWriter {
            inner: out,
            cancelled,
        };
        let mut builder = tar::Builder::new(BufWriter::with_capacity(WRITE_BUFFER, guarded));
        let result = self.write_entries(&mut builder);
        let finish = result.and_then(|()| builder.into_inner().map_err(Error::from));
        let buf = finish.map_err(|e| if cancelled() { Error::Cancelled } else { e })?;
        let guarded = buf.into_inner().map_err(|e| {
            if cancelled() {
                Error::Cancelled
            } else {
                Error::Io(e.into_error())
            }
        })?;
        Ok(guarded.inner)
    }

    fn write_entries<W: Write>(&self, builder: &mut tar::Builder<W>) -> Result<()> {
        for e in self.entries() {
            match e {
                Entry::Dir(name) => {
                    let (mut h, pax) = header_for(&name);
                    self.append_pax(builder, &name, pax)?;
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(0o755);
                    h.set_size(0);
                    h.set_mtime(self.options.fixed_mtime.unwrap_or(0));
                    finish_header(&mut h);
                    builder.append(&h, io::empty())?;
                }
                Entry::File(name, m) => {
                    let mut file = std::fs::File::open(&m.source)?;
                    let meta = file.metadata()?;
                    check_source_len(m, meta.len())?;
                    if m.offset > 0 {
                        file.seek(io::SeekFrom::Start(m.offset))?;
                    }
                    let mtime = self.member_mtime(m, meta.modified().ok());
                    let (mut h, pax) = header_for(&name);
                    self.append_pax(builder, &name, pax)?;
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(0o644);
                    h.set_size(m.size);
                    h.set_mtime(mtime);
                    finish_header(&mut h);
                    let mut counted = CountingReader {
                        inner: file.take(m.size),
                        n: 0,
                    };
                    builder.append(&h, &mut counted)?;
                    if counted.n != m.size {
                        return Err(Error::SizeMismatch {
                            id: m.path.to_string(),
                            expected: m.size,
                            actual: counted.n,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn append_pax<W: Write>(
        &self,
        builder: &mut tar::Builder<W>,
        name: &str,
        pax: Option<Vec<u8>>,
    ) -> Result<()> {
        let Some(data) = pax else { return Ok(()) };
        let (mut h, _) = header_for(name);
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(self.options.fixed_mtime.unwrap_or(0));
        finish_header(&mut h);
        builder.append(&h, &data[..])?;
        Ok(())
    }
}

impl TarPlan {
    /// The modification time written for `m`: the fixed one, the member's, or the file's.
    pub(crate) fn member_mtime(
        &self,
        m: &TarMember,
        modified: Option<std::time::SystemTime>,
    ) -> u64 {
        self.options.fixed_mtime.or(m.mtime).unwrap_or_else(|| {
            modified
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs())
        })
    }

    /// The top directory name.
    pub fn top(&self) -> &str {
        &self.top
    }
}

/// Fails unless a source of `len` bytes holds `m` (exactly, for a whole-file member).
pub(crate) fn check_source_len(m: &TarMember, len: u64) -> Result<()> {
    let fits = if m.offset == 0 {
        len == m.size
    } else {
        len >= m.offset.saturating_add(m.size)
    };
    if fits {
        Ok(())
    } else {
        Err(Error::SizeMismatch {
            id: m.path.to_string(),
            expected: m.size,
            actual: len.saturating_sub(m.offset),
        })
    }
}

/// The header blocks of a directory entry (with its PAX record when needed).
pub(crate) fn dir_header_bytes(name: &str, mtime: u64, out: &mut Vec<u8>) {
    entry_header_bytes(
        name,
        tar::EntryType::Directory,
        0o755,
        0,
        (mtime, mtime),
        out,
    );
}

/// The header blocks of a regular file entry (with its PAX record, whose own header has
/// `pax_mtime`, when needed).
pub(crate) fn file_header_bytes(
    name: &str,
    size: u64,
    (mtime, pax_mtime): (u64, u64),
    out: &mut Vec<u8>,
) {
    entry_header_bytes(
        name,
        tar::EntryType::Regular,
        0o644,
        size,
        (mtime, pax_mtime),
        out,
    );
}

fn entry_header_bytes(
    name: &str,
    kind: tar::EntryType,
    mode: u32,
    size: u64,
    (mtime, pax_mtime): (u64, u64),
    out: &mut Vec<u8>,
) {
    let (mut h, pax) = header_for(name);
    if let Some(data) = pax {
        let (mut ph, _) = header_for(name);
        ph.set_entry_type(tar::EntryType::XHeader);
        ph.set_mode(0o644);
        ph.set_size(data.len() as u64);
        ph.set_mtime(pax_mtime);
        finish_header(&mut ph);
        out.extend_from_slice(ph.as_bytes());
        out.extend_from_slice(&data);
        out.resize(
            out.len() + (pad(data.len() as u64) as usize - data.len()),
            0,
        );
    }
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(mtime);
    finish_header(&mut h);
    out.extend_from_slice(h.as_bytes());
}

fn finish_header(h: &mut tar::Header) {
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
}

struct CountingReader<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

struct CancelWriter<'a, W> {
    inner: W,
    cancelled: &'a dyn Fn() -> bool,
}

impl<W: Write> Write for CancelWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if (self.cancelled)() {
            return Err(io::Error::other("cancelled"));
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        if (self.cancelled)() {
            return Err(io::Error::other("cancelled"));
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_in(dir: &std::path::Path, files: &[(&str, &[u8])], name: &str) -> TarPlan {
        let members = files
            .iter()
            .enumerate()
            .map(|(i, (p, data))| {
                let src = dir.join(format!("src{i}"));
                std::fs::write(&src, data).unwrap();
                TarMember::new(BundlePath::new(p).unwrap(), src, data.len() as u64)
            })
            .collect();
        TarPlan::new(
            &DownloadName::new(name).unwrap(),
            members,
            TarOptions::deterministic(1_700_000_000),
        )
    }

    #[test]
    fn long_and_unicode_names_round_trip_with_exact_length() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("{}/{}", "d".repeat(200), "f".repeat(200));
        let files: Vec<(&str, &[u8])> = vec![
            (&long, b"long"),
            ("caf\u{e9}/\u{65e5}\u{672c}.txt", b"unicode"),
            ("a/b/c.bin", &[7u8; 1000]),
            ("empty", b""),
        ];
        let plan = plan_in(dir.path(), &files, "cart.tar");
        let bytes = plan.write(Vec::new(), &|| false).unwrap();
        assert_eq!(bytes.len() as u64, plan.len());
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut got = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            if e.header().entry_type().is_file() {
                got.push((path, data));
            }
        }
        let want: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(p, d)| (format!("cart/{p}"), d.to_vec()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn deterministic_output_is_identical() {
        let d1 = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        let files: Vec<(&str, &[u8])> = vec![("x/y", b"1"), ("z", b"22")];
        let a = plan_in(d1.path(), &files, "n.tar")
            .write(Vec::new(), &|| false)
            .unwrap();
        let b = plan_in(d2.path(), &files, "n.tar")
            .write(Vec::new(), &|| false)
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn cancellation_and_size_changes_fail() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_in(dir.path(), &[("a", &[1u8; 10])], "n.tar");
        assert!(matches!(
            plan.write(Vec::new(), &|| true),
            Err(Error::Cancelled)
        ));
        std::fs::write(dir.path().join("src0"), [1u8; 11]).unwrap();
        assert!(matches!(
            plan.write(Vec::new(), &|| false),
            Err(Error::SizeMismatch { .. })
        ));
    }

    /// A writer that accepts at most 7 bytes per call, like a slow pipe.
    struct Short(Vec<u8>);
    impl Write for Short {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(7);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn short_writes_produce_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_in(dir.path(), &[("a", &[3u8; 5000]), ("b/c", b"x")], "n.tar");
        let full = plan.write(Vec::new(), &|| false).unwrap();
        let short = plan.write(Short(Vec::new()), &|| false).unwrap();
        assert_eq!(full, short.0);
    }

    #[test]
    fn pax_record_length_counts_itself() {
        for n in [1, 5, 90, 95, 996, 1000] {
            let rec = pax_record("path", "x".repeat(n).as_bytes());
            let text = String::from_utf8(rec.clone()).unwrap();
            let len: usize = text.split(' ').next().unwrap().parse().unwrap();
            assert_eq!(len, rec.len());
        }
    }
}
