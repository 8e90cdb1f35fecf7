//! `DynamoDatabase` against the DynamoDB emulator (run with `scripts/test -p package-database`):
//! the conformance suite, request counting, and table compatibility checked on the wire.

#[path = "../../support/emulator.rs"]
mod emulator;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, RuntimeComponents};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, KeyType, ProjectionType};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use package_database::testing::{TableFixture, scenarios, unique_table_names};
use package_database::{
    BinaryEncoding, Database, DynamoDatabase, Error, ManualClock, NewCredentials, NewSpec,
};

/// Items per query page in these tests, so that pagination is exercised on small data.
const PAGE_LIMIT: u32 = 40;

async fn fixture_with(
    test: &str,
    configure: impl FnOnce(
        package_database::DynamoDatabaseBuilder,
    ) -> package_database::DynamoDatabaseBuilder,
) -> Option<(TableFixture, ManualClock, aws_config::SdkConfig)> {
    let config = emulator::sdk_config(test).await?;
    let clock = ManualClock::new(scenarios::START);
    let builder = DynamoDatabase::builder()
        .with_sdk_config(&config)
        .with_table_names(unique_table_names("package"))
        .with_clock(Arc::new(clock.clone()));
    let db = configure(builder).build().expect("valid settings");
    let fixture = TableFixture::create(db).await.expect("tables created");
    Some((fixture, clock, config))
}

async fn fixture(test: &str) -> Option<(TableFixture, ManualClock, aws_config::SdkConfig)> {
    fixture_with(test, |b| {
        b.with_query_page_limit(NonZeroU32::new(PAGE_LIMIT).expect("nonzero"))
    })
    .await
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let Some((fixture, clock, _)) = fixture(stringify!($name)).await else { return; };
            scenarios::$name(fixture.database(), &clock).await;
            fixture.drop_tables().await.expect("tables dropped");
        }
    )*};
}

conformance!(
    spec_round_trip,
    absent_title_and_description,
    missing_spec_is_not_found,
    canonical_name_collisions,
    two_versions_in_one_second,
    list_ordering,
    per_user_isolation,
    exact_filtering,
    deleting_missing_items,
    count_and_latest_time,
    credentials_round_trip,
    update_repoints_public_key,
    delete_credentials_and_all,
    authenticate_generated_credentials,
    invalid_input,
    many_specs,
);

/// moto copies every table on each transaction, so thousands of one-by-one versions take
/// minutes there: write a few hundred through the crate (pages of 40), and thousands on the
/// wire in `thousands_of_versions_written_on_the_wire_are_all_listed_and_deleted`.
#[tokio::test]
async fn many_versions() {
    let Some((fixture, clock, _)) = fixture("many_versions").await else {
        return;
    };
    scenarios::many_versions_with(fixture.database(), &clock, 300).await;
    fixture.drop_tables().await.expect("tables dropped");
}

