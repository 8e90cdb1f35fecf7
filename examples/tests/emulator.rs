//! Proof that the test harness reaches a real AWS protocol emulator: S3 object versioning and
//! DynamoDB local and global secondary indexes with pagination.

#[path = "../../support/emulator.rs"]
mod emulator;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

#[tokio::test]
async fn s3_versioned_bucket_keeps_old_versions() {
    let Some(config) = emulator::sdk_config("s3_versioned_bucket_keeps_old_versions").await else {
        return;
    };
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = emulator::unique_name("proof");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let mut version_ids = Vec::new();
    for body in ["first", "second"] {
        let put = s3
            .put_object()
            .bucket(&bucket)
            .key("site.zinc")
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .unwrap();
        version_ids.push(
            put.version_id()
                .expect("versioned put returns a version id")
                .to_owned(),
        );
    }
    assert_ne!(version_ids[0], version_ids[1]);

    let versions = s3
        .list_object_versions()
        .bucket(&bucket)
        .prefix("site.zinc")
        .send()
        .await
        .unwrap();
    let listed: Vec<&str> = versions
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .collect();
    assert_eq!(listed.len(), 2, "both versions listed: {listed:?}");
    for id in &version_ids {
        assert!(listed.contains(&id.as_str()), "{id} listed");
    }

    let old = s3
        .get_object()
        .bucket(&bucket)
        .key("site.zinc")
        .version_id(&version_ids[0])
        .send()
        .await
        .unwrap();
    let bytes = old.body.collect().await.unwrap().into_bytes();
    assert_eq!(&bytes[..], b"first");

    let latest = s3
        .get_object()
        .bucket(&bucket)
        .key("site.zinc")
        .send()
        .await
        .unwrap();
    assert_eq!(
        &latest.body.collect().await.unwrap().into_bytes()[..],
        b"second"
    );
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

#[tokio::test]
async fn dynamodb_indexes_and_pagination() {
    let Some(config) = emulator::sdk_config("dynamodb_indexes_and_pagination").await else {
        return;
    };
    let db = aws_sdk_dynamodb::Client::new(&config);
    let table = emulator::unique_name("proof");
    let all = Projection::builder()
        .projection_type(ProjectionType::All)
        .build();
    db.create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("sub"))
        .attribute_definitions(attr("updated_at_id"))
        .attribute_definitions(attr("id_updated_at"))
        .attribute_definitions(attr("public_key"))
        .key_schema(key("sub", KeyType::Hash))
        .key_schema(key("updated_at_id", KeyType::Range))
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("idUpdatedAt")
                .key_schema(key("sub", KeyType::Hash))
                .key_schema(key("id_updated_at", KeyType::Range))
                .projection(all.clone())
                .build()
                .unwrap(),
        )
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("publicKey")
                .key_schema(key("public_key", KeyType::Hash))
                .projection(all)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    for i in 0..7 {
        let p = format!("{:020}", 1_600_000_000 + i);
        let id = if i % 2 == 0 { "spec-a" } else { "spec-b" };
        db.put_item()
            .table_name(&table)
            .item("sub", AttributeValue::S("user".into()))
            .item("updated_at_id", AttributeValue::S(format!("{p}#{id}")))
            .item("id_updated_at", AttributeValue::S(format!("{id}#{p}")))
            .item("public_key", AttributeValue::S(format!("pk_{i}")))
            .send()
            .await
            .unwrap();
    }

    // Query the LSI with begins_with, two items a page, following LastEvaluatedKey.
    let mut found = Vec::new();
    let mut pages = 0;
    let mut start = None;
    loop {
        let out = db
            .query()
            .table_name(&table)
            .index_name("idUpdatedAt")
            .key_condition_expression("#s = :s AND begins_with(#k, :p)")
            .expression_attribute_names("#s", "sub")
            .expression_attribute_names("#k", "id_updated_at")
            .expression_attribute_values(":s", AttributeValue::S("user".into()))
            .expression_attribute_values(":p", AttributeValue::S("spec-a#".into()))
            .limit(2)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        pages += 1;
        for item in out.items() {
            if let Some(AttributeValue::S(k)) = item.get("id_updated_at") {
                found.push(k.clone());
            }
        }
        start = out.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(
        pages >= 2,
        "a Limit of 2 over 4 items takes several pages, got {pages}"
    );
    let mut sorted = found.clone();
    sorted.sort();
    assert_eq!(found, sorted, "LSI query returns items in sort-key order");

    // Query the GSI.
    let out = db
        .query()
        .table_name(&table)
        .index_name("publicKey")
        .key_condition_expression("public_key = :k")
        .expression_attribute_values(":k", AttributeValue::S("pk_3".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.items().len(), 1);
    assert_eq!(
        out.items()[0].get("updated_at_id"),
        Some(&AttributeValue::S(format!("{:020}#spec-b", 1_600_000_003)))
    );
}
