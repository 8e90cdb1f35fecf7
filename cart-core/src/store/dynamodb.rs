//! Carts in a DynamoDB table, shared by several servers.

use super::records::{self, Header};
use super::{CartStore, Version};
use crate::{Cart, CartFile, CartStatus, CartSummary, CartUid, Error, Result, Timestamp};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck,
    CreateGlobalSecondaryIndexAction, DeleteRequest, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, KeysAndAttributes, Projection,
    ProjectionType, Put, PutRequest, ScalarAttributeType, TransactWriteItem, WriteRequest,
};
use std::collections::HashMap;

/// Carts in a DynamoDB table keyed by `uid` (string), several cart servers sharing it.
///
/// Layout (schema [`SCHEMA_VERSION`](super::SCHEMA_VERSION)): a header item per cart under
/// its uid, with `version` (number; every header write is conditional on it), `status`,
/// `lease_token` (number, while leased; a worker's writes are conditional on it),
/// `files_key` (fresh for every insert), `file_count`, `last_used` and `body` (the header
/// JSON, without files); and one item per file under `<uid>/<files_key>/<index>` (uids
/// cannot contain `/`) with `body` (the file JSON). A cart of 100,000 files is 100,001 small
/// items; a file step writes one file item in a transaction that checks the header's
/// `lease_token`. Items of schema 1 (the whole cart in the header's `body`) are rewritten as
/// schema 2 when first loaded.
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

/// The global secondary index of cart headers by `status` (hash) and `last_used` (range):
/// how recovery, eviction and purging find their candidates without scanning the table. It
/// is sparse (file items have no `status`) and eventually consistent: every candidate is
/// re-checked with a consistent read or a conditional write.
pub const STATUS_INDEX: &str = "by_status";

fn attribute(name: &str, kind: ScalarAttributeType) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .map_err(build_err)
}

fn key_element(name: &str, kind: KeyType) -> Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(build_err)
}

