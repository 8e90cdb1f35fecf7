//! Where batches go: the [`Sink`] trait and its backends.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{Batch, Result};

mod jsonl;
mod memory;

#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(feature = "s3")]
mod s3;

#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoDbSink;
pub use jsonl::JsonLinesSink;
pub use memory::MemorySink;
#[cfg(feature = "s3")]
pub use s3::S3Sink;

/// Durable storage for batches of records.
///
/// `deliver` returns `Ok` only once the batch is durable. It may be called more than once with
/// the same batch (same [`Batch::id`]) after a failure or a timeout, so a sink should store a
/// batch idempotently where it can. Errors say whether retrying may help
/// ([`crate::Error::is_retryable`]); the writer retries only those.
#[async_trait]
pub trait Sink: Send + Sync + Debug + 'static {
    /// Stores one batch durably.
    async fn deliver(&self, batch: &Batch) -> Result<()>;
}

#[async_trait]
impl<T: Sink + ?Sized> Sink for Arc<T> {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        (**self).deliver(batch).await
    }
}

#[async_trait]
impl<T: Sink + ?Sized> Sink for Box<T> {
    async fn deliver(&self, batch: &Batch) -> Result<()> {
        (**self).deliver(batch).await
    }
}
