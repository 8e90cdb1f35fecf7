//! The one error type of the crate.

use std::fmt;

/// A boxed error from a storage backend, kept as the `source` of [`Error::Storage`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of every fallible operation of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading or writing specs and credentials.
///
/// Match on the variant, never on the message text. [`Error::is_retryable`] says whether sending
/// the same request again may succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The named item does not exist.
    #[error("{0} not found")]
    NotFound(Missing),
    /// An argument was rejected before anything was sent to storage.
    #[error("invalid input: {field}: {reason}")]
    InvalidInput {
        /// The argument that was rejected (`sub`, `name`, `title`...).
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The storage backend failed (throttling, network, missing table...).
    #[error("storage error during {operation}: {message}")]
    Storage {
        /// The storage operation that failed (`Query`, `BatchWriteItem`...).
        operation: &'static str,
        /// What the backend said.
        message: String,
        /// Whether sending the same request again may succeed.
        retryable: bool,
        /// The backend's own error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A batch write still had unprocessed items after every allowed retry.
    #[error(
        "{operation}: {unprocessed} items still unprocessed after {attempts} attempts of one batch"
    )]
    BatchIncomplete {
        /// The operation that issued the batch writes.
        operation: &'static str,
        /// How many items were not written (the last batch's leftovers plus those never sent).
        unprocessed: usize,
        /// How many times the last batch was sent.
        attempts: u32,
    },
    /// An item read from storage does not follow the table schema.
    #[error("item in table {table:?} does not match the schema: {reason}")]
    InvalidItem {
        /// The table the item was read from.
        table: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The backend could not be configured (for example an unknown `STAGE`).
    #[error("configuration error: {0}")]
    Config(String),
}

impl Error {
    /// Whether sending the same request again, later, may succeed.
    ///
    /// True for throttling, transient network failures and incomplete batches; false for missing
    /// items, invalid input, schema violations and configuration errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Storage { retryable, .. } => *retryable,
            Error::BatchIncomplete { .. } => true,
            _ => false,
        }
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

/// What [`Error::NotFound`] did not find.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Missing {
    /// A spec of a user, by the name the caller gave.
    Spec {
        /// The user.
        sub: String,
        /// The spec name as given (not canonicalized).
        name: String,
    },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Spec { sub, name } => write!(f, "spec {name:?} of user {sub:?}"),
        }
    }
}
