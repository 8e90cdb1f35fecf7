//! Carts in a DynamoDB table, shared by several servers.

use super::{CartStore, Version};
use crate::{Cart, CartStatus, CartUid, Error, Result};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use std::collections::HashMap;

/// Carts in a DynamoDB table keyed by `uid` (string). Each item holds `version` (number),
/// `status`, `body` (the cart as JSON) and, while leased, `lease_token` (number, the fencing
/// token); every write is conditional on `version`, and a worker's writes also on
/// `lease_token` (a condition expression), which is what lets several cart servers share carts
/// and claim work with leases safely.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

/// DynamoDB error codes (from the response's error metadata) worth retrying: throttling and
/// transient server-side failures.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
];

/// Whether a failed call may succeed when tried again: a 5xx or 429, a retryable error code,
/// or a failure to reach or hear from the service.
fn sdk_retryable<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::ServiceError(ctx) => {
            let s = ctx.raw().status().as_u16();
            s >= 500 || s == 429 || e.code().is_some_and(|c| RETRYABLE_CODES.contains(&c))
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    }
}

fn sdk_err<E>(e: SdkError<E, HttpResponse>, what: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let retryable = sdk_retryable(&e);
    let message = match e.code() {
        Some(code) => format!("dynamodb {what}: {code}"),
        None => format!("dynamodb {what}"),
    };
    Error::store_caused(message, retryable, e)
}

type Item = HashMap<String, AttributeValue>;

fn decode(item: &Item) -> Result<(Cart, Version)> {
    let body = item
        .get("body")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| Error::store("dynamodb item without body"))?;
    let version = item
        .get("version")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| Error::store("dynamodb item without version"))?;
    let cart =
        serde_json::from_str(body).map_err(|e| Error::store_caused("decoding cart", false, e))?;
    Ok((cart, Version(version)))
}

fn encode(cart: &Cart, version: u64) -> Result<Item> {
    let body =
        serde_json::to_string(cart).map_err(|e| Error::store_caused("encoding cart", false, e))?;
    let mut item = HashMap::from([
        ("uid".to_owned(), AttributeValue::S(cart.uid.to_string())),
        ("version".to_owned(), AttributeValue::N(version.to_string())),
        (
            "status".to_owned(),
            AttributeValue::S(cart.status.as_str().to_owned()),
        ),
        ("body".to_owned(), AttributeValue::S(body)),
    ]);
    if let Some(l) = &cart.lease {
        item.insert(
            "lease_token".to_owned(),
            AttributeValue::N(l.token.to_string()),
        );
    }
    Ok(item)
}

impl DynamoDbStore {
    /// A store on an existing table (see [`create_table`](Self::create_table)).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbStore {
            client,
            table: table.into(),
        }
    }

    /// Creates the table (on-demand billing) if it does not exist, and waits until it is active.
    pub async fn create_table(&self) -> Result<()> {
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("uid")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| Error::store_caused("table definition", false, e))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("uid")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(|e| Error::store_caused("table definition", false, e))?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => return Err(sdk_err(e, "create_table")),
        }
        for _ in 0..60 {
            let desc = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| sdk_err(e, "describe_table"))?;
            let active = desc
                .table()
                .and_then(|t| t.table_status())
                .is_some_and(|s| s.as_str() == "ACTIVE");
            if active {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Err(Error::Store {
            message: format!("table {} did not become active", self.table),
            retryable: true,
            source: None,
        })
    }

    async fn put(&self, item: Item, condition: &str, values: Item) -> Result<bool> {
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if condition.contains("#u") {
            req = req.expression_attribute_names("#u", "uid");
        }
        if !values.is_empty() {
            req = req.set_expression_attribute_values(Some(values));
        }
        if condition.contains("#v") {
            req = req.expression_attribute_names("#v", "version");
        }
        if condition.contains("#t") {
            req = req.expression_attribute_names("#t", "lease_token");
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_err(e, "put_item")),
        }
    }
}