#[tokio::test]
async fn thousands_of_versions_written_on_the_wire_are_all_listed_and_deleted() {
    const VERSIONS: u64 = 3_000;
    let counter = RequestCounter::default();
    let interceptor = counter.clone();
    let Some((fixture, _clock, config)) = fixture_with("thousands_of_versions", |b| b).await else {
        return;
    };
    let tables = fixture.database().table_names().clone();
    let raw = fixture.database().client().clone();
    let rows: Vec<_> = (0..VERSIONS)
        .map(|n| {
            let t = 1_600_000_000 + n;
            let mut row = wire_spec_row(
                &package_database::updated_at_id(t, "my-spec-name"),
                &package_database::id_updated_at("my-spec-name", t),
            );
            row.insert("updated_at".into(), s(&t.to_string()));
            row.insert("version".into(), s(&n.to_string()));
            row.insert("description".into(), s(&"d".repeat(500)));
            row
        })
        .chain([wire_spec_row("latest#my-spec-name", "my-spec-name#latest")])
        .collect();
    for chunk in rows.chunks(25) {
        let requests = chunk
            .iter()
            .map(|item| {
                let put = aws_sdk_dynamodb::types::PutRequest::builder()
                    .set_item(Some(item.clone()))
                    .build()
                    .expect("put request");
                aws_sdk_dynamodb::types::WriteRequest::builder()
                    .put_request(put)
                    .build()
            })
            .collect();
        let out = raw
            .batch_write_item()
            .request_items(&tables.specs, requests)
            .send()
            .await
            .expect("seeded");
        assert!(out.unprocessed_items.unwrap_or_default().is_empty());
    }
    // Default page size (1 MB): 3000 rows of ~700 bytes need several pages.
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(interceptor)
            .build(),
    );
    let db = DynamoDatabase::builder()
        .with_client(client)
        .with_table_names(tables)
        .build()
        .expect("valid settings");
    let versions = db
        .list_spec_versions("wire-user", "My_Spec.Name")
        .await
        .expect("listed");
    assert_eq!(versions.len() as u64, VERSIONS);
    assert!(
        versions
            .iter()
            .enumerate()
            .all(|(i, v)| v.version == i.to_string())
    );
    let pages = counter.take().get("Query").copied().unwrap_or(0);
    assert!(
        pages >= 2,
        "the listing followed LastEvaluatedKey over {pages} pages"
    );

    db.delete_spec("wire-user", "my-spec-name")
        .await
        .expect("deleted");
    let counts = counter.take();
    let rows = (VERSIONS + 1) as usize;
    assert_eq!(
        counts.get("BatchWriteItem").copied(),
        Some(rows.div_ceil(25)),
        "{counts:?}"
    );
    assert!(matches!(
        db.list_spec_versions("wire-user", "my-spec-name").await,
        Err(Error::NotFound(_))
    ));
    fixture.drop_tables().await.expect("tables dropped");
}

/// Counts the HTTP requests sent, per DynamoDB operation (from the `X-Amz-Target` header).
#[derive(Debug, Clone, Default)]
struct RequestCounter(Arc<Mutex<HashMap<String, usize>>>);

impl RequestCounter {
    fn take(&self) -> HashMap<String, usize> {
        std::mem::take(&mut *self.0.lock().expect("counter lock"))
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        *self
            .0
            .lock()
            .expect("counter lock")
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }
}

#[tokio::test]
async fn delete_all_batches_at_most_25_per_call_across_query_pages() {
    let counter = RequestCounter::default();
    let interceptor = counter.clone();
    let Some((fixture, clock, config)) = fixture_with("delete_all_batching", |b| b).await else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(interceptor)
            .build(),
    );
    let db = DynamoDatabase::builder()
        .with_client(client)
        .with_table_names(fixture.database().table_names().clone())
        .with_clock(Arc::new(clock.clone()))
        .with_query_page_limit(NonZeroU32::new(70).expect("nonzero"))
        .build()
        .expect("valid settings");

    let sub = "batching-user";
    for version in 0..3u64 {
        clock.set(scenarios::START + version);
        for spec in 0..100 {
            db.create_update_spec(&NewSpec::new(
                sub,
                format!("spec-{spec}"),
                version.to_string(),
                1,
            ))
            .await
            .expect("stored");
        }
    }
    let writes = counter.take();
    assert_eq!(writes.get("TransactWriteItems"), Some(&300), "{writes:?}");
    assert_eq!(
        writes.len(),
        1,
        "one transaction per version, nothing else: {writes:?}"
    );

    db.delete_all(sub).await.expect("deleted");
    let counts = counter.take();
    // 300 versioned rows + 100 latest rows; pages of 70 keys: 6 pages (the last one empty or
    // short), then 1 credentials query.
    let rows = 400usize;
    let batches = counts.get("BatchWriteItem").copied().unwrap_or(0);
    assert_eq!(batches, rows.div_ceil(25), "{counts:?}");
    let queries = counts.get("Query").copied().unwrap_or(0);
    let spec_pages = rows.div_ceil(70);
    assert!(
        (spec_pages + 1..=spec_pages + 2).contains(&queries),
        "{queries} queries for {spec_pages} pages of specs and one of credentials: {counts:?}"
    );
    assert_eq!(counts.len(), 2, "only queries and batch writes: {counts:?}");
    assert!(db.list_specs(sub).await.expect("listed").is_empty());
    fixture.drop_tables().await.expect("tables dropped");
}

