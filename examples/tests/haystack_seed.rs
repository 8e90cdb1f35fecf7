//! The seed's workflow, word for word, with the built binaries: `haystack-import carytown.zinc
//! s3://B` publishes the file under its own name, `HAYSTACK_DB=s3://B/carytown.zinc` serves it,
//! a second dataset lives side by side in the same bucket, and a `HAYSTACK_DB` that names
//! nothing is an error at start. The same on a local directory.

#[path = "../../support/emulator.rs"]
mod emulator;
mod haystack_support;

use examples::haystack::sample;
use examples::store::S3Store;
use haystack_core::Value;
use haystack_support::{get_zinc, run_import, spawn_server};
use time::macros::datetime;

/// Writes `carytown.zinc` (the sample site, its series under `his/`) and `other.zinc` into a
/// fresh directory.
fn sources() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let site = sample::write_to(
        dir.path(),
        &sample::generate(datetime!(2024-06-01 12:00 UTC)),
    )
    .unwrap();
    let carytown = dir.path().join("carytown.zinc");
    std::fs::rename(site, &carytown).unwrap();
    let other = dir.path().join("other.zinc");
    std::fs::write(
        &other,
        "ver:\"3.0\"\nid,site,dis\n@o1,M,\"Other site\"\n@o2,M,\"Second other\"\n",
    )
    .unwrap();
    let s = |p: &std::path::Path| p.to_string_lossy().into_owned();
    (dir, s(&carytown), s(&other))
}

fn ok(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The workflow against the store at `base` (`s3://bucket` or a directory).
async fn seed_workflow(base: &str) {
    let (_dir, carytown, other) = sources();
    let client = reqwest::Client::new();

    // `haystack-import carytown.zinc s3://B`, then the second dataset beside it.
    let out = ok(&run_import(&[&carytown, base], &[]));
    assert!(out.contains("carytown.zinc: new version"), "{out}");
    let out = ok(&run_import(&[&other, base], &[]));
    assert!(out.contains("other.zinc: new version"), "{out}");
    let again = ok(&run_import(&[&carytown, base], &[]));
    assert!(again.contains("carytown.zinc: unchanged"), "{again}");

    // `HAYSTACK_DB=s3://B/carytown.zinc` serves the file's content.
    let db = format!("{base}/carytown.zinc");
    let server = spawn_server(&[], &[("HAYSTACK_DB", &db)]).unwrap();
    let sites = get_zinc(&client, &format!("{}/read?filter=site", server.base)).await;
    assert_eq!(sites.len(), 3, "the sample has three sites");
    assert!(sites.rows().any(|r| r.dis() == Some("Headquarters")));
    let points = get_zinc(
        &client,
        &format!("{}/read?filter=point%20and%20his", server.base),
    )
    .await;
    let point = points.row(0).unwrap().id().unwrap().clone();
    let his = get_zinc(
        &client,
        &format!(
            "{}/hisRead?id=%40{}&range=2024-05-31,2024-06-01",
            server.base,
            point.id()
        ),
    )
    .await;
    assert!(!his.meta().has("err"), "{:?}", his.meta());
    assert_eq!(his.len(), 96, "the series came along");
    drop(server);

    // The other dataset in the same store.
    let db = format!("{base}/other.zinc");
    let server = spawn_server(&[], &[("HAYSTACK_DB", &db)]).unwrap();
    let sites = get_zinc(&client, &format!("{}/read?filter=site", server.base)).await;
    let names: Vec<_> = sites.rows().filter_map(|r| r.dis()).collect();
    assert_eq!(names, ["Other site", "Second other"]);
    let about = get_zinc(&client, &format!("{}/about", server.base)).await;
    assert_eq!(
        about.row(0).unwrap().get("entityCount"),
        Some(&Value::from(2.0))
    );
    drop(server);

    // A HAYSTACK_DB that names nothing is an error at start, never an empty server.
    let nothing = format!("{base}/nothing.zinc");
    let err = spawn_server(&[], &[("HAYSTACK_DB", &nothing)])
        .err()
        .expect("no server on a dataset never imported");
    assert!(err.contains("names nothing"), "{err}");
    assert!(err.contains("carytown.zinc, other.zinc"), "{err}");
    let err = spawn_server(&[], &[("HAYSTACK_DB", base)])
        .err()
        .expect("a store of two datasets does not say which");
    assert!(err.contains("several datasets"), "{err}");
}

#[tokio::test]
async fn seed_workflow_on_a_local_directory() {
    let store = tempfile::tempdir().unwrap();
    let base = store.path().join("db").to_string_lossy().into_owned();
    seed_workflow(&base).await;
    let missing = store.path().join("missing").join("carytown.zinc");
    let err = spawn_server(&[], &[("HAYSTACK_DB", &missing.to_string_lossy())])
        .err()
        .expect("no server on a missing directory");
    assert!(err.contains("no store directory"), "{err}");
}

#[tokio::test]
async fn seed_workflow_on_s3() {
    let Some(config) = emulator::sdk_config("seed_workflow_on_s3").await else {
        return;
    };
    let bucket = emulator::unique_name("seed");
    S3Store::new(&config, &bucket, "")
        .enable_versioning()
        .await
        .unwrap();
    seed_workflow(&format!("s3://{bucket}")).await;
    let missing = format!("s3://{}/carytown.zinc", emulator::unique_name("missing"));
    let err = spawn_server(&[], &[("HAYSTACK_DB", &missing)])
        .err()
        .expect("no server on a missing bucket");
    assert!(err.contains("does not exist"), "{err}");
}
