//! The crate's error type.

use crate::status::CartStatus;

/// The underlying cause an [`Error`] keeps (a SQLite, SDK, HTTP or JSON error).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in `cart-core`, by meaning.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cart request could not be parsed or validated. The display text is the message Pacifica
    /// Cartd clients know: `Error parsing file Ids with error: <reason>`.
    #[error("Error parsing file Ids with error: {0}")]
    InvalidRequest(String),
    /// A single value (uid, bundle path, file name, archive id, hash) is not acceptable.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which kind of value was rejected.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The cart or archived file does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A cart with this uid already exists and is not deleted.
    #[error("a cart with uid {0} already exists")]
    AlreadyExists(String),
    /// A conditional write lost a race (the stored version or status changed).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The cart is not in a status that allows the operation (e.g. download before `ready`).
    #[error("cart is {status}, not ready")]
    NotReady {
        /// The cart's current status.
        status: CartStatus,
    },
    /// The volume has no room, even after evicting every eligible cart.
    #[error("No Space Available")]
    NoSpace,
    /// The archive backend failed.
    #[error("archive error: {message}")]
    Archive {
        /// What the archive said, or what was being done when the cause happened.
        message: String,
        /// Whether trying again may succeed (5xx, timeouts, connection errors).
        retryable: bool,
        /// The underlying error (HTTP client, SDK), when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The bytes read do not match the expected digest.
    #[error("{hash_type} mismatch for {id}: expected {expected}, got {actual}")]
    HashMismatch {
        /// The archive id of the file.
        id: String,
        /// The hash type.
        hash_type: &'static str,
        /// The expected hex digest.
        expected: String,
        /// The digest of the bytes read.
        actual: String,
    },
    /// The number of bytes read differs from the size the archive reported.
    #[error("size mismatch for {id}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The archive id of the file.
        id: String,
        /// The size the archive reported.
        expected: u64,
        /// The bytes actually read.
        actual: u64,
    },
    /// An operation did not finish within its deadline.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The cart's work was cancelled (the cart was deleted or the engine shut down).
    #[error("cancelled")]
    Cancelled,
    /// The cart store failed.
    #[error("store error: {message}")]
    Store {
        /// What the store said, or what was being done when the cause happened.
        message: String,
        /// Whether trying again may succeed.
        retryable: bool,
        /// The underlying error (SQLite, SDK, JSON), when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A worker's write was refused because its work lease (fencing token) is no longer the
    /// cart's: another server took the cart over, or it was deleted or requeued.
    #[error("lease lost: {0}")]
    LeaseLost(String),
    /// The bundle store (where staged files and tars live, e.g. S3) failed.
    #[error("bundle store error: {message}")]
    Bundles {
        /// What the store said, or what was being done when the cause happened.
        message: String,
        /// Whether trying again may succeed.
        retryable: bool,
        /// The underlying error (SDK), when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// Building a cart's tar failed.
    #[error("building tar")]
    Bundle(#[source] Box<Error>),
    /// A local file system operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Archive { retryable, .. }
            | Error::Store { retryable, .. }
            | Error::Bundles { retryable, .. } => *retryable,
            Error::Timeout(_) | Error::Conflict(_) => true,
            Error::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
            ),
            _ => false,
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn store(message: impl std::fmt::Display) -> Self {
        Error::Store {
            message: message.to_string(),
            retryable: false,
            source: None,
        }
    }

    /// A store error caused by `source` while doing `what`.
    pub(crate) fn store_caused(
        what: impl Into<String>,
        retryable: bool,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Store {
            message: what.into(),
            retryable,
            source: Some(source.into()),
        }
    }

    /// A bundle store error without a cause.
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    pub(crate) fn bundles(message: impl Into<String>) -> Self {
        Error::Bundles {
            message: message.into(),
            retryable: false,
            source: None,
        }
    }

    /// A bundle store error caused by `source` while doing `what`.
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    pub(crate) fn bundles_caused(
        what: impl Into<String>,
        retryable: bool,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Bundles {
            message: what.into(),
            retryable,
            source: Some(source.into()),
        }
    }

    /// An archive error caused by `source` while doing `what`.
    pub(crate) fn archive_caused(
        what: impl Into<String>,
        retryable: bool,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Archive {
            message: what.into(),
            retryable,
            source: Some(source.into()),
        }
    }

    /// The message and every cause under it, joined by `": "` (for logs and the message a
    /// client sees; `Display` shows only the top). A cause whose text the message already ends
    /// with is not repeated.
    ///
    /// ```
    /// let e = cart_core::Error::Io(std::io::Error::other("disk on fire"));
    /// assert_eq!(e.report(), "I/O error: disk on fire");
    /// ```
    pub fn report(&self) -> String {
        let mut out = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let text = c.to_string();
            if !out.ends_with(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            cause = c.source();
        }
        out
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
