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

/// The seed's bucket-to-bucket import: the source is copied server side after a HEAD/ETag
/// check, and read only to validate and diff it; an unchanged source is not read at all.
#[tokio::test]
async fn bucket_to_bucket_import_copies_and_counts_source_reads() {
    use examples::haystack::dataset::{open_for_import, open_for_serving};
    use examples::store::metrics::{S3Requests, s3_client};

    let Some(config) = emulator::sdk_config("bucket_to_bucket_import").await else {
        return;
    };
    let client = s3_client(&config);
    let src = emulator::unique_name("src");
    let dst = emulator::unique_name("dst");
    client.create_bucket().bucket(&src).send().await.unwrap();
    S3Store::new(&config, &dst, "")
        .enable_versioning()
        .await
        .unwrap();
    let put = |key: String, body: Vec<u8>| {
        let (client, src) = (client.clone(), src.clone());
        async move {
            client
                .put_object()
                .bucket(src)
                .key(key)
                .body(body.into())
                .send()
                .await
                .unwrap();
        }
    };
    // The sample under `sample/`, plus a point whose hisURI is an absolute s3:// URL, named by
    // two points.
    let site = sample::generate(datetime!(2024-06-01 12:00 UTC));
    let (abs_uri, abs_series) = site.series[0].clone();
    let abs_url = format!("s3://{src}/elsewhere/{abs_uri}");
    let mut dicts = site.entities.to_dicts();
    for n in 0..2 {
        let mut p = dicts.iter().find(|d| d.has("point")).unwrap().clone();
        p.insert("id", haystack_core::Ref::new(format!("abs{n}")).unwrap())
            .unwrap();
        p.insert("hisURI", Value::Uri(abs_url.as_str().into()))
            .unwrap();
        dicts.push(p);
    }
    let entities = haystack_core::Grid::from_dicts(dicts.iter());
    let mut zinc = haystack_zinc::to_string(&entities).into_bytes();
    put("sample/carytown.zinc".into(), zinc.clone()).await;
    for (uri, grid) in &site.series {
        put(
            format!("sample/{uri}"),
            haystack_zinc::to_string(grid).into_bytes(),
        )
        .await;
    }
    put(
        format!("elsewhere/{abs_uri}"),
        haystack_zinc::to_string(&abs_series).into_bytes(),
    )
    .await;
    let series_files = site.series.len() as u64 + 1;

    let source = format!("s3://{src}/sample/carytown.zinc");
    let target = format!("s3://{dst}");
    let counts = S3Requests::global();
    let db = open_for_import(&source, &target, None).await.unwrap();
    assert_eq!(db.name(), "carytown.zinc");

    // First import: read once (validate, diff, find the series), copied server side; every
    // series read once, the one named by two points too.
    let report = db.import(&source, &|_| {}).await.unwrap();
    assert!(
        report.changed && report.source_read && report.copied,
        "{report:?}"
    );
    assert_eq!(report.series_read as u64, series_files, "{report:?}");
    assert_eq!(counts.count("GetObject", &src), 1 + series_files);
    assert_eq!(
        counts.count("CopyObject", &dst),
        1,
        "{:?}",
        counts.for_bucket(&dst)
    );
    let copied = client
        .get_object()
        .bucket(&dst)
        .key("carytown.zinc")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(
        &copied[..],
        &zinc[..],
        "the file itself, under its own name"
    );

    // Unchanged: HEADs only, no GetObject on the source.
    let gets = counts.count("GetObject", &src);
    let report = db.import(&source, &|_| {}).await.unwrap();
    assert!(!report.changed && !report.source_read, "{report:?}");
    assert_eq!(report.series_skipped as u64, series_files, "{report:?}");
    assert_eq!(counts.count("GetObject", &src), gets, "no source read");
    assert_eq!(counts.count("CopyObject", &dst), 1);

    // A changed entity file: read once, copied again; the unchanged series are not read.
    let text = String::from_utf8(zinc)
        .unwrap()
        .replace("Headquarters", "Head Office");
    zinc = text.into_bytes();
    put("sample/carytown.zinc".into(), zinc.clone()).await;
    let report = db.import(&source, &|_| {}).await.unwrap();
    assert!(
        report.changed && report.source_read && report.copied,
        "{report:?}"
    );
    assert!(report.modified >= 1, "{report:?}");
    assert_eq!(counts.count("GetObject", &src), gets + 1);
    assert_eq!(counts.count("CopyObject", &dst), 2);
    println!(
        "bucket-to-bucket import: source {:?}, target {:?}",
        counts.for_bucket(&src),
        counts.for_bucket(&dst)
    );

    // Served by its file URL, absolute series included.
    let served = open_for_serving(&format!("{target}/carytown.zinc"), None, false)
        .await
        .unwrap();
    let snap = served.snapshot(None).await.unwrap().unwrap();
    assert!(snap.grid.rows().any(|r| r.dis() == Some("Head Office")));
    let his = served.series(&snap, &abs_url).await.unwrap().unwrap();
    assert_eq!(his.len(), abs_series.len());
}

