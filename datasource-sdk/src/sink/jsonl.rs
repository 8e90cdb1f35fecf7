//! A sink writing JSON-lines files, one directory per table, rotated by size.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::Sink;
use crate::{Batch, BatchId, Error, Result};

/// How many recent batch ids a [`JsonLinesSink`] remembers to drop duplicate deliveries.
pub const RECENT_IDS: usize = 4096;

/// Appends each batch to `DIR/TABLE/part-NNNNNN.jsonl`, one JSON record per line, and starts a
/// new part when the current one would pass `max_file_bytes` (a batch is never split across
/// files). Each delivery is one write followed by `fsync` (unless [`JsonLinesSink::with_sync`]
/// turned it off), and the directory is fsynced after a new table directory or part file is
/// created, so a delivered batch is durable, its name included.
///
/// After a failed write or fsync the part is abandoned (what the kernel kept of it is unknown)
/// and the next delivery starts a new part; the failure is retryable. A part may then end with
/// a torn line (no newline): [`JsonLinesSink::read_table`] skips it, since every complete record
/// ends with a newline.
///
/// Parts left by earlier runs are kept; a new run starts after the highest part number found.
/// A batch id delivered again within the last 4,096 (`RECENT_IDS`) batches is dropped.
/// Table names may hold ASCII letters, digits, `_`, `-` and `.`, and may not start with `.`.
#[derive(Debug, Clone)]
pub struct JsonLinesSink {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    max_file_bytes: u64,
    sync: bool,
    tables: HashMap<String, Part>,
    recent: VecDeque<BatchId>,
    recent_set: HashSet<BatchId>,
    /// Test hook: the next fsync fails.
    #[cfg(test)]
    fail_next_sync: bool,
}

#[derive(Debug)]
struct Part {
    index: u64,
    size: u64,
    file: Option<File>,
    /// The current part was just created: its directory entry is not durable yet.
    new_file: bool,
}

impl Part {
    /// Leaves the current part for good: the next delivery starts a new one.
    fn abandon(&mut self) {
        self.index += 1;
        self.size = 0;
        self.file = None;
        self.new_file = false;
    }
}

/// Every directory fsynced, in order (tests only: they check that each new entry was made
/// durable).
#[cfg(test)]
static SYNCED_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Makes the entries of `dir` durable (a new file or directory in it).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()?;
    #[cfg(test)]
    SYNCED_DIRS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(dir.to_owned());
    Ok(())
}

/// Creates `dir` and any missing parents, and fsyncs the parent of each one created, so that
/// the new directories survive a crash.
fn create_dir_durably(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(path) = at {
        if path.as_os_str().is_empty() || path.is_dir() {
            break;
        }
        missing.push(path);
        at = path.parent();
    }
    std::fs::create_dir_all(dir)?;
    for created in missing.iter().rev() {
        match created.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent)?,
            _ => sync_dir(Path::new("."))?,
        }
    }
    Ok(())
}

impl JsonLinesSink {
    /// A sink under `dir` (created if missing), rotating files at `max_file_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_file_bytes: u64) -> Result<Self> {
        let dir = dir.into();
        if max_file_bytes == 0 {
            return Err(Error::InvalidInput("max_file_bytes must be > 0".into()));
        }
        create_dir_durably(&dir)?;
        Ok(Self {
            inner: Arc::new(Mutex::new(Inner {
                dir,
                max_file_bytes,
                sync: true,
                tables: HashMap::new(),
                recent: VecDeque::new(),
                recent_set: HashSet::new(),
                #[cfg(test)]
                fail_next_sync: false,
            })),
        })
    }

    /// Whether each delivery is fsynced (default true; turn off only where durability does not
    /// matter, e.g. benchmarks).
    pub fn with_sync(self, sync: bool) -> Self {
        if let Ok(mut inner) = self.inner.lock() {
            inner.sync = sync;
        }
        self
    }

    /// The part files of `table`, in order.
    pub fn files(dir: &Path, table: &str) -> Result<Vec<PathBuf>> {
        let table_dir = dir.join(table);
        if !table_dir.exists() {
            return Ok(Vec::new());
        }
        let mut parts: Vec<(u64, PathBuf)> = std::fs::read_dir(&table_dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| part_index(&e.path()).map(|i| (i, e.path())))
            .collect();
        parts.sort();
        Ok(parts.into_iter().map(|(_, p)| p).collect())
    }

    /// Every record stored for `table` under `dir`, decoded, in order. A torn last line of a
    /// part (no newline: a write cut short) is skipped; any other bad line is an
    /// [`Error::InvalidInput`] naming the file and line.
    pub fn read_table(dir: &Path, table: &str) -> Result<Vec<serde_json::Value>> {
        let mut out = Vec::new();
        for path in Self::files(dir, table)? {
            let bytes = std::fs::read(&path)?;
            let complete = match memchr_last_newline(&bytes) {
                Some(end) => &bytes[..=end],
                None => &[][..],
            };
            for (n, line) in complete.split(|b| *b == b'\n').enumerate() {
                if line.is_empty() {
                    continue;
                }
                let value = serde_json::from_slice(line).map_err(|e| {
                    Error::InvalidInput(format!("{}:{}: {e}", path.display(), n + 1))
                })?;
                out.push(value);
            }
        }
        Ok(out)
    }
}