/// Answers the next `remaining` `BatchWriteItem` calls with every request handed back as
/// `UnprocessedItems`, as DynamoDB does under throttling.
#[derive(Debug, Clone, Default)]
struct Unprocessor {
    remaining: Arc<Mutex<usize>>,
    last_request: Arc<Mutex<Option<String>>>,
}

impl Intercept for Unprocessor {
    fn name(&self) -> &'static str {
        "Unprocessor"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let is_batch = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.ends_with(".BatchWriteItem"));
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned());
        *self.last_request.lock().expect("lock") = if is_batch { body } else { None };
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(request) = self.last_request.lock().expect("lock").take() else {
            return Ok(());
        };
        let mut remaining = self.remaining.lock().expect("lock");
        if *remaining == 0 {
            return Ok(());
        }
        *remaining -= 1;
        let items = request
            .strip_prefix("{\"RequestItems\":")
            .ok_or("unexpected request body")?;
        let body = format!("{{\"UnprocessedItems\":{items}");
        let response = context.response_mut();
        response.headers_mut().remove("x-amz-crc32");
        response
            .headers_mut()
            .insert("content-length", body.len().to_string());
        *response.body_mut() = aws_smithy_types::body::SdkBody::from(body);
        Ok(())
    }
}

async fn seeded_with_interceptors(
    test: &str,
    unprocessed_responses: usize,
    batch: package_database::dynamo::BatchSettings,
) -> Option<(TableFixture, DynamoDatabase, RequestCounter)> {
    let counter = RequestCounter::default();
    let unprocessor = Unprocessor {
        remaining: Arc::new(Mutex::new(unprocessed_responses)),
        ..Default::default()
    };
    let (fixture, clock, config) = fixture_with(test, |b| b).await?;
    for n in 0..30 {
        clock.set(scenarios::START + n);
        let spec = NewSpec::new("throttled", format!("spec-{n}"), "1", 1);
        fixture
            .database()
            .create_update_spec(&spec)
            .await
            .expect("stored");
    }
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(counter.clone())
            .interceptor(unprocessor)
            .build(),
    );
    let db = DynamoDatabase::builder()
        .with_client(client)
        .with_table_names(fixture.database().table_names().clone())
        .with_batch_settings(batch)
        .build()
        .expect("valid settings");
    Some((fixture, db, counter))
}

#[tokio::test]
async fn unprocessed_items_on_the_wire_are_resent_until_written() {
    let settings = package_database::dynamo::BatchSettings::default();
    let Some((fixture, db, counter)) =
        seeded_with_interceptors("unprocessed_resent", 3, settings).await
    else {
        return;
    };
    db.delete_all_specs("throttled")
        .await
        .expect("deleted despite unprocessed items");
    let counts = counter.take();
    // 60 rows: 3 batches, the first sent 4 times (3 answers of all-unprocessed).
    assert_eq!(counts.get("BatchWriteItem"), Some(&6), "{counts:?}");
    assert!(db.list_specs("throttled").await.expect("listed").is_empty());
    assert_eq!(
        db.count_customer_models("throttled")
            .await
            .expect("counted"),
        0
    );
    fixture.drop_tables().await.expect("tables dropped");
}

#[tokio::test]
async fn items_that_stay_unprocessed_end_in_batch_incomplete() {
    let settings = package_database::dynamo::BatchSettings::new(
        NonZeroU32::new(3).expect("nonzero"),
        std::time::Duration::from_millis(1),
        std::time::Duration::from_millis(2),
    );
    let Some((fixture, db, counter)) =
        seeded_with_interceptors("unprocessed_forever", usize::MAX, settings).await
    else {
        return;
    };
    match db.delete_all_specs("throttled").await {
        Err(
            e @ Error::BatchIncomplete {
                unprocessed: 25,
                attempts: 3,
                ..
            },
        ) => assert!(e.is_retryable()),
        other => panic!("expected BatchIncomplete, got {other:?}"),
    }
    assert_eq!(counter.take().get("BatchWriteItem"), Some(&3));
    fixture.drop_tables().await.expect("tables dropped");
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn wire_spec_row(updated_at_id: &str, id_updated_at: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("sub".to_owned(), s("wire-user")),
        ("updated_at_id".to_owned(), s(updated_at_id)),
        ("id_updated_at".to_owned(), s(id_updated_at)),
        ("id".to_owned(), s("my-spec-name")),
        ("name".to_owned(), s("My_Spec.Name")),
        ("updated_at".to_owned(), s("1612345678")),
        ("version".to_owned(), s("1.0.0")),
        ("model_count".to_owned(), AttributeValue::N("3".to_owned())),
    ])
}

