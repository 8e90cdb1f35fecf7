//! The volume (`VOLUME_PATH`): where staged files and bundles live, and how much room is left.

use crate::{CartUid, Error, Result};
use std::path::{Path, PathBuf};

/// Reports free bytes on the volume. Injectable so tests can simulate a small disk.
pub trait SpaceProbe: Send + Sync + std::fmt::Debug + 'static {
    /// Free bytes available to this process on the file system holding `volume`.
    fn available(&self, volume: &Path) -> std::io::Result<u64>;
    /// Total size of the file system holding `volume` (default: unknown, `u64::MAX`). A
    /// reservation larger than this fails at once instead of evicting everything first.
    fn capacity(&self, volume: &Path) -> std::io::Result<u64> {
        let _ = volume;
        Ok(u64::MAX)
    }
}

/// The real free space of the file system (`statvfs`).
#[derive(Debug, Default, Clone, Copy)]
pub struct FsSpace;

impl SpaceProbe for FsSpace {
    fn available(&self, volume: &Path) -> std::io::Result<u64> {
        fs2::available_space(volume)
    }
    fn capacity(&self, volume: &Path) -> std::io::Result<u64> {
        fs2::total_space(volume)
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
    fn capacity(&self, _volume: &Path) -> std::io::Result<u64> {
        Ok(self.capacity)
    }
}

/// The directory inside `VOLUME_PATH` that the engine owns; carts live only in it.
pub const CARTS_DIR: &str = "cart-core-carts";
/// The file that marks [`CARTS_DIR`] as the engine's own.
pub const OWNER_MARKER: &str = ".cart-core-owned";

const MARKER_TEXT: &str = "This directory is owned by cart-core: every cart's staged files and \
tars live here, and deleting or evicting a cart removes the files its record names.\n";

/// The layout of carts on the volume. `VOLUME_PATH` itself is shared: the engine only ever
/// touches its own directory `VOLUME_PATH/`[`CARTS_DIR`] (marked by an [`OWNER_MARKER`]
/// file), and in it `<uid>/files/<n>` (the `n`-th file of the request, under a name the
/// server chooses, so case- or normalization-insensitive file systems cannot make two members
/// collide), `<uid>/tmp/<n>.part` while a file downloads, `<uid>/tmp/bundle.tar.part` and
/// `<uid>/bundle.tar` for a pre-built tar. Removing a cart removes exactly these names and
/// then its directories if they are empty; anything else found there is left alone.
#[derive(Debug, Clone)]
pub struct Volume {
    root: PathBuf,
    carts: PathBuf,
}

impl Volume {
    /// A volume at `root` (created if missing) with the engine's own directory in it. Fails when
    /// that directory exists, is not empty and has no [`OWNER_MARKER`] (it is someone else's).
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        std::fs::create_dir_all(root.as_ref())?;
        let root = std::fs::canonicalize(root.as_ref())?;
        let carts = root.join(CARTS_DIR);
        let marker = carts.join(OWNER_MARKER);
        match std::fs::create_dir(&carts) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if !carts.is_dir() {
                    return Err(Error::invalid(
                        "volume",
                        format!("{} exists and is not a directory", carts.display()),
                    ));
                }
                let empty = std::fs::read_dir(&carts)?.next().is_none();
                if !marker.is_file() && !empty {
                    return Err(Error::invalid(
                        "volume",
                        format!(
                            "{} exists without {OWNER_MARKER}: it is not cart-core's; \
                             move it away or choose another volume",
                            carts.display()
                        ),
                    ));
                }
            }
            Err(e) => return Err(e.into()),
        }
        if !marker.is_file() {
            std::fs::write(&marker, MARKER_TEXT)?;
        }
        Ok(Volume { root, carts })
    }
    /// The root directory (`VOLUME_PATH`; free space is measured here).
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The engine's own directory inside the root.
    pub fn carts_dir(&self) -> &Path {
        &self.carts
    }
    /// The cart's directory.
    pub fn cart_dir(&self, uid: &CartUid) -> PathBuf {
        self.carts.join(uid.as_str())
    }
    /// Where the staged copy of the file at request position `index` lives.
    pub fn file_path(&self, uid: &CartUid, index: usize) -> PathBuf {
        self.cart_dir(uid).join("files").join(index.to_string())
    }
    /// Where the file at request position `index` is downloaded before it is verified.
    pub fn partial_path(&self, uid: &CartUid, index: usize) -> PathBuf {
        self.cart_dir(uid).join("tmp").join(format!("{index}.part"))
    }
    /// The pre-built tar.
    pub fn bundle_path(&self, uid: &CartUid) -> PathBuf {
        self.cart_dir(uid).join("bundle.tar")
    }
    /// The pre-built tar while it is written.
    pub fn bundle_partial_path(&self, uid: &CartUid) -> PathBuf {
        self.cart_dir(uid).join("tmp").join("bundle.tar.part")
    }
    /// Removes the staged copies of a cart of `files` files (missing is fine), then the
    /// `files` directory if empty.
    pub async fn remove_staged(&self, uid: &CartUid, files: usize) -> Result<()> {
        let names: Vec<PathBuf> = (0..files).map(|i| self.file_path(uid, i)).collect();
        let dir = self.cart_dir(uid).join("files");
        blocking(move || {
            for n in &names {
                remove_file(n)?;
            }
            remove_empty_dir(&dir)
        })
        .await
    }
    /// Removes everything a cart of `files` files may have on the volume (missing is fine):
    /// exactly the names of the layout, then its directories when empty.
    pub async fn remove_cart(&self, uid: &CartUid, files: usize) -> Result<()> {
        self.remove_staged(uid, files).await?;
        let mut names: Vec<PathBuf> = (0..files).map(|i| self.partial_path(uid, i)).collect();
        names.push(self.bundle_partial_path(uid));
        names.push(self.bundle_path(uid));
        let tmp = self.cart_dir(uid).join("tmp");
        let dir = self.cart_dir(uid);
        blocking(move || {
            for n in &names {
                remove_file(n)?;
            }
            remove_empty_dir(&tmp)?;
            remove_empty_dir(&dir)
        })
        .await
    }
}

async fn blocking(f: impl FnOnce() -> Result<()> + Send + 'static) -> Result<()> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))?
}

fn remove_file(p: &Path) -> Result<()> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes `dir` if it is empty; a directory holding something the layout does not name stays.
fn remove_empty_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
            tracing::warn!(
                "{} holds files no cart record names; left in place",
                dir.display()
            );
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