fn status_index() -> Result<GlobalSecondaryIndex> {
    GlobalSecondaryIndex::builder()
        .index_name(STATUS_INDEX)
        .key_schema(key_element("status", KeyType::Hash)?)
        .key_schema(key_element("last_used", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(build_err)
}

/// Most keys in one `BatchGetItem`, items in one `BatchWriteItem`, and file puts in one
/// `TransactWriteItems` (beside its condition check): DynamoDB's limits.
const BATCH_GET: usize = 100;
const BATCH_WRITE: usize = 25;
const TRANSACT_PUTS: usize = 99;
/// Rounds of resending what a batch call left unprocessed before giving up (retryable).
const UNPROCESSED_ROUNDS: u32 = 20;

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::store_caused("building a DynamoDB request", false, e)
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key_of(uid: &str) -> Item {
    HashMap::from([("uid".to_owned(), s(uid))])
}

fn file_key(uid: &CartUid, files_key: &str, index: usize) -> String {
    format!("{uid}/{files_key}/{index}")
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn get_n(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

fn header_item(cart: &Cart, version: u64, files_key: &str) -> Result<Item> {
    let mut item = HashMap::from([
        ("uid".to_owned(), s(cart.uid.as_str())),
        ("version".to_owned(), n(version)),
        ("status".to_owned(), s(cart.status.as_str())),
        ("files_key".to_owned(), s(files_key)),
        ("file_count".to_owned(), n(cart.files.len())),
        ("last_used".to_owned(), n(cart.last_used.unix_millis())),
        ("updated".to_owned(), n(cart.updated.unix_millis())),
        ("schema".to_owned(), n(super::SCHEMA_VERSION)),
        ("body".to_owned(), s(records::encode_header(cart)?)),
    ]);
    if let Some(l) = &cart.lease {
        item.insert("lease_token".to_owned(), n(l.token));
    }
    Ok(item)
}

fn file_item(uid: &CartUid, files_key: &str, index: usize, file: &CartFile) -> Result<Item> {
    Ok(HashMap::from([
        ("uid".to_owned(), s(file_key(uid, files_key, index))),
        ("schema".to_owned(), n(super::SCHEMA_VERSION)),
        ("body".to_owned(), s(records::encode_file(file)?)),
    ]))
}

/// The stored header: the decoded record, its version and files key.
struct Stored {
    header: Header,
    version: u64,
    files_key: String,
}

fn decode_stored(item: &Item) -> Result<Stored> {
    let body = get_s(item, "body").ok_or_else(|| Error::store("dynamodb item without body"))?;
    let version =
        get_n(item, "version").ok_or_else(|| Error::store("dynamodb item without version"))?;
    Ok(Stored {
        header: records::decode_header(body)?,
        version,
        files_key: get_s(item, "files_key").unwrap_or_default().to_owned(),
    })
}

impl DynamoDbStore {
    /// A store on an existing table (see [`create_table`](Self::create_table)).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbStore {
            client,
            table: table.into(),
        }
    }

    /// Creates the table (on-demand billing) with its [`STATUS_INDEX`] if it does not exist,
    /// adds the index to a table created before it had one, and waits until both are active.
    pub async fn create_table(&self) -> Result<()> {
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("uid", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("status", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("last_used", ScalarAttributeType::N)?)
            .key_schema(key_element("uid", KeyType::Hash)?)
            .global_secondary_indexes(status_index()?)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => return Err(sdk_err(e, "create_table")),
        }
        let mut index_requested = false;
        for _ in 0..120 {
            let desc = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| sdk_err(e, "describe_table"))?;
            let table = desc.table();
            let active = table
                .and_then(|t| t.table_status())
                .is_some_and(|s| s.as_str() == "ACTIVE");
            let index = table
                .map(|t| t.global_secondary_indexes())
                .unwrap_or_default()
                .iter()
                .find(|i| i.index_name() == Some(STATUS_INDEX));
            match index {
                None if active && !index_requested => {
                    let create = CreateGlobalSecondaryIndexAction::builder()
                        .index_name(STATUS_INDEX)
                        .key_schema(key_element("status", KeyType::Hash)?)
                        .key_schema(key_element("last_used", KeyType::Range)?)
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
                                .build(),
                        )
                        .build()
                        .map_err(build_err)?;
                    self.client
                        .update_table()
                        .table_name(&self.table)
                        .attribute_definitions(attribute("status", ScalarAttributeType::S)?)
                        .attribute_definitions(attribute("last_used", ScalarAttributeType::N)?)
                        .global_secondary_index_updates(
                            GlobalSecondaryIndexUpdate::builder().create(create).build(),
                        )
                        .send()
                        .await
                        .map_err(|e| sdk_err(e, "update_table"))?;
                    index_requested = true;
                }
                Some(i) if active && i.index_status().is_none_or(|s| s.as_str() == "ACTIVE") => {
                    return Ok(());
                }
                _ => {}
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Err(Error::Store {
            message: format!("table {} did not become active", self.table),
            retryable: true,
            source: None,
        })
    }

    async fn get_header(&self, uid: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(uid)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err(e, "get_item"))?;
        Ok(out.item().cloned())
    }

    /// A conditional put; `Ok(false)` when the condition failed.
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

    /// Unconditional batch writes, resending what DynamoDB leaves unprocessed.
    async fn batch_write(&self, mut requests: Vec<WriteRequest>) -> Result<()> {
        while !requests.is_empty() {
            let rest = requests.split_off(requests.len().min(BATCH_WRITE));
            let mut pending = requests;
            requests = rest;
            for round in 0.. {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| sdk_err(e, "batch_write_item"))?;
                pending = out
                    .unprocessed_items()
                    .and_then(|m| m.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if round >= UNPROCESSED_ROUNDS {
                    return Err(Error::Store {
                        message: "dynamodb batch_write_item: items left unprocessed".into(),
                        retryable: true,
                        source: None,
                    });
                }
                tokio::time::sleep(std::time::Duration::from_millis(20 << round.min(5))).await;
            }
        }
        Ok(())
    }

    async fn put_files(&self, uid: &CartUid, files_key: &str, files: &[CartFile]) -> Result<()> {
        let mut requests = Vec::with_capacity(files.len());
        for (i, f) in files.iter().enumerate() {
            let put = PutRequest::builder()
                .set_item(Some(file_item(uid, files_key, i, f)?))
                .build()
                .map_err(build_err)?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        self.batch_write(requests).await
    }

    /// Deletes the file items a removed header item named.
    async fn delete_files_of(&self, uid: &CartUid, header: &Item) -> Result<()> {
        if let (Some(key), Some(count)) = (get_s(header, "files_key"), get_n(header, "file_count"))
        {
            let count = usize::try_from(count).unwrap_or(0).min(crate::MAX_FILES);
            self.delete_files(uid, key, count).await?;
        }
        Ok(())
    }

    /// Deletes file items (best effort is up to the caller).
    async fn delete_files(&self, uid: &CartUid, files_key: &str, count: usize) -> Result<()> {
        let mut requests = Vec::with_capacity(count);
        for i in 0..count {
            let del = DeleteRequest::builder()
                .set_key(Some(key_of(&file_key(uid, files_key, i))))
                .build()
                .map_err(build_err)?;
            requests.push(WriteRequest::builder().delete_request(del).build());
        }
        self.batch_write(requests).await
    }

    async fn get_files(
        &self,
        uid: &CartUid,
        files_key: &str,
        count: usize,
    ) -> Result<Vec<CartFile>> {
        let mut slots: Vec<Option<CartFile>> = vec![None; count.min(crate::MAX_FILES)];
        let keys: Vec<Item> = (0..slots.len())
            .map(|i| key_of(&file_key(uid, files_key, i)))
            .collect();
        let prefix = format!("{uid}/{files_key}/");
        for chunk in keys.chunks(BATCH_GET) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(build_err)?;
            for round in 0.. {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| sdk_err(e, "batch_get_item"))?;
                for item in out
                    .responses()
                    .and_then(|m| m.get(&self.table))
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    let index = get_s(item, "uid")
                        .and_then(|k| k.strip_prefix(&prefix))
                        .and_then(|i| i.parse::<usize>().ok())
                        .ok_or_else(|| Error::store("dynamodb file item with a foreign key"))?;
                    let body = get_s(item, "body")
                        .ok_or_else(|| Error::store("dynamodb file item without body"))?;
                    let slot = slots
                        .get_mut(index)
                        .ok_or_else(|| Error::store("dynamodb file item out of range"))?;
                    *slot = Some(records::decode_file(body)?);
                }
                match out.unprocessed_keys().and_then(|m| m.get(&self.table)) {
                    Some(k) if !k.keys().is_empty() => pending = k.clone(),
                    _ => break,
                }
                if round >= UNPROCESSED_ROUNDS {
                    return Err(Error::Store {
                        message: "dynamodb batch_get_item: keys left unprocessed".into(),
                        retryable: true,
                        source: None,
                    });
                }
                tokio::time::sleep(std::time::Duration::from_millis(20 << round.min(5))).await;
            }
        }
        slots
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                f.ok_or_else(|| Error::store(format!("cart {uid}: file record {i} is missing")))
            })
            .collect()
    }

    /// The conditional header update shared by `save` and `save_fenced`; keeps `files_key`.
    async fn update_header(
        &self,
        cart: &Cart,
        expected: Version,
        fence: Option<u64>,
    ) -> Result<Version> {
        let next = expected.0 + 1;
        let mut values = HashMap::from([
            (":v".to_owned(), n(expected.0)),
            (":next".to_owned(), n(next)),
            (":s".to_owned(), s(cart.status.as_str())),
            (":b".to_owned(), s(records::encode_header(cart)?)),
            (":lu".to_owned(), n(cart.last_used.unix_millis())),
            (":up".to_owned(), n(cart.updated.unix_millis())),
        ]);
        let mut update = "SET #v = :next, #s = :s, #b = :b, #lu = :lu, #up = :up".to_owned();
        match &cart.lease {
            Some(l) => {
                values.insert(":lt".to_owned(), n(l.token));
                update.push_str(", #t = :lt");
            }
            None => update.push_str(" REMOVE #t"),
        }
        let mut condition = "attribute_exists(#u) AND #v = :v".to_owned();
        if let Some(t) = fence {
            values.insert(":t".to_owned(), n(t));
            condition.push_str(" AND #t = :t");
        }
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(cart.uid.as_str())))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_names("#u", "uid")
            .expression_attribute_names("#v", "version")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#b", "body")
            .expression_attribute_names("#lu", "last_used")
            .expression_attribute_names("#up", "updated")
            .expression_attribute_names("#t", "lease_token")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match sent {
            Ok(_) => return Ok(Version(next)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(sdk_err(e, "update_item")),
        }
        let stored = self.get_header(cart.uid.as_str()).await?;
        match stored.as_ref().map(decode_stored).transpose()? {
            None => Err(Error::NotFound(format!("cart {}", cart.uid))),
            Some(st) => {
                let holder = match &st.header {
                    Header::Split { cart, .. } | Header::Whole(cart) => cart,
                };
                match fence {
                    Some(t) if !super::holds(holder, t) => Err(super::lease_lost(&cart.uid, t)),
                    _ => Err(Error::Conflict(format!("cart {} changed", cart.uid))),
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl CartStore for DynamoDbStore {
    async fn insert(&self, cart: &Cart) -> Result<Version> {
        for _ in 0..super::MODIFY_ATTEMPTS {
            let old = self.get_header(cart.uid.as_str()).await?;
            let old = old.as_ref().map(decode_stored).transpose()?;
            let mut fresh = cart.clone();
            let files_key = records::new_files_key();
            let (condition, values, next, replaced) = match &old {
                None => ("attribute_not_exists(#u)", Item::new(), 1, None),
                Some(st) => {
                    let (old_cart, count) = match &st.header {
                        Header::Split { cart, file_count } => (cart, *file_count),
                        Header::Whole(cart) => (cart, 0),
                    };
                    if old_cart.status != CartStatus::Deleted {
                        return Err(Error::AlreadyExists(cart.uid.to_string()));
                    }
                    // Fencing tokens go on growing across carts of the same uid.
                    fresh.fence = fresh.fence.max(super::last_token(old_cart));
                    (
                        "#v = :v",
                        HashMap::from([(":v".to_owned(), n(st.version))]),
                        st.version + 1,
                        Some((st.files_key.clone(), count)),
                    )
                }
            };
            // Files first, under a key no one else uses; the header makes them visible.
            self.put_files(&cart.uid, &files_key, &fresh.files).await?;
            if self
                .put(header_item(&fresh, next, &files_key)?, condition, values)
                .await?
            {
                if let Some((old_key, count)) = replaced
                    && let Err(e) = self.delete_files(&cart.uid, &old_key, count).await
                {
                    tracing::warn!(uid = %cart.uid, "cannot delete a replaced cart's files: {}", e.report());
                }
                return Ok(Version(next));
            }
            if let Err(e) = self
                .delete_files(&cart.uid, &files_key, fresh.files.len())
                .await
            {
                tracing::warn!(uid = %cart.uid, "cannot delete files of a lost insert: {}", e.report());
            }
        }
        Err(Error::Conflict(format!(
            "cart {}: insert kept racing",
            cart.uid
        )))
    }

    async fn load(&self, uid: &CartUid) -> Result<Option<(Cart, Version)>> {
        for _ in 0..super::MODIFY_ATTEMPTS {
            let Some(item) = self.get_header(uid.as_str()).await? else {
                return Ok(None);
            };
            let st = decode_stored(&item)?;
            match st.header {
                Header::Split {
                    mut cart,
                    file_count,
                } => {
                    cart.files = self.get_files(uid, &st.files_key, file_count).await?;
                    cart.files_key = st.files_key;
                    return Ok(Some((cart, Version(st.version))));
                }
                Header::Whole(mut cart) => {
                    // Schema 1: rewrite as a header and file items.
                    let files_key = records::new_files_key();
                    self.put_files(uid, &files_key, &cart.files).await?;
                    let values = HashMap::from([(":v".to_owned(), n(st.version))]);
                    let next = st.version + 1;
                    if self
                        .put(header_item(&cart, next, &files_key)?, "#v = :v", values)
                        .await?
                    {
                        cart.files_key = files_key;
                        return Ok(Some((cart, Version(next))));
                    }
                }
            }
        }
        Err(Error::Conflict(format!("cart {uid}: load kept racing")))
    }

    async fn load_header(&self, uid: &CartUid) -> Result<Option<Cart>> {
        let Some(item) = self.get_header(uid.as_str()).await? else {
            return Ok(None);
        };
        Ok(Some(match decode_stored(&item)?.header {
            Header::Split { cart, .. } => cart,
            Header::Whole(cart) => cart.clone_header(),
        }))
    }

    async fn save(&self, cart: &Cart, expected: Version) -> Result<Version> {
        self.update_header(cart, expected, None).await
    }

    async fn save_fenced(&self, cart: &Cart, expected: Version, token: u64) -> Result<Version> {
        self.update_header(cart, expected, Some(token)).await
    }

    async fn save_files(
        &self,
        uid: &CartUid,
        files_key: &str,
        files: &[(usize, CartFile)],
        fence: Option<u64>,
    ) -> Result<()> {
        for chunk in files.chunks(TRANSACT_PUTS) {
            let mut values = HashMap::from([(":k".to_owned(), s(files_key))]);
            let mut condition = "attribute_exists(#u) AND #k = :k".to_owned();
            let mut check = ConditionCheck::builder();
            if let Some(t) = fence {
                values.insert(":t".to_owned(), n(t));
                condition.push_str(" AND #t = :t");
                check = check.expression_attribute_names("#t", "lease_token");
            }
            let check = check
                .table_name(&self.table)
                .set_key(Some(key_of(uid.as_str())))
                .condition_expression(condition)
                .expression_attribute_names("#u", "uid")
                .expression_attribute_names("#k", "files_key")
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(build_err)?;
            let mut items = vec![TransactWriteItem::builder().condition_check(check).build()];
            for (i, f) in chunk {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(file_item(uid, files_key, *i, f)?))
                    .build()
                    .map_err(build_err)?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match sent {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_transaction_canceled_exception()) =>
                {
                    let stored = self.get_header(uid.as_str()).await?;
                    let st = stored.as_ref().map(decode_stored).transpose()?;
                    return Err(match st {
                        None => Error::NotFound(format!("cart {uid}")),
                        Some(st) if st.files_key != files_key => {
                            Error::NotFound(format!("cart {uid} (files {files_key})"))
                        }
                        Some(st) => {
                            let holder = match &st.header {
                                Header::Split { cart, .. } | Header::Whole(cart) => cart,
                            };
                            match fence {
                                Some(t) if !super::holds(holder, t) => super::lease_lost(uid, t),
                                _ => Error::Conflict(format!("cart {uid}: file write raced")),
                            }
                        }
                    });
                }
                Err(e) => return Err(sdk_err(e, "transact_write_items")),
            }
        }
        Ok(())
    }

    async fn list(&self) -> Result<Vec<CartSummary>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .filter_expression("attribute_exists(#s)")
                .expression_attribute_names("#s", "status")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_err(e, "scan"))?;
            for item in page.items() {
                let body = get_s(item, "body")
                    .ok_or_else(|| Error::store("dynamodb item without body"))?;
                out.push(records::summary(body)?);
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn list_by_status(&self, statuses: &[CartStatus]) -> Result<Vec<CartSummary>> {
        let mut out = Vec::new();
        for status in statuses {
            let mut start: Option<Item> = None;
            loop {
                let page = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(STATUS_INDEX)
                    .key_condition_expression("#s = :s")
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_values(":s", s(status.as_str()))
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| sdk_err(e, "query"))?;
                for item in page.items() {
                    let body = get_s(item, "body")
                        .ok_or_else(|| Error::store("dynamodb item without body"))?;
                    out.push(records::summary(body)?);
                }
                match page.last_evaluated_key() {
                    Some(k) if !k.is_empty() => start = Some(k.clone()),
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    async fn remove(&self, uid: &CartUid) -> Result<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(uid.as_str())))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_err(e, "delete_item"))?;
        let Some(old) = out.attributes().filter(|a| !a.is_empty()) else {
            return Ok(false);
        };
        self.delete_files_of(uid, old).await?;
        Ok(true)
    }

    async fn purge(&self, uid: &CartUid, before: Timestamp) -> Result<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(uid.as_str())))
            .condition_expression("#s = :d AND #up < :before")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#up", "updated")
            .expression_attribute_values(":d", s(CartStatus::Deleted.as_str()))
            .expression_attribute_values(":before", n(before.unix_millis()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(sdk_err(e, "delete_item")),
        };
        if let Some(old) = out.attributes().filter(|a| !a.is_empty()) {
            self.delete_files_of(uid, old).await?;
        }
        Ok(true)
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
