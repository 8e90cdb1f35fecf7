//! Staging archived files and streaming them out as tar carts, after Pacifica Cartd.
//!
//! A cart is a list of archived files, each with the path it takes inside a tar. The [`Engine`]
//! stages the files from an [`Archive`] onto a local volume (checking size and digest while the
//! bytes stream), records progress in a [`CartStore`], and streams the tar out on download.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use cart_core::{CartRequest, CartStatus, CartUid, Engine, LocalArchive, MemoryStore};
//! let archive_dir = tempfile::tempdir().unwrap();
//! std::fs::write(archive_dir.path().join("foo.txt"), b"hello").unwrap();
//! let volume = tempfile::tempdir().unwrap();
//!
//! let engine = Engine::builder(MemoryStore::new(), LocalArchive::new(archive_dir.path()).unwrap())
//!     .volume(volume.path())
//!     .build()
//!     .unwrap();
//! let uid = CartUid::new("my-cart").unwrap();
//! let request = CartRequest::from_json(br#"{"fileids": [{"id": "foo.txt", "path": "1/2/3/foo.txt",
//!     "hashtype": "md5", "hashsum": "5d41402abc4b2a76b9719d911017c592"}]}"#).unwrap();
//! engine.submit(uid.clone(), request).await.unwrap();
//! let cart = engine.wait_settled(&uid).await.unwrap();
//! assert_eq!(cart.status, CartStatus::Ready);
//!
//! let download = engine.download(&uid, Some("my_cart.tar".parse().unwrap())).await.unwrap();
//! let tar_bytes = download.write_to(Vec::new()).await.unwrap();
//! let mut archive = tar::Archive::new(&tar_bytes[..]);
//! let names: Vec<_> = archive.entries().unwrap()
//!     .map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
//! assert!(names.contains(&"my_cart/1/2/3/foo.txt".to_string()));
//! # });
//! ```
//!
//! Staged files and tars live in a [`BundleStore`]: the volume ([`LocalBundles`], the default)
//! or, shared by several servers, an S3 bucket ([`S3Bundles`]; layout in [`bundles`]).
//!
//! Features: `s3` ([`S3Archive`], [`S3Bundles`]), `pacifica` ([`PacificaArchive`]), `dynamodb`
//! ([`DynamoDbStore`]), `testing` (the conformance suite and a scriptable in-memory archive).
//! The default build compiles neither the AWS SDKs nor an HTTP client.

/// The crate README's Rust snippets, compiled as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod archive;
pub mod bundle;
pub mod bundles;
mod clock;
pub mod engine;
mod error;
mod hash;
pub mod messages;
mod model;
#[cfg(feature = "s3")]
mod s3_error;
pub mod status;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod volume;

#[cfg(feature = "pacifica")]
pub use archive::PacificaArchive;
#[cfg(feature = "s3")]
pub use archive::S3Archive;
pub use archive::{Archive, ArchiveStatus, ByteStream, LocalArchive};
pub use bundle::{TarMember, TarOptions, TarPlan};
#[cfg(feature = "s3")]
pub use bundles::S3Bundles;
pub use bundles::{BundleStore, LocalBundles};
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Download, Engine, EngineBuilder, EngineConfig, InUseGuard, RecoveryReport};
pub use error::{BoxError, Error, Result};
pub use hash::{ExpectedHash, HashType, Hasher};
pub use model::{
    ArchiveId, BundlePath, Cart, CartFile, CartRequest, CartSummary, CartUid, DownloadName,
    FileRequest, Lease, MAX_ARCHIVE_ID_LEN, MAX_FILE_NAME_LEN, MAX_FILES, MAX_PATH_LEN,
    MAX_SEGMENT_LEN, MAX_UID_LEN, Timestamp, is_safe_bundle_path,
};
pub use status::{ActiveStatus, CartStatus, FileStatus, FileStep, Step};
pub use store::{CartStore, MemoryStore, SqliteStore, Version};
#[cfg(feature = "dynamodb")]
pub use store::{DynamoDbStore, STATUS_INDEX};
pub use volume::{FsSpace, SimulatedDisk, SpaceProbe, Volume};
