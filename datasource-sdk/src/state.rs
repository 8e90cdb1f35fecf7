//! Where a connector's state checkpoints are kept between runs.

use std::collections::HashMap;
use std::fmt::Debug;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A JSON object.
pub type Map = serde_json::Map<String, serde_json::Value>;

/// What a run has made durable: the merged state of the source and the source parameters it
/// changed (e.g. a refreshed OAuth2 token), as of a point where every record before it was
/// delivered to the sink.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The merged state the source reported (a later value for a key wins).
    pub state: Map,
    /// Source parameters changed through `source-change` events, applied over the originals on
    /// resume.
    pub source_changes: Map,
    /// Records delivered up to this checkpoint, over all runs.
    pub records: u64,
}

/// The on-disk form, versioned so later versions can still read old files.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "version")]
enum Stored {
    #[serde(rename = "1")]
    V1(Checkpoint),
}

impl Checkpoint {
    /// Reads a checkpoint from the JSON that [`FileStateStore`] keeps (any stored version this
    /// crate reads: today `{"version": "1", ...}`). serde_json bounds nesting at 128 levels.
    pub fn from_json(bytes: &[u8]) -> std::result::Result<Checkpoint, serde_json::Error> {
        let Stored::V1(checkpoint) = serde_json::from_slice(bytes)?;
        Ok(checkpoint)
    }

    /// The JSON that [`FileStateStore`] keeps for this checkpoint, in the current version.
    pub fn to_json(&self) -> std::result::Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec_pretty(&Stored::V1(self.clone()))
    }
}

/// Keeps checkpoints by key (one key per connector instance).
#[async_trait]
pub trait StateStore: Send + Sync + Debug + 'static {
    /// The last saved checkpoint, if any.
    async fn load(&self, key: &str) -> Result<Option<Checkpoint>>;
    /// Replaces the checkpoint; durable once this returns.
    async fn save(&self, key: &str, checkpoint: &Checkpoint) -> Result<()>;
}

#[async_trait]
impl<T: StateStore + ?Sized> StateStore for Arc<T> {
    async fn load(&self, key: &str) -> Result<Option<Checkpoint>> {
        (**self).load(key).await
    }
    async fn save(&self, key: &str, checkpoint: &Checkpoint) -> Result<()> {
        (**self).save(key, checkpoint).await
    }
}

/// Checkpoints in memory (lost with the process): for tests and one-shot runs.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    inner: Mutex<HashMap<String, Checkpoint>>,
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn load(&self, key: &str) -> Result<Option<Checkpoint>> {
        let inner = self
            .inner
            .lock()
            .map_err(|_| Error::State("lock poisoned".into()))?;
        Ok(inner.get(key).cloned())
    }

    async fn save(&self, key: &str, checkpoint: &Checkpoint) -> Result<()> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| Error::State("lock poisoned".into()))?;
        inner.insert(key.to_owned(), checkpoint.clone());
        Ok(())
    }
}

/// Checkpoints as JSON files `DIR/KEY.json`, each written atomically: to a temporary file,
/// fsynced, renamed over the old one, and the directory fsynced. A crash leaves either the old
/// or the new checkpoint, never a torn one. On Unix the files are created readable and
/// writable by their owner only (mode 0600): they hold refreshed tokens.
///
/// Keys may hold ASCII letters, digits, `_`, `-` and `.`, and may not start with `.`.
#[derive(Debug, Clone)]
pub struct FileStateStore {
    dir: PathBuf,
}

impl FileStateStore {
    /// A store under `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        let ok = !key.is_empty()
            && !key.starts_with('.')
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !ok {
            return Err(Error::InvalidInput(format!(
                "state key {key:?} is not usable as a file name"
            )));
        }
        Ok(self.dir.join(format!("{key}.json")))
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Other(format!("state store task failed: {e}")))?
}

#[async_trait]
impl StateStore for FileStateStore {
    async fn load(&self, key: &str) -> Result<Option<Checkpoint>> {
        let path = self.path(key)?;
        blocking(move || {
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let checkpoint = Checkpoint::from_json(&bytes)
                .map_err(|e| Error::State(format!("{}: {e}", path.display())))?;
            Ok(Some(checkpoint))
        })
        .await
    }

    async fn save(&self, key: &str, checkpoint: &Checkpoint) -> Result<()> {
        let path = self.path(key)?;
        let dir = self.dir.clone();
        let body = checkpoint.to_json()?;
        blocking(move || {
            let tmp = dir.join(format!(
                ".{}.tmp",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("state")
            ));
            // A temporary file left by a crash may have other permissions: start afresh.
            match std::fs::remove_file(&tmp) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&tmp)?;
            file.write_all(&body)?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&tmp, &path)?;
            // Make the rename itself durable.
            std::fs::File::open(&dir)?.sync_all()?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            state: json!({"users": {"loaded": 500}})
                .as_object()
                .cloned()
                .unwrap(),
            source_changes: Map::new(),
            records: 500,
        }
    }

    #[tokio::test]
    async fn file_store_round_trips_and_is_versioned() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStateStore::new(dir.path()).unwrap();
        assert_eq!(store.load("a").await.unwrap(), None);
        store.save("a", &checkpoint()).await.unwrap();
        assert_eq!(store.load("a").await.unwrap(), Some(checkpoint()));
        let text = std::fs::read_to_string(dir.path().join("a.json")).unwrap();
        assert!(text.contains("\"version\": \"1\""), "{text}");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::write(dir.path().join("b.json"), r#"{"version":"9"}"#).unwrap();
        assert!(matches!(store.load("b").await, Err(Error::State(_))));
        assert!(matches!(
            store.load("../x").await,
            Err(Error::InvalidInput(_))
        ));
    }

    #[tokio::test]
    async fn memory_store_round_trips() {
        let store = MemoryStateStore::new();
        store.save("k", &checkpoint()).await.unwrap();
        assert_eq!(store.load("k").await.unwrap(), Some(checkpoint()));
        assert_eq!(store.load("other").await.unwrap(), None);
    }
}
