//! The identifier table: which series the cache keeps. In memory, or a DynamoDB table with
//! partition key `identifier` (S), read page by page.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{CacheError, validate_identifier};

/// One page of identifiers and where the next one starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Identifiers of this page.
    pub ids: Vec<String>,
    /// The last identifier of this page when more may follow.
    pub next: Option<String>,
}

/// The identifier table.
#[async_trait]
pub trait IdentifierTable: Send + Sync + Debug + 'static {
    /// Adds an identifier (idempotent).
    async fn add(&self, id: &str) -> Result<(), CacheError>;
    /// At most `limit` identifiers after `start_after`.
    async fn page(&self, start_after: Option<&str>, limit: usize) -> Result<Page, CacheError>;
    /// Whether `id` is in the table.
    async fn contains(&self, id: &str) -> Result<bool, CacheError>;
}

/// Identifiers in memory.
#[derive(Debug, Default)]
pub struct MemoryIdentifiers(Mutex<BTreeSet<String>>);

#[async_trait]
impl IdentifierTable for MemoryIdentifiers {
    async fn add(&self, id: &str) -> Result<(), CacheError> {
        validate_identifier(id)?;
        self.0
            .lock()
            .map_err(|_| CacheError::Storage("lock poisoned".into()))?
            .insert(id.to_owned());
        Ok(())
    }

    async fn contains(&self, id: &str) -> Result<bool, CacheError> {
        Ok(self
            .0
            .lock()
            .map_err(|_| CacheError::Storage("lock poisoned".into()))?
            .contains(id))
    }

    async fn page(&self, start_after: Option<&str>, limit: usize) -> Result<Page, CacheError> {
        let set = self
            .0
            .lock()
            .map_err(|_| CacheError::Storage("lock poisoned".into()))?;
        let ids: Vec<String> = match start_after {
            Some(s) => set
                .range::<str, _>((std::ops::Bound::Excluded(s), std::ops::Bound::Unbounded))
                .take(limit)
                .cloned()
                .collect(),
            None => set.iter().take(limit).cloned().collect(),
        };
        let next = if ids.len() == limit {
            ids.last().cloned()
        } else {
            None
        };
        Ok(Page { ids, next })
    }
}

/// Identifiers in a DynamoDB table (partition key `identifier`, S).
#[derive(Debug, Clone)]
pub struct DynamoIdentifiers {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoIdentifiers {
    /// The table `table` through `client`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the table (on-demand billing).
    pub async fn create_table(&self) -> Result<(), CacheError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let attr = AttributeDefinition::builder()
            .attribute_name("identifier")
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| CacheError::Storage(e.to_string()))?;
        let key = KeySchemaElement::builder()
            .attribute_name("identifier")
            .key_type(KeyType::Hash)
            .build()
            .map_err(|e| CacheError::Storage(e.to_string()))?;
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr)
            .key_schema(key)
            .send()
            .await
            .map_err(|e| CacheError::Storage(format!("CreateTable {}: {e:?}", self.table)))?;
        Ok(())
    }
}

#[async_trait]
impl IdentifierTable for DynamoIdentifiers {
    async fn add(&self, id: &str) -> Result<(), CacheError> {
        validate_identifier(id)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("identifier", AttributeValue::S(id.to_owned()))
            .send()
            .await
            .map_err(|e| CacheError::Storage(format!("PutItem: {e:?}")))?;
        Ok(())
    }

    async fn contains(&self, id: &str) -> Result<bool, CacheError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("identifier", AttributeValue::S(id.to_owned()))
            .send()
            .await
            .map_err(|e| CacheError::Storage(format!("GetItem: {e:?}")))?;
        Ok(out.item().is_some())
    }

    async fn page(&self, start_after: Option<&str>, limit: usize) -> Result<Page, CacheError> {
        let start = start_after.map(|s| {
            std::collections::HashMap::from([(
                "identifier".to_owned(),
                AttributeValue::S(s.to_owned()),
            )])
        });
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| CacheError::Storage(format!("Scan: {e:?}")))?;
        let ids = out
            .items()
            .iter()
            .filter_map(|item| match item.get("identifier") {
                Some(AttributeValue::S(s)) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let next = out
            .last_evaluated_key()
            .and_then(|k| match k.get("identifier") {
                Some(AttributeValue::S(s)) => Some(s.clone()),
                _ => None,
            });
        Ok(Page { ids, next })
    }
}
