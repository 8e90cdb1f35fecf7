//! The DynamoDB backend (feature `dynamodb`), table-compatible with the Python facade.
//!
//! Build it from an [`aws_config::SdkConfig`] (an endpoint override reaches local emulators) or
//! from the `STAGE` environment variable as the original does ([`DynamoDatabase::from_env`]):
//!
//! ```no_run
//! # async fn demo() -> Result<(), package_database::Error> {
//! use package_database::{DynamoDatabase, TableNames};
//! let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let db = DynamoDatabase::builder()
//!     .with_sdk_config(&config)
//!     .with_table_names(TableNames::default()) // package.specs, package.credentials
//!     .build()?;
//! db.create_tables().await?;
//! # Ok(()) }
//! ```
//!
//! # Tables
//! | table (default name) | keys | index |
//! |---|---|---|
//! | `package.specs` | `sub` (S) hash, `updated_at_id` (S) range | LSI `idUpdatedAt`: `sub` + `id_updated_at` (S), projection ALL |
//! | `package.credentials` | `sub` (S) hash, `id` (S) range | GSI `publicKey`: `public_key` (S) hash, projection ALL |
//!
//! Specs rows hold `id`, `name`, `updated_at`, `version` (S), `model_count` (N) and, only when
//! given, `title` and `description` (S). Credentials hold `public_key` (S), `secret_key_hash` and
//! `salt` (B, base64 "legacy" text by default: see [`BinaryEncoding`]).
//!
//! The same tables as CloudFormation (what [`DynamoDatabase::create_tables`] creates):
//!
//! ```yaml
//! SpecsTable:
//!   Type: AWS::DynamoDB::Table
//!   Properties:
//!     TableName: package.specs
//!     BillingMode: PAY_PER_REQUEST
//!     AttributeDefinitions:
//!       - { AttributeName: sub, AttributeType: S }
//!       - { AttributeName: updated_at_id, AttributeType: S }
//!       - { AttributeName: id_updated_at, AttributeType: S }
//!     KeySchema:
//!       - { AttributeName: sub, KeyType: HASH }
//!       - { AttributeName: updated_at_id, KeyType: RANGE }
//!     LocalSecondaryIndexes:
//!       - IndexName: idUpdatedAt
//!         KeySchema:
//!           - { AttributeName: sub, KeyType: HASH }
//!           - { AttributeName: id_updated_at, KeyType: RANGE }
//!         Projection: { ProjectionType: ALL }
//! CredentialsTable:
//!   Type: AWS::DynamoDB::Table
//!   Properties:
//!     TableName: package.credentials
//!     BillingMode: PAY_PER_REQUEST
//!     AttributeDefinitions:
//!       - { AttributeName: sub, AttributeType: S }
//!       - { AttributeName: id, AttributeType: S }
//!       - { AttributeName: public_key, AttributeType: S }
//!     KeySchema:
//!       - { AttributeName: sub, KeyType: HASH }
//!       - { AttributeName: id, KeyType: RANGE }
//!     GlobalSecondaryIndexes:
//!       - IndexName: publicKey
//!         KeySchema:
//!           - { AttributeName: public_key, KeyType: HASH }
//!         Projection: { ProjectionType: ALL }
//! ```
//!
//! # Consistency
//! Reads of the table and of `idUpdatedAt` are strongly consistent; [`Database::get_user`]
//! reads the global index `publicKey`, which DynamoDB updates eventually (usually within a
//! second), so a just-created or just-re-pointed public key may take a moment to resolve.
//!
//! [`Database::get_user`]: crate::Database::get_user

mod batch;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod items;
pub(crate) mod ops;
mod tables;

use std::num::NonZeroU32;
use std::sync::Arc;

pub use batch::{BatchSettings, MAX_BATCH_WRITE_ITEMS};
pub use items::BinaryEncoding;

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};

