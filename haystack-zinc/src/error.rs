//! The crate's error type.

use haystack_core::{ParseError, Position};

/// Every error of `haystack-zinc`, by meaning.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Malformed Zinc, Trio or UTF-8, with line, column, byte offset and what was expected.
    #[error("{0}")]
    Parse(Box<ParseError>),
    /// A [`crate::Limits`] bound was exceeded.
    #[error("limit exceeded: {message} at {position}")]
    LimitExceeded {
        /// Where the limit was exceeded.
        position: Position,
        /// Which limit.
        message: String,
    },
    /// Reading or writing the underlying stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A value the input makes invalid (reported by `haystack-core`, e.g. a duplicate column).
    #[error(transparent)]
    Value(haystack_core::Error),
}

impl Error {
    /// Where in the input the error is, for parse and limit errors.
    pub fn position(&self) -> Option<Position> {
        match self {
            Error::Parse(e) => Some(e.position),
            Error::LimitExceeded { position, .. } => Some(*position),
            _ => None,
        }
    }

    pub(crate) fn parse(position: Position, message: impl Into<String>) -> Self {
        Error::Parse(Box::new(ParseError {
            position,
            message: message.into(),
        }))
    }
}

impl From<haystack_core::Error> for Error {
    fn from(e: haystack_core::Error) -> Self {
        match e {
            haystack_core::Error::Parse(p) => Error::Parse(p),
            other => Error::Value(other),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
