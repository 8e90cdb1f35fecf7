//! The forecast table: future points, with the original's keys (`identifier` S partition key,
//! `time` N sort key in epoch seconds) and an `expiry` TTL attribute. In memory, or DynamoDB
//! (written through `datasource-sdk`'s `DynamoDbSink`, read with paginated queries).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use datasource_sdk::{Batch, DynamoDbSink, Sink};

use super::{CacheError, Point, validate_identifier};

/// How long forecast points are kept (the TTL written to `expiry`).
pub const KEEP_SECONDS: i64 = 7 * 24 * 3600;

/// Reading the forecast table. Writing goes through a [`Sink`].
#[async_trait]
pub trait ForecastStore: Sink {
    /// Points with `start <= time <= end`, in order.
    async fn range(&self, id: &str, start: i64, end: i64) -> Result<Vec<Point>, CacheError>;
}

#[derive(serde::Deserialize)]
struct Rec {
    identifier: String,
    time: i64,
    value: f64,
}

/// The forecast table in memory.
#[derive(Debug, Default)]
pub struct MemoryForecast(Mutex<HashMap<String, BTreeMap<i64, f64>>>);

#[async_trait]
impl Sink for MemoryForecast {
    async fn deliver(&self, batch: &Batch) -> datasource_sdk::Result<()> {
        let mut recs = Vec::with_capacity(batch.len());
        for raw in batch.records() {
            let r: Rec = serde_json::from_slice(raw).map_err(|e| {
                datasource_sdk::Error::InvalidInput(format!("bad forecast record: {e}"))
            })?;
            recs.push(r);
        }
        let mut map = self
            .0
            .lock()
            .map_err(|_| datasource_sdk::Error::Other("lock poisoned".into()))?;
        for r in recs {
            map.entry(r.identifier).or_default().insert(r.time, r.value);
        }
        Ok(())
    }
}

#[async_trait]
impl ForecastStore for MemoryForecast {
    async fn range(&self, id: &str, start: i64, end: i64) -> Result<Vec<Point>, CacheError> {
        validate_identifier(id)?;
        let map = self
            .0
            .lock()
            .map_err(|_| CacheError::Storage("lock poisoned".into()))?;
        Ok(map
            .get(id)
            .map(|m| {
                m.range(start..=end)
                    .map(|(&time, &value)| Point { time, value })
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// The forecast table in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoForecast {
    client: aws_sdk_dynamodb::Client,
    table: String,
    sink: DynamoDbSink,
}

impl DynamoForecast {
    /// The table `table`. Batches must be written to the writer table named `table` too (the
    /// sink's table prefix is empty).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        let sink = DynamoDbSink::new(client.clone(), "");
        Self {
            client,
            table: table.into(),
            sink,
        }
    }

    /// The table name, which is also the writer table to write forecast records to.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with the original's keys and turns TTL on for `expiry`.
    pub async fn create_table(&self) -> Result<(), CacheError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
            TimeToLiveSpecification,
        };
        let e = |e: aws_sdk_dynamodb::error::BuildError| CacheError::Storage(e.to_string());
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("identifier")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(e)?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("time")
                    .attribute_type(ScalarAttributeType::N)
                    .build()
                    .map_err(e)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("identifier")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(e)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("time")
                    .key_type(KeyType::Range)
                    .build()
                    .map_err(e)?,
            )
            .send()
            .await
            .map_err(|e| CacheError::Storage(format!("CreateTable: {e:?}")))?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expiry")
                    .enabled(true)
                    .build()
                    .map_err(e)?,
            )
            .send()
            .await
            .map_err(|e| CacheError::Storage(format!("UpdateTimeToLive: {e:?}")))?;
        Ok(())
    }
}

#[async_trait]
impl Sink for DynamoForecast {
    async fn deliver(&self, batch: &Batch) -> datasource_sdk::Result<()> {
        self.sink.deliver(batch).await
    }
}

#[async_trait]
impl ForecastStore for DynamoForecast {
    async fn range(&self, id: &str, start: i64, end: i64) -> Result<Vec<Point>, CacheError> {
        validate_identifier(id)?;
        let mut out = Vec::new();
        let mut start_key = None;
        loop {
            // The identifier is a bound value, never part of the expression text.
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#i = :i AND #t BETWEEN :a AND :b")
                .expression_attribute_names("#i", "identifier")
                .expression_attribute_names("#t", "time")
                .expression_attribute_values(":i", AttributeValue::S(id.to_owned()))
                .expression_attribute_values(":a", AttributeValue::N(start.to_string()))
                .expression_attribute_values(":b", AttributeValue::N(end.to_string()))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| CacheError::Storage(format!("Query: {e:?}")))?;
            for item in page.items() {
                let num = |k: &str| match item.get(k) {
                    Some(AttributeValue::N(n)) => n.parse::<f64>().ok(),
                    _ => None,
                };
                if let (Some(t), Some(v)) = (num("time"), num("value")) {
                    out.push(Point {
                        time: t as i64,
                        value: v,
                    });
                }
            }
            match page.last_evaluated_key() {
                Some(k) => start_key = Some(k.clone()),
                None => break,
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl<T: ForecastStore + ?Sized> ForecastStore for std::sync::Arc<T> {
    async fn range(&self, id: &str, start: i64, end: i64) -> Result<Vec<Point>, CacheError> {
        (**self).range(id, start, end).await
    }
}