/// Default name of the specs table.
pub const DEFAULT_SPECS_TABLE: &str = "package.specs";
/// Default name of the credentials table.
pub const DEFAULT_CREDENTIALS_TABLE: &str = "package.credentials";
/// Name of the specs table's local secondary index on `id_updated_at`.
pub const SPECS_ID_UPDATED_AT_INDEX: &str = "idUpdatedAt";
/// Name of the credentials table's global secondary index on `public_key`.
pub const CREDENTIALS_PUBLIC_KEY_INDEX: &str = "publicKey";
/// The endpoint `STAGE=TEST` connects to, as the original does.
pub const TEST_STAGE_ENDPOINT: &str = "http://localhost:8000";

/// The names of the two tables.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableNames {
    /// The specs table (`package.specs` by default).
    pub specs: String,
    /// The credentials table (`package.credentials` by default).
    pub credentials: String,
}

impl Default for TableNames {
    fn default() -> Self {
        TableNames {
            specs: DEFAULT_SPECS_TABLE.to_owned(),
            credentials: DEFAULT_CREDENTIALS_TABLE.to_owned(),
        }
    }
}

impl TableNames {
    /// Table names of your choice.
    pub fn new(specs: impl Into<String>, credentials: impl Into<String>) -> Self {
        TableNames {
            specs: specs.into(),
            credentials: credentials.into(),
        }
    }

    fn validate(&self) -> Result<()> {
        for name in [&self.specs, &self.credentials] {
            let valid_chars = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !(3..=255).contains(&name.len()) || !valid_chars {
                return Err(Error::Config(format!(
                    "invalid DynamoDB table name {name:?}: 3 to 255 of a-z A-Z 0-9 _ - ."
                )));
            }
        }
        if self.specs == self.credentials {
            return Err(Error::Config(
                "the specs and credentials tables must differ".into(),
            ));
        }
        Ok(())
    }
}

/// Where `STAGE` says the original connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// `TEST`: a local DynamoDB at [`TEST_STAGE_ENDPOINT`] with dummy credentials.
    Test,
    /// `PROD`: AWS, with the default credential and region chain.
    Prod,
}

impl Stage {
    /// Parses a `STAGE` value (`TEST` or `PROD`).
    pub fn parse(value: &str) -> Result<Stage> {
        match value {
            "TEST" => Ok(Stage::Test),
            "PROD" => Ok(Stage::Prod),
            other => Err(Error::Config(format!(
                "STAGE must be TEST or PROD, not {other:?}"
            ))),
        }
    }

    /// Reads the `STAGE` environment variable.
    pub fn from_env() -> Result<Stage> {
        match std::env::var("STAGE") {
            Ok(value) => Stage::parse(&value),
            Err(_) => Err(Error::Config(
                "the STAGE environment variable must be set to TEST or PROD".into(),
            )),
        }
    }

    /// The SDK configuration for this stage.
    pub async fn sdk_config(self) -> aws_config::SdkConfig {
        let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        match self {
            Stage::Prod => loader.load().await,
            Stage::Test => {
                let region = aws_config::meta::region::RegionProviderChain::default_provider()
                    .or_else("us-east-1");
                loader
                    .endpoint_url(TEST_STAGE_ENDPOINT)
                    .region(region)
                    .credentials_provider(aws_credential_types::Credentials::from_keys(
                        "testing", "testing", None,
                    ))
                    .load()
                    .await
            }
        }
    }
}

/// A [`Database`](crate::Database) on two DynamoDB tables shared with the Python facade.
///
/// Cheap to clone (the SDK client is shared).
#[derive(Debug, Clone)]
pub struct DynamoDatabase {
    client: aws_sdk_dynamodb::Client,
    tables: TableNames,
    encoding: BinaryEncoding,
    batch: BatchSettings,
    page_limit: Option<NonZeroU32>,
    clock: Arc<dyn Clock>,
}

