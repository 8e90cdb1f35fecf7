//! The cart server's error type.

/// What can stop the cart server from starting or running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is missing or malformed.
    #[error("configuration: {0}")]
    Config(String),
    /// The cart engine, store or archive failed.
    #[error(transparent)]
    Cart(#[from] cart_core::Error),
    /// Binding or serving the socket failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
