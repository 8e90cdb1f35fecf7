//! Cart and file statuses, and the only moves allowed between them.
//!
//! A [`Step`] can only be built for a legal move: there is no constructor for, say,
//! `ready -> staging`. Stores apply a step as a compare-and-set on the cart's current status, so a
//! step computed from stale data (e.g. the cart was deleted meanwhile) fails with
//! [`Error::Conflict`](crate::Error::Conflict) instead of resurrecting the cart.
//!
//! ```
//! use cart_core::{ActiveStatus, CartStatus, Step};
//! let step = Step::start_staging();
//! assert_eq!((step.from(), step.to()), (CartStatus::Waiting, CartStatus::Staging));
//! let fail = Step::fail(ActiveStatus::Bundling, "No Space Available");
//! assert_eq!(fail.to(), CartStatus::Error);
//! assert_eq!(fail.message(), "No Space Available");
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

/// The status of a cart, as reported in `X-Pacifica-Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CartStatus {
    /// Accepted, not yet picked up by a worker.
    Waiting,
    /// Files are being staged and pulled from the archive.
    Staging,
    /// The tar file is being built.
    Bundling,
    /// Ready for download.
    Ready,
    /// Failed; the cart's message says why.
    Error,
    /// Deleted by a client or evicted.
    Deleted,
}

impl CartStatus {
    /// The lowercase name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CartStatus::Waiting => "waiting",
            CartStatus::Staging => "staging",
            CartStatus::Bundling => "bundling",
            CartStatus::Ready => "ready",
            CartStatus::Error => "error",
            CartStatus::Deleted => "deleted",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "waiting" => CartStatus::Waiting,
            "staging" => CartStatus::Staging,
            "bundling" => CartStatus::Bundling,
            "ready" => CartStatus::Ready,
            "error" => CartStatus::Error,
            "deleted" => CartStatus::Deleted,
            _ => return None,
        })
    }

    /// The active (work in progress) status this is, if any.
    pub fn active(self) -> Option<ActiveStatus> {
        match self {
            CartStatus::Waiting => Some(ActiveStatus::Waiting),
            CartStatus::Staging => Some(ActiveStatus::Staging),
            CartStatus::Bundling => Some(ActiveStatus::Bundling),
            _ => None,
        }
    }
}

impl fmt::Display for CartStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cart status in which work is still to be done; only these can fail or be requeued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActiveStatus {
    /// See [`CartStatus::Waiting`].
    Waiting,
    /// See [`CartStatus::Staging`].
    Staging,
    /// See [`CartStatus::Bundling`].
    Bundling,
}

impl From<ActiveStatus> for CartStatus {
    fn from(s: ActiveStatus) -> Self {
        match s {
            ActiveStatus::Waiting => CartStatus::Waiting,
            ActiveStatus::Staging => CartStatus::Staging,
            ActiveStatus::Bundling => CartStatus::Bundling,
        }
    }
}

/// A legal move of a cart from one status to another (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    from: CartStatus,
    to: CartStatus,
    message: String,
}

impl Step {
    fn new(from: CartStatus, to: CartStatus, message: String) -> Self {
        Step { from, to, message }
    }
    /// `waiting -> staging`: a worker picked the cart up.
    pub fn start_staging() -> Self {
        Self::new(CartStatus::Waiting, CartStatus::Staging, String::new())
    }
    /// `staging -> bundling`: every file is staged and the tar is being built.
    pub fn start_bundling() -> Self {
        Self::new(CartStatus::Staging, CartStatus::Bundling, String::new())
    }
    /// `bundling -> ready`: the pre-built tar is complete.
    pub fn bundled() -> Self {
        Self::new(CartStatus::Bundling, CartStatus::Ready, String::new())
    }
    /// `staging -> ready`: every file is staged; the tar is streamed at download time.
    pub fn staged() -> Self {
        Self::new(CartStatus::Staging, CartStatus::Ready, String::new())
    }
    /// `active -> error` with the message clients see.
    pub fn fail(from: ActiveStatus, message: impl Into<String>) -> Self {
        Self::new(from.into(), CartStatus::Error, message.into())
    }
    /// `active -> waiting`: work is handed back (after a restart, or a lost lease).
    pub fn requeue(from: ActiveStatus) -> Self {
        Self::new(from.into(), CartStatus::Waiting, String::new())
    }
    /// The status the cart must be in for this step to apply.
    pub fn from(&self) -> CartStatus {
        self.from
    }
    /// The status after the step.
    pub fn to(&self) -> CartStatus {
        self.to
    }
    /// The cart message after the step (empty unless failing).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The status of one file of a cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Not yet requested from the archive.
    Waiting,
    /// Requested; being staged or pulled.
    Staging,
    /// On the volume, size and hash verified.
    Staged,
    /// Failed; the file's error says why.
    Error,
}

impl FileStatus {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Waiting => "waiting",
            FileStatus::Staging => "staging",
            FileStatus::Staged => "staged",
            FileStatus::Error => "error",
        }
    }
}

impl fmt::Display for FileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A legal move of one file: `waiting -> staging -> staged`, `waiting|staging -> error`, and
/// back to `waiting` when a cart is requeued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStep {
    /// `waiting -> staging`.
    Start,
    /// `staging -> staged`, with the verified size.
    Staged {
        /// Bytes written to the volume.
        size: u64,
    },
    /// `waiting|staging -> error`.
    Fail(String),
    /// `staging|staged -> waiting`: requeued after a restart, or its staged copy is gone.
    Reset,
}

impl FileStep {
    /// The status a file ends in after this step, if the step is legal from `from`.
    pub fn apply(&self, from: FileStatus) -> Option<FileStatus> {
        match (self, from) {
            (FileStep::Start, FileStatus::Waiting) => Some(FileStatus::Staging),
            (FileStep::Staged { .. }, FileStatus::Staging) => Some(FileStatus::Staged),
            (FileStep::Fail(_), FileStatus::Waiting | FileStatus::Staging) => {
                Some(FileStatus::Error)
            }
            (FileStep::Reset, FileStatus::Staging | FileStatus::Staged | FileStatus::Waiting) => {
                Some(FileStatus::Waiting)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_steps() {
        assert_eq!(
            FileStep::Start.apply(FileStatus::Waiting),
            Some(FileStatus::Staging)
        );
        assert_eq!(FileStep::Start.apply(FileStatus::Staged), None);
        assert_eq!(
            FileStep::Staged { size: 1 }.apply(FileStatus::Waiting),
            None
        );
        assert_eq!(FileStep::Fail("x".into()).apply(FileStatus::Staged), None);
        assert_eq!(
            FileStep::Reset.apply(FileStatus::Staging),
            Some(FileStatus::Waiting)
        );
    }

    #[test]
    fn status_names_round_trip() {
        for s in [
            CartStatus::Waiting,
            CartStatus::Staging,
            CartStatus::Bundling,
            CartStatus::Ready,
            CartStatus::Error,
            CartStatus::Deleted,
        ] {
            assert_eq!(CartStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(CartStatus::parse("READY"), None);
    }
}
