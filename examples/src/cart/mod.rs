//! A cart server that Pacifica Cartd clients can use unchanged, on [`cart_core`].
//!
//! The HTTP API is the original's (`GET /`, `POST|HEAD|GET|DELETE /{uid}`, same status codes,
//! headers, bodies, default file name and tar layout); everything below it is `cart-core`: one
//! process, an embedded SQLite cart store, a local volume and, by default, a local directory
//! archive. [`CartConfig`] reads the original's environment names (`VOLUME_PATH`,
//! `LRU_BUFFER_TIME`, `ARCHIVE_INTERFACE_URL`) and command-line flags.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use examples::cart::{CartConfig, CartServer};
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::create_dir_all(dir.path().join("archive")).unwrap();
//! std::fs::write(dir.path().join("archive/foo.txt"), b"hello").unwrap();
//! let mut config = CartConfig::in_dir(dir.path());
//! config.port = 0; // any free port
//! let server = CartServer::from_config(&config).await.unwrap();
//! let base = format!("http://{}", server.local_addr());
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = tokio::spawn(server.run(async { let _ = stopped.await; }));
//!
//! let http = reqwest::Client::new();
//! let posted = http.post(format!("{base}/cart-1"))
//!     .body(r#"{"fileids": [{"id": "foo.txt", "path": "1/2/3/foo.txt"}]}"#)
//!     .send().await.unwrap();
//! assert_eq!(posted.status(), 201);
//! loop {
//!     let head = http.head(format!("{base}/cart-1")).send().await.unwrap();
//!     if head.headers()["x-pacifica-status"] == "ready" { break; }
//!     tokio::time::sleep(std::time::Duration::from_millis(20)).await;
//! }
//! let tar = http.get(format!("{base}/cart-1?filename=my_cart.tar")).send().await.unwrap();
//! assert_eq!(
//!     tar.headers()["content-disposition"],
//!     "attachment; filename=my_cart.tar; filename*=UTF-8''my_cart.tar"
//! );
//! let bytes = tar.bytes().await.unwrap();
//! let mut archive = tar::Archive::new(&bytes[..]);
//! assert!(archive.entries().unwrap().any(|e| {
//!     e.unwrap().path().unwrap().to_str() == Some("my_cart/1/2/3/foo.txt")
//! }));
//! stop.send(()).unwrap();
//! running.await.unwrap().unwrap();
//! # });
//! ```
//!
//! On the wire `X-Pacifica-Status` is what the original showed: `staging` from the `POST` until
//! the cart can be downloaded, then `ready`, or `error` (the published `pacifica-downloader`
//! depends on it). The finer phase (`waiting`, `staging`, `bundling`) is in the extra header
//! [`PHASE_HEADER`] (`X-Cart-Phase`). A deleted or evicted cart answers as an unknown uid (404).
//! `?filename=` takes any name without control characters: `Content-Disposition` follows RFC
//! 6266 (`filename` plus `filename*=UTF-8''...`) and the tar's top directory is a sanitized form
//! of the name ([`cart_core::DownloadName::stem`]).
//!
//! The server owns only `VOLUME_PATH/cart-core-carts/` (marked by a `.cart-core-owned` file);
//! anything else in `VOLUME_PATH` is never read, written or removed.
//!
//! A `POST` to a uid that already has a cart (not deleted) is idempotent when the request is
//! the same (same files, paths, digests and `bundle`) and the cart is not in `error`: it answers
//! 201 again and starts nothing. Any other `POST` to a taken uid answers 409 Conflict; `DELETE`
//! the cart first (a deleted uid can be used again).

mod config;
mod download;
mod error;
mod server;
mod shutdown;

pub use config::{CartConfig, DEFAULT_PORT};
pub use error::Error;
pub use server::{CartServer, PHASE_HEADER, RETRY_AFTER_SECS, ServerOptions, router, wire_status};
pub use shutdown::{DownloadTicket, Downloads, DrainReport};

#[cfg(feature = "fuzzing")]
pub(crate) use download::{RangeAsk, range_ask};
