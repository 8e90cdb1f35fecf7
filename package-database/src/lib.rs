//! API spec and credential storage, table-compatible with the OpenAlchemy package database.
//!
//! One [`Database`] trait carries every access pattern of the original Python facade (specs,
//! credentials, [`Database::delete_all`]); [`MemoryDatabase`] is always built, and
//! `DynamoDatabase` (feature `dynamodb`) shares live tables with the Python facade: same table
//! and index names, keys, attribute types and base64 "legacy" binary encoding.
//!
//! ```
//! use package_database::{Database, MemoryDatabase, NewSpec, keys};
//!
//! # tokio_test_block_on(async {
//! let db = MemoryDatabase::new();
//! db.create_update_spec(&NewSpec::new("user-1", "My_Spec.Name", "1.0.0", 3).with_title("Pets"))
//!     .await?;
//! let versions = db.list_spec_versions("user-1", "my-spec-name").await?;
//! assert_eq!(versions[0].id, "my-spec-name");
//! assert_eq!(db.count_customer_models("user-1").await?, 3);
//!
//! let created = keys::create_credentials(&db, "user-1", keys::DEFAULT_CREDENTIALS_ID, b"service secret").await?;
//! let public_key = &created.credentials.public_key;
//! let sub = keys::authenticate(&db, public_key, created.secret_key.expose_secret()).await?;
//! assert_eq!(sub.as_deref(), Some("user-1"));
//! assert_eq!(keys::authenticate(&db, public_key, "sk_wrong").await?, None);
//! # Ok::<(), package_database::Error>(())
//! # }).unwrap();
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! # Features
//! - `dynamodb`: `DynamoDatabase` on `aws-sdk-dynamodb`, table creation helpers and the
//!   `STAGE` convenience. Without it the AWS SDK is not compiled.
//! - `testing`: the conformance suite (`testing::scenarios`) that every backend passes, and with
//!   `dynamodb`, table fixtures (`testing::TableFixture`) for users' own tests.
//!
//! # Differences from the original, on purpose
//! - Exact filtering: spec `a` never matches spec `a#b` (ids may contain `#`).
//! - The versioned row and the latest row are written in one DynamoDB transaction.
//! - Every query and scan follows `LastEvaluatedKey`; batch writes send at most 25 items and
//!   retry `UnprocessedItems` with exponential backoff until done or [`Error::BatchIncomplete`].
//! - Storage failures are one documented [`Error`] with [`Error::is_retryable`].
//! - [`Database::get_spec`] returns [`Error::NotFound`] rather than `None`.
//!
//! Kept from the original: two versions of a spec stored within the same second share a row
//! (the later one wins), because `updated_at` has a resolution of one second.

/// The crate README's Rust snippets, compiled as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

mod clock;
mod database;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
mod error;
pub mod keys;
mod memory;
mod model;
#[cfg(feature = "testing")]
pub mod testing;

pub use clock::{Clock, ManualClock, SystemClock};
pub use database::Database;
#[cfg(feature = "dynamodb")]
pub use dynamo::{BinaryEncoding, DynamoDatabase, DynamoDatabaseBuilder, Stage, TableNames};
pub use error::{BoxError, Error, Missing, Result};
pub use memory::MemoryDatabase;
pub use model::{
    CredentialsInfo, LATEST, MAX_BINARY_BYTES, MAX_DESCRIPTION_BYTES, MAX_ID_BYTES,
    MAX_PUBLIC_KEY_BYTES, MAX_SUB_BYTES, MAX_TITLE_BYTES, MAX_VERSION_BYTES, NewCredentials,
    NewSpec, SpecInfo, UPDATED_AT_WIDTH, User, id_updated_at, latest_id_updated_at,
    latest_updated_at_id, padded_updated_at, updated_at_id,
};

/// The spec id of a spec name, as Python's `packaging.utils.canonicalize_name`: every run of
/// `-`, `_` or `.` becomes one `-`, then full Unicode lowercase. Spaces and `#` are kept.
///
/// ```
/// use package_database::canonicalize_name;
/// assert_eq!(canonicalize_name("My_Spec.Name"), "my-spec-name");
/// assert_eq!(canonicalize_name("NAME 1"), "name 1");
/// ```
pub fn canonicalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            in_run = false;
            out.push(c);
        }
    }
    out.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names() {
        assert_eq!(canonicalize_name("My_Spec.Name"), "my-spec-name");
        assert_eq!(canonicalize_name("NAME 1"), "name 1");
        assert_eq!(canonicalize_name("name_1"), "name-1");
        assert_eq!(canonicalize_name("a-_.b"), "a-b");
        assert_eq!(canonicalize_name("A#B"), "a#b");
        assert_eq!(canonicalize_name("ÄÖ__İ"), "äö-i\u{307}");
    }
}
