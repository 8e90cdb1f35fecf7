//! The crate's error type.

/// Everything that can go wrong in this crate, by meaning.
///
/// Sinks, sources and state stores map their own failures into these variants; callers decide
/// what to do with [`Error::is_retryable`] and match on the variant, never on message text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A peer (sink, source API, store) is unavailable for now; worth retrying.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The peer asked us to slow down; worth retrying after a pause.
    #[error("throttled: {0}")]
    Throttled(String),
    /// An operation took longer than its limit; worth retrying.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The credentials were refused (e.g. an expired OAuth2 access token).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The input can never succeed as given (bad table name, bad parameter, bad record).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A record could not be encoded as JSON.
    #[error("encoding a record: {0}")]
    Encode(#[from] serde_json::Error),
    /// A local I/O failure (files, state store).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A data source failed; `retryable` says whether reading again may help.
    #[error("source failed (retryable: {retryable}): {message}")]
    Source {
        /// Whether a later read may succeed.
        retryable: bool,
        /// What went wrong.
        message: String,
    },
    /// Records written before a flush or checkpoint could not be delivered to the sink.
    #[error("{records} record(s) in {batches} batch(es) were not delivered")]
    Undelivered {
        /// Batches that failed.
        batches: u64,
        /// Records in those batches.
        records: u64,
    },
    /// A stored checkpoint could not be read (corrupt or from an unknown version).
    #[error("state store: {0}")]
    State(String),
    /// A record too large for any batch was refused by `write` (the writer has no dead-letter
    /// sink to take it); the record is handed back.
    #[error(
        "a record of {} bytes for table {:?} exceeds the batch limit of {} bytes and there is no dead-letter sink",
        .0.bytes, .0.table, .0.max_bytes
    )]
    TooLarge(Box<Refused>),
    /// User code (a sink) panicked; the attempt counts as failed and is worth retrying.
    #[error("panicked: {0}")]
    Panicked(String),
    /// The writer was closed; nothing more is accepted.
    #[error("the writer is closed")]
    Closed,
    /// Any other failure of a backend, not worth retrying.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// Whether the same call may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Unavailable(_)
            | Error::Throttled(_)
            | Error::Timeout(_)
            | Error::Panicked(_) => true,
            Error::Source { retryable, .. } => *retryable,
            Error::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }

    /// Whether this is an authentication failure (one that a token refresh may cure).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized(_))
    }

    /// A source failure worth retrying.
    pub fn retryable(message: impl Into<String>) -> Self {
        Error::Source {
            retryable: true,
            message: message.into(),
        }
    }

    /// A source failure not worth retrying (e.g. an HTTP 404 from the API a source reads).
    pub fn fatal(message: impl Into<String>) -> Self {
        Error::Source {
            retryable: false,
            message: message.into(),
        }
    }
}

/// A record `write` refused, handed back with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The table it was written to.
    pub table: String,
    /// Its encoded size plus newline.
    pub bytes: usize,
    /// The batch byte limit.
    pub max_bytes: usize,
    /// The encoded record.
    pub record: Vec<u8>,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn retryable_by_meaning() {
        assert!(Error::Unavailable("x".into()).is_retryable());
        assert!(Error::Timeout(std::time::Duration::from_secs(1)).is_retryable());
        assert!(Error::retryable("x").is_retryable());
        assert!(!Error::fatal("x").is_retryable());
        assert!(!Error::InvalidInput("x".into()).is_retryable());
        assert!(!Error::Unauthorized("x".into()).is_retryable());
        assert!(Error::Unauthorized("x".into()).is_unauthorized());
    }
}