/// hisURIs that are absolute (`http://...`, `/abs/path`) import, and a series named by several
/// points is fetched once.
#[tokio::test]
async fn absolute_his_uris_and_shared_series_are_fetched_once() {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    let files = tempfile::tempdir().unwrap();
    let site = sample::generate(datetime!(2024-06-01 12:00 UTC));
    let (uri, series) = site.series[0].clone();
    std::fs::create_dir_all(files.path().join("his")).unwrap();
    std::fs::write(files.path().join(&uri), haystack_zinc::to_string(&series)).unwrap();
    let local_abs = files.path().join("local-series.zinc");
    std::fs::write(&local_abs, haystack_zinc::to_string(&series)).unwrap();

    // A tiny HTTP file server that counts GETs per path.
    let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let root = files.path().to_path_buf();
    let h = hits.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (h, root) = (h.clone(), root.clone());
        async move {
            let path = uri.path().trim_start_matches('/').to_owned();
            *h.lock().unwrap().entry(path.clone()).or_default() += 1;
            match std::fs::read(root.join(&path)) {
                Ok(b) => (axum::http::StatusCode::OK, b),
                Err(_) => (axum::http::StatusCode::NOT_FOUND, Vec::new()),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let http_uri = format!("{base}/{uri}");
    let abs_path = local_abs.to_string_lossy().into_owned();
    let entities = format!(
        "ver:\"3.0\"\nid,point,his,tz,hisURI\n@a,M,M,\"New_York\",`{http_uri}`\n\
         @b,M,M,\"New_York\",`{http_uri}`\n@c,M,M,\"New_York\",`{abs_path}`\n\
         @d,M,M,\"New_York\",`{uri}`\n"
    );
    std::fs::write(files.path().join("abs.zinc"), entities).unwrap();
    let store = tempfile::tempdir().unwrap();
    let store_url = store.path().to_string_lossy().into_owned();
    let db =
        examples::haystack::dataset::open_for_import(&format!("{base}/abs.zinc"), &store_url, None)
            .await
            .unwrap();
    let report = db
        .import(&format!("{base}/abs.zinc"), &|_| {})
        .await
        .unwrap();
    assert!(report.changed, "{report:?}");
    assert_eq!(
        report.series_updated.len(),
        3,
        "three distinct series: {report:?}"
    );
    assert_eq!(
        hits.lock().unwrap().get(&uri),
        Some(&2),
        "absolute and relative: one GET each"
    );
    assert_eq!(hits.lock().unwrap().get("abs.zinc"), Some(&1));
    let snap = db.snapshot(None).await.unwrap().unwrap();
    for his_uri in [&http_uri, &abs_path, &uri] {
        let got = db.series(&snap, his_uri).await.unwrap().unwrap();
        assert_eq!(got.len(), series.len(), "{his_uri}");
    }
}

/// Past the single-copy size the copy goes in parts (UploadPartCopy); the bound is lowered here
/// so that an 11 MiB object takes three parts.
#[tokio::test]
async fn large_copies_go_in_parts() {
    use examples::haystack::s3source::{S3Location, copy, head};
    use examples::store::metrics::{S3Requests, s3_client};

    let Some(config) = emulator::sdk_config("large_copies_go_in_parts").await else {
        return;
    };
    let client = s3_client(&config);
    let src = emulator::unique_name("bigsrc");
    let dst = emulator::unique_name("bigdst");
    client.create_bucket().bucket(&src).send().await.unwrap();
    S3Store::new(&config, &dst, "")
        .enable_versioning()
        .await
        .unwrap();
    let body: Vec<u8> = (0..11u32 << 20).map(|i| (i % 251) as u8).collect();
    client
        .put_object()
        .bucket(&src)
        .key("big.zinc")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let loc = S3Location {
        bucket: src.clone(),
        key: "big.zinc".into(),
    };
    let h = head(&loc).await.unwrap();
    assert_eq!(h.size, body.len() as u64);
    let version = copy(&client, &loc, &h, &dst, "big.zinc", 5 << 20, 5 << 20)
        .await
        .unwrap();
    assert!(!version.is_empty());
    assert_eq!(S3Requests::global().count("UploadPartCopy", &dst), 3);
    assert_eq!(S3Requests::global().count("CopyObject", &dst), 0);
    let copied = client
        .get_object()
        .bucket(&dst)
        .key("big.zinc")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert!(copied[..] == body[..], "the parts join to the original");

    // (The copies are conditional on the HEAD's ETag; moto 5.2.5 does not check
    // x-amz-copy-source-if-match, so that is not asserted here.)
}
