//! A batching writer that loses nothing, and a connector (data source) SDK with resumable state.
//!
//! - [`Writer`] batches records per table (by count, bytes and time), holds at most its
//!   configured buffer (`write` waits when it is full), retries retryable sink errors with
//!   backoff and jitter, keeps per-table order, dead-letters records too large for any batch,
//!   and on [`Writer::close`] drains and reports what was and was not delivered.
//! - [`Sink`] is where batches go: [`MemorySink`], [`JsonLinesSink`], and behind features
//!   `S3Sink` (`s3`) and `DynamoDbSink` (`dynamodb`).
//! - [`DataSource`] is what a connector implements; [`Runner`] pumps it into a writer and commits
//!   its state to a [`StateStore`] once every record before it is in the sink.
//! - [`TokenGuard`] refreshes OAuth2 tokens on authentication errors.
//!
//! ```
//! use datasource_sdk::{MemorySink, Writer};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> datasource_sdk::Result<()> {
//! let sink = Arc::new(MemorySink::new());
//! let writer = Writer::builder(Arc::clone(&sink)).build()?;
//! writer.write("users", &serde_json::json!({"id": 1, "name": "Ada"})).await?;
//! writer.write("users", &serde_json::json!({"id": 2, "name": "Alan"})).await?;
//! let report = writer.close(tokio::time::Instant::now() + Duration::from_secs(10)).await?;
//! assert!(report.all_delivered());
//! assert_eq!(report.tables["users"].delivered, 2);
//! assert_eq!(sink.records("users")?.len(), 2);
//! # Ok(())
//! # }
//! ```

/// The crate README's Rust snippets, compiled as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

mod ack;
mod batch;
mod config;
mod error;
mod event;
mod retry;
mod runner;
mod sink;
mod source;
mod state;
mod token;
mod writer;

#[cfg(feature = "testing")]
pub mod testing;

pub use ack::{AckSummary, Acks};
pub use batch::{Batch, BatchId, BatchLimits};
pub use config::{Config, Param, ParamType, ParamValue};
pub use error::{Error, Refused, Result};
pub use event::{DeadLetterReason, Event, EventKind, EventStats};
pub use retry::{RetryBackoff, RetryPolicy};
pub use runner::{RunReport, Runner, RunnerSettings};
#[cfg(feature = "dynamodb")]
pub use sink::DynamoDbSink;
#[cfg(feature = "s3")]
pub use sink::S3Sink;
pub use sink::{JsonLinesSink, MemorySink, Sink};
pub use source::{Context, DataSource, Record, SOURCE_CHANGE, SourceEvent};
pub use state::{Checkpoint, FileStateStore, Map, MemoryStateStore, StateStore};
#[cfg(feature = "http")]
pub use token::HttpTokenRefresher;
pub use token::{TokenGuard, TokenRefresher, Tokens};
pub use writer::{
    CloseReport, MAX_BUFFER_BYTES, MAX_EVENT_CAPACITY, TableReport, Writer, WriterBuilder,
    WriterSettings, WriterStats, metric_names,
};
