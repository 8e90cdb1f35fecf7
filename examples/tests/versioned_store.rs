//! One conformance suite for every versioned store backend: local directory always, S3 against
//! the emulator.

#[path = "../../support/emulator.rs"]
mod emulator;

use bytes::Bytes;
use examples::store::{LocalStore, S3Store, VersionedStore};

async fn scenario_versions(store: &dyn VersionedStore) {
    assert!(store.versions("site.zinc").await.unwrap().is_empty());
    assert_eq!(store.get_at("site.zinc", None).await.unwrap(), None);

    let v1 = store
        .put("site.zinc", Bytes::from_static(b"one"))
        .await
        .unwrap();
    let v2 = store
        .put("site.zinc", Bytes::from_static(b"two"))
        .await
        .unwrap();
    assert_ne!(v1.version_id, v2.version_id);
    assert!(v1.modified <= v2.modified);

    let versions = store.versions("site.zinc").await.unwrap();
    let ids: Vec<_> = versions.iter().map(|v| v.version_id.clone()).collect();
    assert_eq!(
        ids,
        vec![v1.version_id.clone(), v2.version_id.clone()],
        "oldest first"
    );
    assert_eq!(versions[0].size, 3);

    assert_eq!(
        store.get_at("site.zinc", None).await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
    assert_eq!(
        store
            .get_version("site.zinc", &v1.version_id)
            .await
            .unwrap(),
        &b"one"[..]
    );
    // Before the first write nothing was visible.
    let before = v1.modified - time::Duration::seconds(5);
    assert_eq!(store.get_at("site.zinc", Some(before)).await.unwrap(), None);
    // At the first version's time, the first version is visible (unless both share a timestamp).
    if v1.modified < v2.modified {
        assert_eq!(
            store
                .get_at("site.zinc", Some(v1.modified))
                .await
                .unwrap()
                .as_deref(),
            Some(&b"one"[..])
        );
    }

    // Rolling back removes exactly one version.
    store
        .delete_version("site.zinc", &v2.version_id)
        .await
        .unwrap();
    assert_eq!(
        store.get_at("site.zinc", None).await.unwrap().as_deref(),
        Some(&b"one"[..])
    );

    // Keys are isolated, nested keys work, bad keys are refused.
    store
        .put("ts/p1.zinc", Bytes::from_static(b"series"))
        .await
        .unwrap();
    assert_eq!(store.versions("ts/p1.zinc").await.unwrap().len(), 1);
    assert_eq!(store.versions("site.zinc").await.unwrap().len(), 1);
    assert!(store.put("../escape", Bytes::new()).await.is_err());
    assert!(store.put("/abs", Bytes::new()).await.is_err());
}

#[tokio::test]
async fn local_store_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path()).unwrap();
    scenario_versions(&store).await;
    assert!(!dir.path().parent().unwrap().join("escape").exists());
}

#[tokio::test]
async fn s3_store_conformance() {
    let Some(config) = emulator::sdk_config("s3_store_conformance").await else {
        return;
    };
    let store = S3Store::new(&config, &emulator::unique_name("store"), "prefix");
    store.enable_versioning().await.unwrap();
    scenario_versions(&store).await;
}