impl DynamoDatabase {
    /// A database on the default tables, with the default settings.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        DynamoDatabase::from_client(aws_sdk_dynamodb::Client::new(config))
    }

    /// A database on the default tables using an existing client.
    pub fn from_client(client: aws_sdk_dynamodb::Client) -> Self {
        DynamoDatabase {
            client,
            tables: TableNames::default(),
            encoding: BinaryEncoding::default(),
            batch: BatchSettings::default(),
            page_limit: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// A builder for the other settings.
    pub fn builder() -> DynamoDatabaseBuilder {
        DynamoDatabaseBuilder::default()
    }

    /// A database on the default tables at the endpoint `STAGE` names, like the original's
    /// `package_database.get()`.
    pub async fn from_env() -> Result<Self> {
        let stage = Stage::from_env()?;
        Ok(DynamoDatabase::new(&stage.sdk_config().await))
    }

    /// The SDK client.
    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    /// The table names.
    pub fn table_names(&self) -> &TableNames {
        &self.tables
    }

    /// How binary attributes are stored.
    pub fn binary_encoding(&self) -> BinaryEncoding {
        self.encoding
    }
}

/// Builds a [`DynamoDatabase`]; every setting but the client has a default.
#[derive(Debug, Default)]
pub struct DynamoDatabaseBuilder {
    client: Option<aws_sdk_dynamodb::Client>,
    tables: Option<TableNames>,
    encoding: BinaryEncoding,
    batch: Option<BatchSettings>,
    page_limit: Option<NonZeroU32>,
    clock: Option<Arc<dyn Clock>>,
}

impl DynamoDatabaseBuilder {
    /// Makes the client from an SDK configuration.
    pub fn with_sdk_config(mut self, config: &aws_config::SdkConfig) -> Self {
        self.client = Some(aws_sdk_dynamodb::Client::new(config));
        self
    }

    /// Uses an existing client (for example one with interceptors).
    pub fn with_client(mut self, client: aws_sdk_dynamodb::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Sets both table names.
    pub fn with_table_names(mut self, tables: TableNames) -> Self {
        self.tables = Some(tables);
        self
    }

    /// Sets how binary attributes are stored ([`BinaryEncoding::Legacy`] by default).
    pub fn with_binary_encoding(mut self, encoding: BinaryEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Sets batching and resend settings.
    pub fn with_batch_settings(mut self, batch: BatchSettings) -> Self {
        self.batch = Some(batch);
        self
    }

    /// Caps the items each query or scan page returns (DynamoDB's 1 MB page otherwise).
    pub fn with_query_page_limit(mut self, limit: NonZeroU32) -> Self {
        self.page_limit = Some(limit);
        self
    }

    /// Sets where `updated_at` comes from (the system clock by default).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The database; fails when no client or SDK configuration was given, or a table name is
    /// not a valid DynamoDB table name.
    pub fn build(self) -> Result<DynamoDatabase> {
        let client = self.client.ok_or_else(|| {
            Error::Config("DynamoDatabaseBuilder needs with_sdk_config or with_client".into())
        })?;
        let tables = self.tables.unwrap_or_default();
        tables.validate()?;
        Ok(DynamoDatabase {
            client,
            tables,
            encoding: self.encoding,
            batch: self.batch.unwrap_or_default(),
            page_limit: self.page_limit,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_values_are_parsed_strictly() {
        assert_eq!(Stage::parse("TEST").ok(), Some(Stage::Test));
        assert_eq!(Stage::parse("PROD").ok(), Some(Stage::Prod));
        assert!(matches!(Stage::parse("test"), Err(Error::Config(_))));
    }

    #[test]
    fn builder_checks_client_and_table_names() {
        assert!(matches!(
            DynamoDatabase::builder().build(),
            Err(Error::Config(_))
        ));
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let bad = DynamoDatabase::builder()
            .with_sdk_config(&config)
            .with_table_names(TableNames::new("a b", "creds"))
            .build();
        assert!(matches!(bad, Err(Error::Config(_))));
        let same = DynamoDatabase::builder()
            .with_sdk_config(&config)
            .with_table_names(TableNames::new("abc", "abc"))
            .build();
        assert!(matches!(same, Err(Error::Config(_))));
        let db = DynamoDatabase::builder().with_sdk_config(&config).build();
        assert_eq!(
            db.map(|d| d.table_names().clone()).ok(),
            Some(TableNames::new("package.specs", "package.credentials"))
        );
    }
}