/// The position of the last newline.
fn memchr_last_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|b| *b == b'\n')
}

fn part_index(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("part-")?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

fn check_table(table: &str) -> Result<()> {
    let ok = !table.is_empty()
        && !table.starts_with('.')
        && table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "table name {table:?} is not usable as a directory name"
        )))
    }
}

impl Inner {
    fn deliver(&mut self, batch: &Batch) -> Result<()> {
        check_table(batch.table())?;
        if self.recent_set.contains(&batch.id()) {
            return Ok(());
        }
        let body = batch.json_lines();
        let len = body.len() as u64;
        let dir = self.dir.join(batch.table());
        let max = self.max_file_bytes;
        let part = match self.tables.get_mut(batch.table()) {
            Some(part) => part,
            None => {
                if !dir.is_dir() {
                    create_dir_durably(&dir)?;
                }
                let last = JsonLinesSink::files(&self.dir, batch.table())?
                    .last()
                    .and_then(|p| part_index(p));
                let index = last.map_or(0, |i| i + 1);
                self.tables.entry(batch.table().to_owned()).or_insert(Part {
                    index,
                    size: 0,
                    file: None,
                    new_file: false,
                })
            }
        };
        if part.size > 0 && part.size + len > max {
            part.abandon();
        }
        let file = match &mut part.file {
            Some(f) => f,
            slot @ None => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join(format!("part-{:06}.jsonl", part.index)))?;
                part.new_file = true;
                slot.insert(file)
            }
        };
        if let Err(e) = file.write_all(body) {
            // The file may now end with a partial line: start a fresh part for what follows.
            part.abandon();
            return Err(Error::Unavailable(format!(
                "writing {}: {e}; the next attempt starts a new part",
                dir.display()
            )));
        }
        part.size += len;
        if self.sync {
            #[cfg(test)]
            let injected = std::mem::take(&mut self.fail_next_sync);
            #[cfg(not(test))]
            let injected = false;
            let synced = if injected {
                Err(std::io::Error::other("injected fsync failure"))
            } else {
                file.sync_data()
            };
            let synced = synced.and_then(|()| {
                if part.new_file {
                    sync_dir(&dir)?;
                }
                Ok(())
            });
            if let Err(e) = synced {
                // After a failed fsync the kernel may have dropped the dirty pages and cleared
                // the error: this file can never be trusted again.
                part.abandon();
                return Err(Error::Unavailable(format!(
                    "fsync in {}: {e}; the next attempt starts a new part",
                    dir.display()
                )));
            }
            part.new_file = false;
        }
        self.recent.push_back(batch.id());
        self.recent_set.insert(batch.id());
        if self.recent.len() > RECENT_IDS
            && let Some(old) = self.recent.pop_front()
        {
            self.recent_set.remove(&old);
        }
        Ok(())
    }
}

