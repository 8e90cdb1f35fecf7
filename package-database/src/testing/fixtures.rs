//! Table fixtures for tests against DynamoDB or an emulator, as the original's pytest plugin
//! offered (`_specs_table`, `_clean_specs_table`, `_credentials_table`, ...).

use std::sync::atomic::{AtomicU32, Ordering};

use crate::dynamo::{DynamoDatabase, TableNames};
use crate::error::Result;

/// Table names no other test of this process (or of another process) uses, starting with
/// `prefix` (for example `package`): `<prefix>.specs.<unique>` and `<prefix>.credentials.<unique>`.
pub fn unique_table_names(prefix: &str) -> TableNames {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let unique = format!("{}-{nanos:x}-{n}", std::process::id());
    TableNames::new(
        format!("{prefix}.specs.{unique}"),
        format!("{prefix}.credentials.{unique}"),
    )
}

/// Both tables, created for a test: [`TableFixture::create`] before, [`TableFixture::clean`]
/// between tests, [`TableFixture::drop_tables`] after.
#[derive(Debug, Clone)]
pub struct TableFixture {
    db: DynamoDatabase,
}

impl TableFixture {
    /// Creates the tables `db` is configured with (see [`unique_table_names`]).
    pub async fn create(db: DynamoDatabase) -> Result<Self> {
        db.create_tables().await?;
        Ok(TableFixture { db })
    }

    /// The database on the fixture's tables.
    pub fn database(&self) -> &DynamoDatabase {
        &self.db
    }

    /// Deletes every item from both tables, keeping the tables.
    pub async fn clean(&self) -> Result<()> {
        self.db.clear_tables().await
    }

    /// Deletes both tables.
    pub async fn drop_tables(self) -> Result<()> {
        self.db.delete_tables().await
    }
}
