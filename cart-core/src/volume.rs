//! The volume (`VOLUME_PATH`): where staged files and bundles live, and how much room is left.

use crate::{BundlePath, CartUid, Result};
use std::path::{Path, PathBuf};

/// Reports free bytes on the volume. Injectable so tests can simulate a small disk.
pub trait SpaceProbe: Send + Sync + std::fmt::Debug + 'static {
    /// Free bytes available to this process on the file system holding `volume`.
    fn available(&self, volume: &Path) -> std::io::Result<u64>;
}

/// The real free space of the file system (`statvfs`).
#[derive(Debug, Default, Clone, Copy)]
pub struct FsSpace;

impl SpaceProbe for FsSpace {
    fn available(&self, volume: &Path) -> std::io::Result<u64> {
        fs2::available_space(volume)
    }
}

/// A disk of `capacity` bytes of which the files under the volume are the only use.
///
/// ```
/// use cart_core::{SimulatedDisk, SpaceProbe};
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("f"), vec![0u8; 100]).unwrap();
/// assert_eq!(SimulatedDisk::new(1000).available(dir.path()).unwrap(), 900);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SimulatedDisk {
    capacity: u64,
}

impl SimulatedDisk {
    /// A disk of `capacity` bytes.
    pub fn new(capacity: u64) -> Self {
        SimulatedDisk { capacity }
    }
}

fn used_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total = total.saturating_add(meta.len());
            }
        }
    }
    Ok(total)
}

impl SpaceProbe for SimulatedDisk {
    fn available(&self, volume: &Path) -> std::io::Result<u64> {
        Ok(self.capacity.saturating_sub(used_bytes(volume)?))
    }
}

/// The layout of carts on the volume: `VOLUME/<uid>/files/<bundle path>` for staged files,
/// `VOLUME/<uid>/tmp/` for partial downloads, `VOLUME/<uid>/bundle.tar` for a pre-built tar.
/// Only validated [`CartUid`]s and [`BundlePath`]s are joined, so every path stays inside.
#[derive(Debug, Clone)]
pub struct Volume {
    root: PathBuf,
}

impl Volume {
    /// A volume at `root` (created if missing).
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        std::fs::create_dir_all(root.as_ref())?;
        Ok(Volume {
            root: std::fs::canonicalize(root.as_ref())?,
        })
    }
    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The cart's directory.
    pub fn cart_dir(&self, uid: &CartUid) -> PathBuf {
        self.root.join(uid.as_str())
    }
    /// Where a staged file lives.
    pub fn file_path(&self, uid: &CartUid, path: &BundlePath) -> PathBuf {
        let mut p = self.cart_dir(uid).join("files");
        p.extend(path.segments());
        p
    }
    /// Where the file at request position `index` is downloaded before it is verified.
    pub fn partial_path(&self, uid: &CartUid, index: usize) -> PathBuf {
        self.cart_dir(uid).join("tmp").join(format!("{index}.part"))
    }
    /// The pre-built tar.
    pub fn bundle_path(&self, uid: &CartUid) -> PathBuf {
        self.cart_dir(uid).join("bundle.tar")
    }
    /// Removes a cart's directory (missing is fine).
    pub async fn remove_cart(&self, uid: &CartUid) -> Result<()> {
        match tokio::fs::remove_dir_all(self.cart_dir(uid)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
