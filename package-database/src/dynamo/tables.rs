//! Creating, emptying and deleting the two tables with the original's schema.

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType,
};

use super::batch::{build_error, sdk_error};
use super::items::{cred_attr, spec_attr};
use super::ops::Source;
use super::{CREDENTIALS_PUBLIC_KEY_INDEX, DynamoDatabase, SPECS_ID_UPDATED_AT_INDEX};
use crate::error::{Error, Result};

/// How long [`DynamoDatabase::create_tables`] and [`DynamoDatabase::delete_tables`] wait for a
/// table to become active or to disappear.
pub const TABLE_WAIT: Duration = Duration::from_secs(300);

fn attribute(name: &str) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| build_error("CreateTable", e))
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| build_error("CreateTable", e))
}

fn all() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::All)
        .build()
}

impl DynamoDatabase {
    /// Creates both tables with the original's schema (on-demand billing) and waits until they
    /// are active. Fails with a storage error when a table already exists.
    pub async fn create_tables(&self) -> Result<()> {
        self.create_specs_table().await?;
        self.create_credentials_table().await?;
        for table in [&self.tables.specs, &self.tables.credentials] {
            self.client
                .wait_until_table_exists()
                .table_name(table)
                .wait(TABLE_WAIT)
                .await
                .map_err(|e| wait_error(table, e))?;
        }
        Ok(())
    }

    async fn create_specs_table(&self) -> Result<()> {
        let index = LocalSecondaryIndex::builder()
            .index_name(SPECS_ID_UPDATED_AT_INDEX)
            .key_schema(key(spec_attr::SUB, KeyType::Hash)?)
            .key_schema(key(spec_attr::ID_UPDATED_AT, KeyType::Range)?)
            .projection(all())
            .build()
            .map_err(|e| build_error("CreateTable", e))?;
        self.client
            .create_table()
            .table_name(&self.tables.specs)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(spec_attr::SUB)?)
            .attribute_definitions(attribute(spec_attr::UPDATED_AT_ID)?)
            .attribute_definitions(attribute(spec_attr::ID_UPDATED_AT)?)
            .key_schema(key(spec_attr::SUB, KeyType::Hash)?)
            .key_schema(key(spec_attr::UPDATED_AT_ID, KeyType::Range)?)
            .local_secondary_indexes(index)
            .send()
            .await
            .map_err(|e| sdk_error("CreateTable", e))?;
        Ok(())
    }

    async fn create_credentials_table(&self) -> Result<()> {
        let index = GlobalSecondaryIndex::builder()
            .index_name(CREDENTIALS_PUBLIC_KEY_INDEX)
            .key_schema(key(cred_attr::PUBLIC_KEY, KeyType::Hash)?)
            .projection(all())
            .build()
            .map_err(|e| build_error("CreateTable", e))?;
        self.client
            .create_table()
            .table_name(&self.tables.credentials)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(cred_attr::SUB)?)
            .attribute_definitions(attribute(cred_attr::ID)?)
            .attribute_definitions(attribute(cred_attr::PUBLIC_KEY)?)
            .key_schema(key(cred_attr::SUB, KeyType::Hash)?)
            .key_schema(key(cred_attr::ID, KeyType::Range)?)
            .global_secondary_indexes(index)
            .send()
            .await
            .map_err(|e| sdk_error("CreateTable", e))?;
        Ok(())
    }

    /// Deletes every item of both tables (scan, then batch deletes), keeping the tables.
    pub async fn clear_tables(&self) -> Result<()> {
        let tables = [
            (
                &self.tables.specs,
                [spec_attr::SUB, spec_attr::UPDATED_AT_ID],
            ),
            (&self.tables.credentials, [cred_attr::SUB, cred_attr::ID]),
        ];
        for (table, key_names) in tables {
            let scan = self
                .client
                .scan()
                .table_name(table)
                .consistent_read(true)
                .projection_expression("#a, #b")
                .expression_attribute_names("#a", key_names[0])
                .expression_attribute_names("#b", key_names[1]);
            self.delete_where(
                "clear_tables",
                table,
                key_names,
                Source::Scan(&scan),
                |_| Ok(true),
            )
            .await?;
        }
        Ok(())
    }

    /// Deletes both tables and waits until they are gone.
    pub async fn delete_tables(&self) -> Result<()> {
        for table in [&self.tables.specs, &self.tables.credentials] {
            self.client
                .delete_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| sdk_error("DeleteTable", e))?;
        }
        for table in [&self.tables.specs, &self.tables.credentials] {
            self.client
                .wait_until_table_not_exists()
                .table_name(table)
                .wait(TABLE_WAIT)
                .await
                .map_err(|e| wait_error(table, e))?;
        }
        Ok(())
    }
}

fn wait_error(table: &str, err: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Storage {
        operation: "DescribeTable",
        message: format!(
            "waiting for table {table:?}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(&err)
        ),
        retryable: true,
        source: Some(Box::new(err)),
    }
}