fn wire_credentials_row() -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("sub".to_owned(), s("wire-user")),
        ("id".to_owned(), s("default")),
        ("public_key".to_owned(), s("pk_wire")),
        // Legacy encoding: the base64 text of b"\xffsalt" and of b"\x00hash\xff".
        (
            "salt".to_owned(),
            AttributeValue::B(Blob::new(b"/3NhbHQ=".to_vec())),
        ),
        (
            "secret_key_hash".to_owned(),
            AttributeValue::B(Blob::new(b"AGhhc2j/".to_vec())),
        ),
    ])
}

#[tokio::test]
async fn raw_items_as_the_python_facade_writes_them_are_read_by_the_crate() {
    let Some((fixture, _clock, _)) = fixture("wire_raw_to_crate").await else {
        return;
    };
    let db = fixture.database();
    let client = db.client();
    let tables = db.table_names();
    for item in [
        wire_spec_row(
            "00000000001612345678#my-spec-name",
            "my-spec-name#00000000001612345678",
        ),
        wire_spec_row("latest#my-spec-name", "my-spec-name#latest"),
    ] {
        client
            .put_item()
            .table_name(&tables.specs)
            .set_item(Some(item))
            .send()
            .await
            .expect("put");
    }
    client
        .put_item()
        .table_name(&tables.credentials)
        .set_item(Some(wire_credentials_row()))
        .send()
        .await
        .expect("put");

    let spec = db
        .get_spec("wire-user", "my_spec.name")
        .await
        .expect("found");
    assert_eq!(
        (
            spec.id.as_str(),
            spec.name.as_str(),
            spec.updated_at,
            spec.version.as_str()
        ),
        ("my-spec-name", "My_Spec.Name", 1_612_345_678, "1.0.0")
    );
    assert_eq!(
        (spec.model_count, spec.title, spec.description),
        (3, None, None)
    );
    let versions = db
        .list_spec_versions("wire-user", "My_Spec.Name")
        .await
        .expect("found");
    assert_eq!(versions.len(), 1);
    assert_eq!(
        db.count_customer_models("wire-user")
            .await
            .expect("counted"),
        3
    );

    let creds = db
        .get_credentials("wire-user", "default")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(creds.salt, b"\xffsalt");
    let user = db.get_user("pk_wire").await.expect("read").expect("found");
    assert_eq!(
        (user.sub.as_str(), user.secret_key_hash.as_slice()),
        ("wire-user", &b"\x00hash\xff"[..])
    );

    db.delete_all("wire-user").await.expect("deleted");
    let left = client
        .scan()
        .table_name(&tables.specs)
        .send()
        .await
        .expect("scan");
    assert_eq!(left.count, 0);
    fixture.drop_tables().await.expect("tables dropped");
}

#[tokio::test]
async fn items_written_by_the_crate_are_exactly_the_python_facade_items() {
    let Some((fixture, clock, _)) = fixture("wire_crate_to_raw").await else {
        return;
    };
    let db = fixture.database();
    clock.set(1_612_345_678);
    db.create_update_spec(&NewSpec::new("wire-user", "My_Spec.Name", "1.0.0", 3))
        .await
        .expect("stored");
    db.create_update_credentials(&NewCredentials::new(
        "wire-user",
        "default",
        "pk_wire",
        b"\x00hash\xff".to_vec(),
        b"\xffsalt".to_vec(),
    ))
    .await
    .expect("stored");

    let client = db.client();
    let tables = db.table_names();
    let mut specs = client
        .scan()
        .table_name(&tables.specs)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    specs.sort_by_key(|item| format!("{:?}", item.get("updated_at_id")));
    assert_eq!(
        specs,
        vec![
            wire_spec_row(
                "00000000001612345678#my-spec-name",
                "my-spec-name#00000000001612345678"
            ),
            wire_spec_row("latest#my-spec-name", "my-spec-name#latest"),
        ],
        "no title or description attribute, model_count a number, keys as the wire example"
    );
    let creds = client
        .get_item()
        .table_name(&tables.credentials)
        .key("sub", s("wire-user"))
        .key("id", s("default"))
        .send()
        .await
        .expect("get")
        .item
        .expect("found");
    assert_eq!(creds, wire_credentials_row());
    fixture.drop_tables().await.expect("tables dropped");
}