#[async_trait::async_trait]
impl CartStore for DynamoDbStore {
    async fn insert(&self, cart: &Cart) -> Result<Version> {
        for _ in 0..super::MODIFY_ATTEMPTS {
            let (ok, next) = match self.load(&cart.uid).await? {
                None => (
                    self.put(encode(cart, 1)?, "attribute_not_exists(#u)", Item::new())
                        .await?,
                    1,
                ),
                Some((old, _)) if old.status != CartStatus::Deleted => {
                    return Err(Error::AlreadyExists(cart.uid.to_string()));
                }
                Some((_, v)) => {
                    let values =
                        HashMap::from([(":v".to_owned(), AttributeValue::N(v.0.to_string()))]);
                    (
                        self.put(encode(cart, v.0 + 1)?, "#v = :v", values).await?,
                        v.0 + 1,
                    )
                }
            };
            if ok {
                return Ok(Version(next));
            }
        }
        Err(Error::Conflict(format!(
            "cart {}: insert kept racing",
            cart.uid
        )))
    }

    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("uid", AttributeValue::S(uid.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err(e, "get_item"))?;
        out.item().map(decode).transpose()
    }

    async fn save(&self, cart: &Cart, expected: Version) -> Result<Version> {
        let values = HashMap::from([(":v".to_owned(), AttributeValue::N(expected.0.to_string()))]);
        let next = expected.0 + 1;
        if self
            .put(
                encode(cart, next)?,
                "attribute_exists(#u) AND #v = :v",
                values,
            )
            .await?
        {
            return Ok(Version(next));
        }
        match self.load(&cart.uid).await? {
            Some(_) => Err(Error::Conflict(format!("cart {} changed", cart.uid))),
            None => Err(Error::NotFound(format!("cart {}", cart.uid))),
        }
    }

    async fn save_fenced(&self, cart: &Cart, expected: Version, token: u64) -> Result<Version> {
        let values = HashMap::from([
            (":v".to_owned(), AttributeValue::N(expected.0.to_string())),
            (":t".to_owned(), AttributeValue::N(token.to_string())),
        ]);
        let next = expected.0 + 1;
        if self
            .put(
                encode(cart, next)?,
                "attribute_exists(#u) AND #v = :v AND #t = :t",
                values,
            )
            .await?
        {
            return Ok(Version(next));
        }
        match self.load(&cart.uid).await? {
            None => Err(Error::NotFound(format!("cart {}", cart.uid))),
            Some((stored, _)) if !super::holds(&stored, token) => {
                Err(super::lease_lost(&cart.uid, token))
            }
            Some(_) => Err(Error::Conflict(format!("cart {} changed", cart.uid))),
        }
    }

    async fn list(&self) -> Result<Vec<Cart>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_err(e, "scan"))?;
            for item in page.items() {
                out.push(decode(item)?.0);
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("uid", AttributeValue::S(uid.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_err(e, "delete_item"))?;
        Ok(out.attributes().is_some_and(|a| !a.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_smithy_types::body::SdkBody;

    fn service_error(status: u16, code: &str) -> SdkError<PutItemError, HttpResponse> {
        let err = PutItemError::generic(ErrorMetadata::builder().code(code).build());
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn retryable_codes_come_from_the_error_metadata() {
        // A 400 whose code says throttling: retryable, read from the metadata, not Debug text.
        let e = sdk_err(service_error(400, "ThrottlingException"), "put_item");
        assert!(e.is_retryable(), "{e:?}");
        assert!(e.to_string().contains("ThrottlingException"), "{e}");
        let e = sdk_err(service_error(400, "ValidationException"), "put_item");
        assert!(!e.is_retryable(), "{e:?}");
        assert!(sdk_err(service_error(503, "Whatever"), "put_item").is_retryable());
    }

    #[test]
    fn the_sdk_error_is_kept_as_the_source() {
        let e = sdk_err(service_error(400, "ValidationException"), "put_item");
        let source = std::error::Error::source(&e).expect("a source");
        let sdk = source
            .downcast_ref::<SdkError<PutItemError, HttpResponse>>()
            .expect("the SDK error itself");
        assert_eq!(sdk.code(), Some("ValidationException"));
    }
}
