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
/// turned it off), so a delivered batch is durable.
///
/// Parts left by earlier runs are kept; a new run starts after the highest part number found.
/// A batch id delivered again within the last [`RECENT_IDS`] batches is dropped.
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
}

#[derive(Debug)]
struct Part {
    index: u64,
    size: u64,
    file: Option<File>,
}

impl JsonLinesSink {
    /// A sink under `dir` (created if missing), rotating files at `max_file_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_file_bytes: u64) -> Result<Self> {
        let dir = dir.into();
        if max_file_bytes == 0 {
            return Err(Error::InvalidInput("max_file_bytes must be > 0".into()));
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            inner: Arc::new(Mutex::new(Inner {
                dir,
                max_file_bytes,
                sync: true,
                tables: HashMap::new(),
                recent: VecDeque::new(),
                recent_set: HashSet::new(),
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

    /// Every record stored for `table` under `dir`, decoded, in order.
    pub fn read_table(dir: &Path, table: &str) -> Result<Vec<serde_json::Value>> {
        let mut out = Vec::new();
        for path in Self::files(dir, table)? {
            let text = std::fs::read_to_string(&path)?;
            for line in text.lines().filter(|l| !l.is_empty()) {
                out.push(serde_json::from_str(line)?);
            }
        }
        Ok(out)
    }
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
        let body = batch.to_json_lines();
        let len = body.len() as u64;
        let dir = self.dir.join(batch.table());
        let max = self.max_file_bytes;
        let part = match self.tables.get_mut(batch.table()) {
            Some(part) => part,
            None => {
                std::fs::create_dir_all(&dir)?;
                let last = JsonLinesSink::files(&self.dir, batch.table())?
                    .last()
                    .and_then(|p| part_index(p));
                let index = last.map_or(0, |i| i + 1);
                self.tables.entry(batch.table().to_owned()).or_insert(Part {
                    index,
                    size: 0,
                    file: None,
                })
            }
        };
        if part.size > 0 && part.size + len > max {
            part.index += 1;
            part.size = 0;
            part.file = None;
        }
        let file = match &mut part.file {
            Some(f) => f,
            slot @ None => slot.insert(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join(format!("part-{:06}.jsonl", part.index)))?,
            ),
        };
        if let Err(e) = file.write_all(&body) {
            // The file may now end with a partial line: start a fresh part for what follows.
            part.index += 1;
            part.size = 0;
            part.file = None;
            return Err(Error::Io(e));
        }
        part.size += len;
        if self.sync {
            file.sync_data()?;
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
}
