//! The sink conformance suite, run on every sink: memory and JSON lines always, S3 and
//! DynamoDB against the emulator (`scripts/test -p datasource-sdk`).

#[path = "../../support/emulator.rs"]
#[allow(missing_docs)]
mod emulator;

use std::sync::Arc;

use datasource_sdk::testing::{Suite, run_all};
use datasource_sdk::{JsonLinesSink, MemorySink};
use futures::FutureExt;

fn tables() -> [String; 2] {
    ["alpha".to_owned(), "beta".to_owned()]
}

#[tokio::test]
async fn memory_sink_conforms() {
    let sink = Arc::new(MemorySink::new());
    let reader = Arc::clone(&sink);
    let suite = Suite {
        sink: sink.clone(),
        read_back: Arc::new(move |table| {
            let r = reader.records(&table);
            async move { r }.boxed()
        }),
        tables: tables(),
        ordered: true,
    };
    run_all(&suite).await.unwrap();
    assert_eq!(sink.duplicates(), 1, "the redelivered batch was dropped");
}

#[tokio::test]
async fn json_lines_sink_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let sink = JsonLinesSink::new(&path, 512).unwrap();
    let suite = Suite {
        sink: Arc::new(sink),
        read_back: Arc::new(move |table| {
            let r = JsonLinesSink::read_table(&path, &table);
            async move { r }.boxed()
        }),
        tables: tables(),
        ordered: true,
    };
    run_all(&suite).await.unwrap();
    assert!(
        JsonLinesSink::files(dir.path(), "alpha").unwrap().len() > 1,
        "rotated at 512 bytes"
    );
}

#[cfg(feature = "s3")]
#[tokio::test]
async fn s3_sink_conforms() {
    let Some(config) = emulator::sdk_config("s3_sink_conforms").await else {
        return;
    };
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = emulator::unique_name("sink");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let sink = Arc::new(datasource_sdk::S3Sink::new(client, &bucket).with_prefix("runs/1"));
    let reader = Arc::clone(&sink);
    let suite = Suite {
        sink: sink.clone(),
        read_back: Arc::new(move |table| {
            let reader = Arc::clone(&reader);
            async move { reader.read_table(&table).await }.boxed()
        }),
        tables: tables(),
        ordered: true,
    };
    run_all(&suite).await.unwrap();
}

#[cfg(feature = "dynamodb")]
#[tokio::test]
async fn dynamodb_sink_conforms() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let Some(config) = emulator::sdk_config("dynamodb_sink_conforms").await else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&config);
    let prefix = format!("{}-", emulator::unique_name("sink"));
    for table in tables() {
        client
            .create_table()
            .table_name(format!("{prefix}{table}"))
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let sink = Arc::new(datasource_sdk::DynamoDbSink::new(client, &prefix));
    let reader = Arc::clone(&sink);
    let suite = Suite {
        sink: sink.clone(),
        read_back: Arc::new(move |table| {
            let reader = Arc::clone(&reader);
            async move { reader.read_table(&table).await }.boxed()
        }),
        tables: tables(),
        ordered: false,
    };
    run_all(&suite).await.unwrap();
    // More than 25 records in one batch: several BatchWriteItem calls.
    let records: Vec<Vec<u8>> = (0..60)
        .map(|n| {
            serde_json::to_vec(&serde_json::json!({"id": format!("big-{n}"), "n": n})).unwrap()
        })
        .collect();
    let batch = datasource_sdk::Batch::new(
        datasource_sdk::BatchId { writer: 9, seq: 9 },
        "alpha",
        records,
    );
    use datasource_sdk::Sink;
    sink.deliver(&batch).await.unwrap();
    let stored = sink.read_table("alpha").await.unwrap();
    let big = stored
        .iter()
        .filter(|r| r["id"].as_str().is_some_and(|s| s.starts_with("big-")))
        .count();
    assert_eq!(big, 60);
}

#[cfg(feature = "dynamodb")]
async fn dynamodb_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Two records of one batch with the same key are put once (the last wins), and one invalid
/// item among 40 is isolated by bisection and goes to the dead-letter sink while the 39 others
/// are written.
#[cfg(feature = "dynamodb")]
#[tokio::test]
async fn dynamodb_sink_deduplicates_keys_and_isolates_a_bad_item() {
    use datasource_sdk::{Batch, BatchId, Sink};
    use serde_json::json;
    let Some(config) =
        emulator::sdk_config("dynamodb_sink_deduplicates_keys_and_isolates_a_bad_item").await
    else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&config);
    let prefix = format!("{}-", emulator::unique_name("dedupe"));
    dynamodb_table(&client, &format!("{prefix}t")).await;
    let dead = Arc::new(MemorySink::new());
    let sink =
        datasource_sdk::DynamoDbSink::new(client, &prefix).with_dead_letter(Arc::clone(&dead));
    let enc = |v: serde_json::Value| serde_json::to_vec(&v).unwrap();

    let dupes = vec![
        enc(json!({"id": "d1", "v": 1})),
        enc(json!({"id": "d1", "v": 1})),
        enc(json!({"id": "d2", "v": 1})),
        enc(json!({"id": "d1", "v": 2})),
    ];
    sink.deliver(&Batch::new(BatchId { writer: 1, seq: 1 }, "t", dupes))
        .await
        .unwrap();
    let stored = sink.read_table("t").await.unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
    let d1 = stored.iter().find(|r| r["id"] == "d1").unwrap();
    assert_eq!(d1["v"], 2, "the last record with a key wins");

    let mut records: Vec<Vec<u8>> = (0..40)
        .map(|n| enc(json!({"id": format!("ok-{n}")})))
        .collect();
    // An empty string is not a valid key value.
    records[17] = enc(json!({"id": "", "bad": true}));
    sink.deliver(&Batch::new(BatchId { writer: 1, seq: 2 }, "t", records))
        .await
        .unwrap();
    let stored = sink.read_table("t").await.unwrap();
    let ok = stored
        .iter()
        .filter(|r| r["id"].as_str().is_some_and(|s| s.starts_with("ok-")))
        .count();
    assert_eq!(ok, 39);
    assert_eq!(
        dead.records("t").unwrap(),
        vec![json!({"id": "", "bad": true})]
    );
}
