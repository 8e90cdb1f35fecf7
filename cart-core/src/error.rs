//! The crate's error type.

use crate::status::CartStatus;

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
        /// What the archive said.
        message: String,
        /// Whether trying again may succeed (5xx, timeouts, connection errors).
        retryable: bool,
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
        /// What the store said.
        message: String,
        /// Whether trying again may succeed.
        retryable: bool,
    },
    /// A local file system operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Archive { retryable, .. } | Error::Store { retryable, .. } => *retryable,
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
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
