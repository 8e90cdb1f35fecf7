//! The conformance suite every [`Database`](crate::Database) backend passes, and table fixtures
//! for users' own tests (feature `testing`).
//!
//! Each scenario in [`scenarios`] is a `pub async fn(&dyn Database, &ManualClock)` that panics
//! (like `assert!`) when the backend misbehaves. The backend must take its `updated_at` from the
//! given [`ManualClock`](crate::ManualClock). Scenarios use their own users (`sub`s), so they can
//! share one database; [`scenarios::run_all`] runs them all in order.
//!
//! ```
//! use std::sync::Arc;
//! use package_database::{ManualClock, MemoryDatabase, testing::scenarios};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let clock = ManualClock::new(1_612_345_678);
//! let db = MemoryDatabase::with_clock(Arc::new(clock.clone()));
//! scenarios::exact_filtering(&db, &clock).await;
//! # });
//! ```

#[cfg(feature = "dynamodb")]
mod fixtures;
pub mod scenarios;

#[cfg(feature = "dynamodb")]
pub use fixtures::{TableFixture, unique_table_names};