#[tokio::test]
async fn plain_binary_encoding_stores_raw_bytes() {
    let Some((fixture, _clock, _)) = fixture_with("plain_encoding", |b| {
        b.with_binary_encoding(BinaryEncoding::Plain)
    })
    .await
    else {
        return;
    };
    let db = fixture.database();
    db.create_update_credentials(&NewCredentials::new(
        "u",
        "default",
        "pk_plain",
        vec![0xff],
        vec![0xfe],
    ))
    .await
    .expect("stored");
    let raw = db
        .client()
        .get_item()
        .table_name(&db.table_names().credentials)
        .key("sub", s("u"))
        .key("id", s("default"))
        .send()
        .await
        .expect("get")
        .item
        .expect("found");
    assert_eq!(
        raw.get("salt"),
        Some(&AttributeValue::B(Blob::new(vec![0xfe])))
    );
    let user = db.get_user("pk_plain").await.expect("read").expect("found");
    assert_eq!((user.salt, user.secret_key_hash), (vec![0xfe], vec![0xff]));
    fixture.drop_tables().await.expect("tables dropped");
}

#[tokio::test]
async fn created_tables_have_the_original_schema() {
    let Some((fixture, _clock, _)) = fixture("table_schema").await else {
        return;
    };
    let db = fixture.database();
    let describe = |name: String| {
        let client = db.client().clone();
        async move {
            client
                .describe_table()
                .table_name(name)
                .send()
                .await
                .expect("described")
                .table
                .expect("table")
        }
    };
    let specs = describe(db.table_names().specs.clone()).await;
    let keys: Vec<_> = specs
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name().to_owned(), k.key_type().clone()))
        .collect();
    assert_eq!(
        keys,
        [
            ("sub".to_owned(), KeyType::Hash),
            ("updated_at_id".to_owned(), KeyType::Range)
        ]
    );
    let lsi = &specs.local_secondary_indexes()[0];
    assert_eq!(lsi.index_name(), Some("idUpdatedAt"));
    assert_eq!(lsi.key_schema()[1].attribute_name(), "id_updated_at");
    assert_eq!(
        lsi.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::All)
    );
    assert_eq!(
        specs.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );

    let creds = describe(db.table_names().credentials.clone()).await;
    let keys: Vec<_> = creds
        .key_schema()
        .iter()
        .map(|k| k.attribute_name().to_owned())
        .collect();
    assert_eq!(keys, ["sub", "id"]);
    let gsi = &creds.global_secondary_indexes()[0];
    assert_eq!(gsi.index_name(), Some("publicKey"));
    assert_eq!(gsi.key_schema()[0].attribute_name(), "public_key");
    assert_eq!(
        gsi.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::All)
    );

    // Creating them again is reported, not ignored.
    assert!(matches!(
        db.create_tables().await,
        Err(Error::Storage {
            retryable: false,
            ..
        })
    ));
    fixture.drop_tables().await.expect("tables dropped");
}

#[tokio::test]
async fn fixture_cleans_between_tests_and_a_missing_table_is_a_storage_error() {
    let Some((fixture, clock, _)) = fixture("fixture_clean").await else {
        return;
    };
    let db = fixture.database().clone();
    for n in 0..60 {
        clock.set(scenarios::START + n);
        db.create_update_spec(&NewSpec::new(format!("u{}", n % 3), "s", "1", 1))
            .await
            .expect("stored");
    }
    fixture.clean().await.expect("cleaned");
    for sub in ["u0", "u1", "u2"] {
        assert!(db.list_specs(sub).await.expect("listed").is_empty());
    }
    fixture.drop_tables().await.expect("tables dropped");
    match db.list_specs("u0").await {
        Err(e @ Error::Storage { .. }) => assert!(!e.is_retryable(), "{e}"),
        other => panic!("expected a storage error, got {other:?}"),
    }
}