#[async_trait]
impl Sink for JsonLinesSink {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        let inner = Arc::clone(&self.inner);
        let batch = batch.clone();
        // The write runs to completion on the blocking pool even if this future is dropped
        // (e.g. by an attempt timeout), and the lock keeps deliveries whole.
        tokio::task::spawn_blocking(move || {
            let mut inner = inner
                .lock()
                .map_err(|_| Error::Other("a previous delivery panicked".into()))?;
            inner.deliver(&batch)
        })
        .await
        .map_err(|e| Error::Other(format!("delivery task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert!(check_table("users_v2.x-y").is_ok());
        for bad in ["", ".", "..", "a/b", "a\\b", ".hidden", "é"] {
            assert!(
                matches!(check_table(bad), Err(Error::InvalidInput(_))),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn rotates_by_size_and_continues_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        let sink = JsonLinesSink::new(dir.path(), 20).unwrap();
        for seq in 0..3 {
            let b = Batch::new(
                BatchId { writer: 1, seq },
                "t",
                vec![b"\"0123456789\"".to_vec()],
            );
            sink.deliver(&b).await.unwrap();
        }
        assert_eq!(JsonLinesSink::files(dir.path(), "t").unwrap().len(), 3);
        let again = JsonLinesSink::new(dir.path(), 20).unwrap();
        let b = Batch::new(BatchId { writer: 2, seq: 0 }, "t", vec![b"1".to_vec()]);
        again.deliver(&b).await.unwrap();
        let files = JsonLinesSink::files(dir.path(), "t").unwrap();
        assert_eq!(files.len(), 4);
        assert!(files[3].ends_with("part-000003.jsonl"));
        assert_eq!(JsonLinesSink::read_table(dir.path(), "t").unwrap().len(), 4);
    }

    #[tokio::test]
    async fn a_failed_fsync_abandons_the_part() {
        let dir = tempfile::tempdir().unwrap();
        let sink = JsonLinesSink::new(dir.path(), 1 << 20).unwrap();
        let b = |seq| Batch::new(BatchId { writer: 1, seq }, "t", vec![b"1".to_vec()]);
        sink.deliver(&b(0)).await.unwrap();
        sink.inner.lock().unwrap().fail_next_sync = true;
        let err = sink.deliver(&b(1)).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        // The retry goes to a new part, never to the file whose fsync failed.
        sink.deliver(&b(1)).await.unwrap();
        sink.deliver(&b(2)).await.unwrap();
        let files = JsonLinesSink::files(dir.path(), "t").unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(std::fs::read(&files[1]).unwrap(), b"1\n1\n");
    }

    /// The directories fsynced under `root`, relative to it.
    fn synced_under(root: &Path) -> Vec<PathBuf> {
        SYNCED_DIRS
            .lock()
            .unwrap()
            .iter()
            .filter_map(|d| d.strip_prefix(root).ok().map(Path::to_owned))
            .collect()
    }

    #[tokio::test]
    async fn new_directories_and_part_files_are_made_durable_in_their_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("out").join("jsonl");
        let sink = JsonLinesSink::new(&root, 8).unwrap();
        let p = PathBuf::from;
        // Both new directories, each in its parent.
        assert_eq!(synced_under(tmp.path()), [p(""), p("out")]);
        let b =
            |seq, record: &[u8]| Batch::new(BatchId { writer: 1, seq }, "t", vec![record.to_vec()]);
        sink.deliver(&b(0, b"1")).await.unwrap();
        // The table directory in the root, then the new part file in the table directory.
        let t = p("out/jsonl/t");
        let mut expected = vec![p(""), p("out"), p("out/jsonl"), t.clone()];
        assert_eq!(synced_under(tmp.path()), expected);
        // Appending to the same part adds no directory entry.
        sink.deliver(&b(1, b"2")).await.unwrap();
        assert_eq!(synced_under(tmp.path()), expected);
        // A rotation creates a part: its directory is fsynced again.
        sink.deliver(&b(2, b"\"long\"")).await.unwrap();
        expected.push(t.clone());
        assert_eq!(synced_under(tmp.path()), expected);
        // So is the part that follows a failed fsync.
        sink.inner.lock().unwrap().fail_next_sync = true;
        assert!(sink.deliver(&b(3, b"3")).await.is_err());
        sink.deliver(&b(3, b"3")).await.unwrap();
        expected.push(t);
        assert_eq!(synced_under(tmp.path()), expected);
        assert_eq!(JsonLinesSink::files(&root, "t").unwrap().len(), 4);
    }

    #[test]
    fn the_reader_skips_a_torn_last_line_and_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(
            t.join("part-000000.jsonl"),
            b"{\"a\":1}\n{\"a\":2}\n{\"a\":3",
        )
        .unwrap();
        std::fs::write(t.join("part-000001.jsonl"), b"{\"a\":4}\n12").unwrap();
        let got = JsonLinesSink::read_table(dir.path(), "t").unwrap();
        assert_eq!(got.len(), 3, "{got:?}");
        std::fs::write(t.join("part-000002.jsonl"), b"{\"a\":5}\nnot json\n").unwrap();
        let Err(Error::InvalidInput(message)) = JsonLinesSink::read_table(dir.path(), "t") else {
            panic!("a bad complete line is an error");
        };
        assert!(message.contains("part-000002.jsonl:2:"), "{message}");
    }
}
