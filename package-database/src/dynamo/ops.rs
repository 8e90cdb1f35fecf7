//! The access patterns on DynamoDB.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, Put, TransactWriteItem, WriteRequest,
};

use super::batch::{build_error, sdk_error, send_batch};
use super::items::{
    Item, cred_attr, credentials_from_item, credentials_item, get_s, s, spec_attr, spec_from_item,
    spec_item, user_from_item,
};
use super::{CREDENTIALS_PUBLIC_KEY_INDEX, DynamoDatabase, SPECS_ID_UPDATED_AT_INDEX};
use crate::database::Database;
use crate::error::{Error, Missing, Result};
use crate::model::{
    self, CredentialsInfo, NewCredentials, NewSpec, SpecInfo, User, latest_id_updated_at,
    latest_updated_at_id, validate_credentials_id, validate_public_key, validate_spec_key,
    validate_sub,
};

/// Where [`DynamoDatabase::delete_where`] reads the items to delete.
pub(super) enum Source<'a> {
    /// The pages of a query.
    Query(&'a aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder),
    /// The pages of a scan.
    Scan(&'a aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder),
}

/// One page of a query or scan.
pub(super) struct Page {
    pub(super) items: Vec<Item>,
    pub(super) next: Option<Item>,
}

fn next_key(key: Option<Item>) -> Option<Item> {
    key.filter(|k| !k.is_empty())
}

fn is_latest_row(table: &str, item: &Item) -> Result<bool> {
    Ok(get_s(table, item, spec_attr::UPDATED_AT_ID)?.starts_with("latest#"))
}

fn has_id(table: &str, item: &Item, id: &str) -> Result<bool> {
    Ok(get_s(table, item, spec_attr::ID)? == id)
}

impl DynamoDatabase {
    fn page_limit(&self) -> Option<i32> {
        self.page_limit
            .map(|l| i32::try_from(l.get()).unwrap_or(i32::MAX))
    }

    /// One page of a query; `query` is cloned so the caller can page on.
    pub(super) async fn query_page(
        &self,
        query: &aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        start: Option<Item>,
    ) -> Result<Page> {
        let out = query
            .clone()
            .set_limit(self.page_limit())
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        Ok(Page {
            items: out.items.unwrap_or_default(),
            next: next_key(out.last_evaluated_key),
        })
    }

    /// One page of a scan.
    pub(super) async fn scan_page(
        &self,
        scan: &aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder,
        start: Option<Item>,
    ) -> Result<Page> {
        let out = scan
            .clone()
            .set_limit(self.page_limit())
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Scan", e))?;
        Ok(Page {
            items: out.items.unwrap_or_default(),
            next: next_key(out.last_evaluated_key),
        })
    }

    /// Every item of a query, following `LastEvaluatedKey`, that `keep` accepts.
    async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        keep: impl Fn(&Item) -> Result<bool>,
    ) -> Result<Vec<Item>> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let page = self.query_page(&query, start.take()).await?;
            for item in page.items {
                if keep(&item)? {
                    all.push(item);
                }
            }
            match page.next {
                Some(key) => start = Some(key),
                None => return Ok(all),
            }
        }
    }

    /// Deletes, in batches, every item of the pages `fetch` returns that `keep` accepts,
    /// following `LastEvaluatedKey`. Batches are full (except the last) across page boundaries.
    pub(super) async fn delete_where(
        &self,
        operation: &'static str,
        table: &str,
        key_names: [&str; 2],
        source: Source<'_>,
        keep: impl Fn(&Item) -> Result<bool>,
    ) -> Result<()> {
        let batch_size = self.batch.effective_batch_size();
        let mut pending: Vec<WriteRequest> = Vec::new();
        let mut start = None;
        loop {
            let page = match source {
                Source::Query(query) => self.query_page(query, start.take()).await?,
                Source::Scan(scan) => self.scan_page(scan, start.take()).await?,
            };
            for item in page.items {
                if keep(&item)? {
                    pending.push(delete_request(table, key_names, item)?);
                }
            }
            while pending.len() >= batch_size {
                let rest = pending.split_off(batch_size);
                let batch = std::mem::replace(&mut pending, rest);
                self.write_batch(operation, table, batch).await?;
            }
            match page.next {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        if !pending.is_empty() {
            self.write_batch(operation, table, pending).await?;
        }
        Ok(())
    }

    /// Sends one `BatchWriteItem` of at most 25 requests, resending unprocessed items.
    async fn write_batch(
        &self,
        operation: &'static str,
        table: &str,
        batch: Vec<WriteRequest>,
    ) -> Result<()> {
        send_batch(operation, &self.batch, batch, |requests| {
            let request = self
                .client
                .batch_write_item()
                .request_items(table, requests);
            async move {
                let out = request
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchWriteItem", e))?;
                Ok(out
                    .unprocessed_items
                    .and_then(|mut map| map.remove(table))
                    .unwrap_or_default())
            }
        })
        .await
    }

    fn spec_query(
        &self,
        sub: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.tables.specs)
            .consistent_read(true)
            .expression_attribute_names("#s", spec_attr::SUB)
            .expression_attribute_values(":s", s(sub))
    }

    /// Query of a user's latest rows.
    fn latest_rows_query(
        &self,
        sub: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.spec_query(sub)
            .key_condition_expression("#s = :s AND begins_with(#k, :p)")
            .expression_attribute_names("#k", spec_attr::UPDATED_AT_ID)
            .expression_attribute_values(":p", s("latest#"))
    }

    /// Query of every row of one spec id, on the `idUpdatedAt` index, filtered exactly on `id`.
    fn spec_rows_query(
        &self,
        sub: &str,
        id: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.spec_query(sub)
            .index_name(SPECS_ID_UPDATED_AT_INDEX)
            .key_condition_expression("#s = :s AND begins_with(#k, :p)")
            .filter_expression("#i = :i")
            .expression_attribute_names("#k", spec_attr::ID_UPDATED_AT)
            .expression_attribute_names("#i", spec_attr::ID)
            .expression_attribute_values(":p", s(format!("{id}#")))
            .expression_attribute_values(":i", s(id))
    }

    async fn get_latest_item(&self, sub: &str, name: &str) -> Result<Item> {
        let id = validate_spec_key(sub, name)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.specs)
            .consistent_read(true)
            .key(spec_attr::SUB, s(sub))
            .key(spec_attr::UPDATED_AT_ID, s(latest_updated_at_id(&id)))
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item.ok_or_else(|| {
            Error::NotFound(Missing::Spec {
                sub: sub.to_owned(),
                name: name.to_owned(),
            })
        })
    }
}

