//! The store conformance suite on every backend (DynamoDB on the emulator).

#[path = "../../support/emulator.rs"]
mod emulator;

use cart_core::testing::conformance;
use cart_core::{MemoryStore, SqliteStore};

#[tokio::test]
async fn memory_store_conforms() {
    conformance(&MemoryStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("carts.db"))
        .await
        .unwrap();
    conformance(&store).await;
}

#[tokio::test]
async fn sqlite_store_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("carts.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let req = cart_core::testing::sample_request();
    let uid = cart_core::CartUid::new("durable").unwrap();
    let cart = cart_core::Cart::new(uid.clone(), req, cart_core::Timestamp::now());
    use cart_core::CartStore;
    let v = store.insert(&cart).await.unwrap();
    let mut changed = cart.clone();
    changed.message = "kept".into();
    store.save(&changed, v).await.unwrap();
    drop(store);
    let reopened = SqliteStore::open(&path).await.unwrap();
    let (back, _) = reopened.load(&uid).await.unwrap().unwrap();
    assert_eq!(back, changed);
}

#[tokio::test]
async fn dynamodb_store_conforms() {
    let Some(config) = emulator::sdk_config("dynamodb_store_conforms").await else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&config);
    let store = cart_core::DynamoDbStore::new(client, emulator::unique_name("carts"));
    store.create_table().await.unwrap();
    conformance(&store).await;
}

#[tokio::test]
async fn dynamodb_two_servers_share_work_through_leases() {
    use cart_core::testing::{Behavior, MemoryArchive};
    use cart_core::{CartStatus, Engine, EngineConfig};
    use std::sync::Arc;
    use std::time::Duration;
    let Some(config) = emulator::sdk_config("dynamodb_two_servers_share_work_through_leases").await
    else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = emulator::unique_name("shared");
    let store_a = cart_core::DynamoDbStore::new(client.clone(), &table);
    store_a.create_table().await.unwrap();
    let store_b = cart_core::DynamoDbStore::new(client, &table);
    let settings = |node: &str| EngineConfig {
        node_id: node.to_owned(),
        poll_initial: Duration::from_millis(20),
        poll_max: Duration::from_millis(50),
        ..EngineConfig::default()
    };
    let slow = Arc::new(MemoryArchive::new());
    slow.insert_with(
        "f",
        "data",
        Behavior {
            ready_after_polls: Some(u32::MAX),
            ..Behavior::default()
        },
    );
    let fast = Arc::new(MemoryArchive::new());
    fast.insert("f", "data");
    let vol_a = tempfile::tempdir().unwrap();
    let vol_b = tempfile::tempdir().unwrap();
    let a = Engine::builder(store_a, slow)
        .volume(vol_a.path())
        .config(settings("server-a"))
        .build()
        .unwrap();
    let b = Engine::builder(store_b, fast)
        .volume(vol_b.path())
        .config(settings("server-b"))
        .build()
        .unwrap();
    let uid = cart_core::CartUid::new(&emulator::unique_name("shared-cart")).unwrap();
    let req =
        cart_core::CartRequest::from_json(br#"{"fileids": [{"id": "f", "path": "f"}]}"#).unwrap();
    a.submit(uid.clone(), req).await.unwrap();
    let mut leased = false;
    for _ in 0..500 {
        let cart = b.status(&uid).await.unwrap().unwrap();
        if cart.status == CartStatus::Staging
            && cart.lease.as_ref().is_some_and(|l| l.owner == "server-a")
        {
            leased = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(leased, "server-a never claimed the cart");
    // server-a holds a live lease: server-b leaves the cart alone.
    assert!(b.recover().await.unwrap().resumed.is_empty());
    // server-a stops; server-b picks the cart up and finishes it.
    a.shutdown().await;
    assert_eq!(b.recover().await.unwrap().resumed, vec![uid.clone()]);
    let cart = b.wait_settled(&uid).await.unwrap();
    assert_eq!(cart.status, CartStatus::Ready, "{}", cart.message);
    assert!(cart.lease.is_none());
}

#[tokio::test]
async fn sqlite_errors_keep_their_source() {
    // A directory is not a database: the SQLite error itself is kept as the source.
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open(dir.path()).await.unwrap_err();
    assert!(
        matches!(err, cart_core::Error::Store { .. }),
        "{}",
        err.report()
    );
    let source = std::error::Error::source(&err).expect("a source");
    assert!(
        source.downcast_ref::<rusqlite::Error>().is_some(),
        "{source:?}"
    );
    assert!(
        err.report().starts_with("store error: sqlite: "),
        "{}",
        err.report()
    );
}

#[tokio::test]
async fn sqlite_schema_1_rows_are_read_and_rewritten_as_schema_2() {
    use cart_core::CartStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let req = cart_core::testing::sample_request();
    let uid = cart_core::CartUid::new("legacy").unwrap();
    let cart = cart_core::Cart::new(uid.clone(), req, cart_core::Timestamp::from_unix_millis(7));
    {
        // The table as the first release wrote it: the whole cart in `body`.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE carts (uid TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL,
             status TEXT NOT NULL, body TEXT NOT NULL)",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO carts VALUES (?1, 3, 'waiting', ?2)",
            rusqlite::params![uid.as_str(), serde_json::to_string(&cart).unwrap()],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let (back, v) = store.load(&uid).await.unwrap().unwrap();
    assert_eq!(back, cart);
    assert_eq!(v, cart_core::Version(4), "rewritten on first load");
    let listed = store.list().await.unwrap();
    assert_eq!(listed[0].file_count, 2);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let body: String = conn
        .query_row("SELECT body FROM carts", [], |r| r.get(0))
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["schema"], cart_core::store::SCHEMA_VERSION);
    assert_eq!(json["cart"]["files"], serde_json::json!([]));
    let files: i64 = conn
        .query_row("SELECT COUNT(*) FROM cart_files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(files, 2);
}
