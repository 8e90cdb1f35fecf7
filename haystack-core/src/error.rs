//! The crate's one error type.

use std::fmt;

/// Where in a text input something went wrong: 1-based line and column (in characters), and the
/// 0-based byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column number, counted in characters.
    pub column: usize,
    /// 0-based byte offset from the start of the input.
    pub offset: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A text format error: where, and what was expected or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where the error was found.
    pub position: Position,
    /// What was expected or what is wrong, e.g. `expected ')' but found ','`.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.message, self.position)
    }
}

impl std::error::Error for ParseError {}

/// Every error of `haystack-core`, by meaning. Invalid input is always an error, never a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Malformed text (Zinc, filter, Trio, ...), with line, column and byte offset.
    #[error("{0}")]
    Parse(Box<ParseError>),
    /// Malformed or unexpected JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A tag name that is not `[a-z][a-zA-Z0-9_]*`.
    #[error("invalid tag name {0:?}")]
    InvalidTagName(String),
    /// A value outside the range of its kind (coordinates, dates, times, ...).
    #[error("invalid {kind}: {message}")]
    InvalidValue {
        /// The kind of value, e.g. `Coord`.
        kind: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A unit name or symbol not in the unit database.
    #[error("unknown unit {0:?}")]
    UnknownUnit(String),
    /// A conversion between units of different quantities.
    #[error("cannot convert {from:?} to {to:?}: different quantities")]
    IncompatibleUnits {
        /// The unit converted from.
        from: String,
        /// The unit converted to.
        to: String,
    },
    /// A timezone name that is neither a Haystack city name nor an IANA zone.
    #[error("unknown timezone {0:?}")]
    UnknownTimezone(String),
    /// A documented limit was exceeded (nesting depth, sizes).
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// Anything else that the input makes impossible, e.g. a grid row wider than its columns.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// A parse error at `position`.
    pub fn parse(position: Position, message: impl Into<String>) -> Self {
        Error::Parse(Box::new(ParseError {
            position,
            message: message.into(),
        }))
    }

    /// The position of a parse error, if this is one.
    pub fn position(&self) -> Option<Position> {
        match self {
            Error::Parse(e) => Some(e.position),
            _ => None,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_error_names_its_position() {
        let e = Error::parse(
            Position {
                line: 2,
                column: 5,
                offset: 9,
            },
            "expected ')'",
        );
        assert_eq!(e.to_string(), "expected ')' at line 2, column 5");
        assert_eq!(e.position().map(|p| p.offset), Some(9));
        assert!(std::mem::size_of::<Error>() <= 48);
    }
}