fn delete_request(table: &str, key_names: [&str; 2], mut item: Item) -> Result<WriteRequest> {
    let mut key = Item::with_capacity(2);
    for name in key_names {
        let value = item.remove(name).ok_or_else(|| Error::InvalidItem {
            table: table.to_owned(),
            reason: format!("key attribute {name:?} is missing"),
        })?;
        key.insert(name.to_owned(), value);
    }
    let delete = DeleteRequest::builder()
        .set_key(Some(key))
        .build()
        .map_err(|e| build_error("BatchWriteItem", e))?;
    Ok(WriteRequest::builder().delete_request(delete).build())
}

#[async_trait]
impl Database for DynamoDatabase {
    async fn count_customer_models(&self, sub: &str) -> Result<u64> {
        validate_sub(sub)?;
        let table = &self.tables.specs;
        let query = self
            .latest_rows_query(sub)
            .projection_expression("#m")
            .expression_attribute_names("#m", spec_attr::MODEL_COUNT);
        let items = self.query_all(query, |_| Ok(true)).await?;
        let mut sum = 0u64;
        for item in &items {
            let count = match item.get(spec_attr::MODEL_COUNT) {
                Some(AttributeValue::N(n)) => n.parse::<u64>().map_err(|e| Error::InvalidItem {
                    table: table.clone(),
                    reason: format!("model_count {n:?}: {e}"),
                })?,
                _ => {
                    return Err(Error::InvalidItem {
                        table: table.clone(),
                        reason: "model_count is missing or not a number".into(),
                    });
                }
            };
            sum = sum.saturating_add(count);
        }
        Ok(sum)
    }

    async fn create_update_spec(&self, spec: &NewSpec) -> Result<()> {
        let id = spec.validate()?;
        let updated_at = self.clock.now_seconds();
        let info = SpecInfo::from_new(spec, id.clone(), updated_at);
        let versioned = spec_item(
            &spec.sub,
            &info,
            model::updated_at_id(updated_at, &id),
            model::id_updated_at(&id, updated_at),
        );
        let latest = spec_item(
            &spec.sub,
            &info,
            latest_updated_at_id(&id),
            latest_id_updated_at(&id),
        );
        let mut writes = Vec::with_capacity(2);
        for item in [versioned, latest] {
            let put = Put::builder()
                .table_name(&self.tables.specs)
                .set_item(Some(item))
                .build()
                .map_err(|e| build_error("TransactWriteItems", e))?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
            .map_err(|e| sdk_error("TransactWriteItems", e))?;
        Ok(())
    }

    async fn get_latest_spec_version(&self, sub: &str, name: &str) -> Result<String> {
        let item = self.get_latest_item(sub, name).await?;
        Ok(get_s(&self.tables.specs, &item, spec_attr::VERSION)?.to_owned())
    }

    async fn list_specs(&self, sub: &str) -> Result<Vec<SpecInfo>> {
        validate_sub(sub)?;
        let items = self
            .query_all(self.latest_rows_query(sub), |_| Ok(true))
            .await?;
        items
            .iter()
            .map(|item| spec_from_item(&self.tables.specs, item))
            .collect()
    }

    async fn get_spec(&self, sub: &str, name: &str) -> Result<SpecInfo> {
        let item = self.get_latest_item(sub, name).await?;
        spec_from_item(&self.tables.specs, &item)
    }

    async fn delete_spec(&self, sub: &str, name: &str) -> Result<()> {
        let id = validate_spec_key(sub, name)?;
        let table = &self.tables.specs;
        let query = self
            .spec_rows_query(sub, &id)
            .projection_expression("#s, #u, #i")
            .expression_attribute_names("#u", spec_attr::UPDATED_AT_ID);
        self.delete_where(
            "delete_spec",
            table,
            [spec_attr::SUB, spec_attr::UPDATED_AT_ID],
            Source::Query(&query),
            |item| has_id(table, item, &id),
        )
        .await
    }

    async fn list_spec_versions(&self, sub: &str, name: &str) -> Result<Vec<SpecInfo>> {
        let id = validate_spec_key(sub, name)?;
        let table = &self.tables.specs;
        let items = self
            .query_all(self.spec_rows_query(sub, &id), |item| {
                Ok(has_id(table, item, &id)? && !is_latest_row(table, item)?)
            })
            .await?;
        if items.is_empty() {
            return Err(Error::NotFound(Missing::Spec {
                sub: sub.to_owned(),
                name: name.to_owned(),
            }));
        }
        items
            .iter()
            .map(|item| spec_from_item(table, item))
            .collect()
    }

    async fn delete_all_specs(&self, sub: &str) -> Result<()> {
        validate_sub(sub)?;
        let query = self
            .spec_query(sub)
            .key_condition_expression("#s = :s")
            .projection_expression("#s, #u")
            .expression_attribute_names("#u", spec_attr::UPDATED_AT_ID);
        self.delete_where(
            "delete_all_specs",
            &self.tables.specs,
            [spec_attr::SUB, spec_attr::UPDATED_AT_ID],
            Source::Query(&query),
            |_| Ok(true),
        )
        .await
    }

    async fn list_credentials(&self, sub: &str) -> Result<Vec<CredentialsInfo>> {
        validate_sub(sub)?;
        let table = &self.tables.credentials;
        let items = self
            .query_all(self.credentials_query(sub), |_| Ok(true))
            .await?;
        items
            .iter()
            .map(|item| credentials_from_item(table, item, self.encoding))
            .collect()
    }

    async fn create_update_credentials(&self, credentials: &NewCredentials) -> Result<()> {
        credentials.validate()?;
        self.client
            .put_item()
            .table_name(&self.tables.credentials)
            .set_item(Some(credentials_item(credentials, self.encoding)))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    async fn get_credentials(&self, sub: &str, id: &str) -> Result<Option<CredentialsInfo>> {
        validate_sub(sub)?;
        validate_credentials_id(id)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.credentials)
            .consistent_read(true)
            .key(cred_attr::SUB, s(sub))
            .key(cred_attr::ID, s(id))
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item
            .map(|item| credentials_from_item(&self.tables.credentials, &item, self.encoding))
            .transpose()
    }

    async fn get_user(&self, public_key: &str) -> Result<Option<User>> {
        validate_public_key(public_key)?;
        let query = self
            .client
            .query()
            .table_name(&self.tables.credentials)
            .index_name(CREDENTIALS_PUBLIC_KEY_INDEX)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", cred_attr::PUBLIC_KEY)
            .expression_attribute_values(":p", s(public_key));
        let mut start = None;
        loop {
            let page = self.query_page(&query, start.take()).await?;
            if let Some(item) = page.items.first() {
                return user_from_item(&self.tables.credentials, item, self.encoding).map(Some);
            }
            match page.next {
                Some(key) => start = Some(key),
                None => return Ok(None),
            }
        }
    }

    async fn delete_credentials(&self, sub: &str, id: &str) -> Result<()> {
        validate_sub(sub)?;
        validate_credentials_id(id)?;
        self.client
            .delete_item()
            .table_name(&self.tables.credentials)
            .key(cred_attr::SUB, s(sub))
            .key(cred_attr::ID, s(id))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        Ok(())
    }

    async fn delete_all_credentials(&self, sub: &str) -> Result<()> {
        validate_sub(sub)?;
        let query = self
            .credentials_query(sub)
            .projection_expression("#s, #i")
            .expression_attribute_names("#i", cred_attr::ID);
        self.delete_where(
            "delete_all_credentials",
            &self.tables.credentials,
            [cred_attr::SUB, cred_attr::ID],
            Source::Query(&query),
            |_| Ok(true),
        )
        .await
    }
}

impl DynamoDatabase {
    fn credentials_query(
        &self,
        sub: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.tables.credentials)
            .consistent_read(true)
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", cred_attr::SUB)
            .expression_attribute_values(":s", s(sub))
    }
}
