//! End-to-end: import the sample into a versioned store (local directory and S3 on the
//! emulator), serve it over real HTTP, and read it at the present and a past version.

#[path = "../../support/emulator.rs"]
mod emulator;

use std::sync::Arc;
use std::time::Duration;

use examples::haystack::db::Db;
use examples::haystack::{sample, server};
use examples::store::{LocalStore, S3Store, VersionedStore};
use haystack_core::{Grid, Value};
use time::OffsetDateTime;
use time::macros::datetime;

const END: OffsetDateTime = datetime!(2024-06-01 12:00 UTC);

fn fixed_now() -> OffsetDateTime {
    END
}

async fn serve(db: Arc<Db>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, server::router_with_clock(db, fixed_now))
            .await
            .unwrap();
    });
    format!("http://{addr}")
}

async fn get_zinc(client: &reqwest::Client, url: &str) -> Grid {
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    let text = resp.text().await.unwrap();
    haystack_zinc::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}\n{text}"))
}

fn is_err(grid: &Grid) -> bool {
    grid.meta().has("err")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn scenario(store: Arc<dyn VersionedStore>, bucket: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let mut site = sample::generate(END);
    let site_path = sample::write_to(dir.path(), &site).unwrap();
    let source = site_path.to_string_lossy().into_owned();
    let db = Arc::new(Db::new(store.clone(), store.clone()));

    // First import writes a version; the second is a no-op.
    let first = db.import(&source, &|_| {}).await.unwrap();
    assert!(first.changed);
    assert_eq!(first.added, site.entities.len());
    assert_eq!(first.series_updated.len(), site.series.len());
    let again = db.import(&source, &|_| {}).await.unwrap();
    assert!(!again.changed, "{again:?}");
    assert_eq!(store.versions(&db.manifest_key()).await.unwrap().len(), 1);

    // An import whose series is missing fails and changes nothing.
    let broken = dir.path().join("broken.zinc");
    std::fs::write(
        &broken,
        "ver:\"3.0\"\nid,point,his,tz,hisURI\n@x,M,M,\"UTC\",`his/missing.zinc`\n",
    )
    .unwrap();
    assert!(db.import(&broken.to_string_lossy(), &|_| {}).await.is_err());
    assert_eq!(store.versions(&db.manifest_key()).await.unwrap().len(), 1);
    let v1_time = store.versions(&db.manifest_key()).await.unwrap()[0].modified;

    // S3 listings have one-second resolution: let a second pass between the two versions.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // A change: rename the first site, and a series file that starts later than the stored one.
    let mut dicts = site.entities.to_dicts();
    dicts[0].insert("dis", "Renamed HQ").unwrap();
    site.entities = Grid::from_dicts(dicts.iter());
    let (uri, full) = site.series[0].clone();
    let mut later = full.to_dicts().split_off(90); // last 6 of 96 points
    let mut extra = later[0].clone();
    let last_ts = full
        .row(full.len() - 1)
        .unwrap()
        .get("ts")
        .unwrap()
        .as_datetime()
        .unwrap()
        .clone();
    let next = haystack_core::timezone::Tz::from_name(last_ts.tz())
        .unwrap()
        .datetime(last_ts.offset_date_time() + time::Duration::minutes(15))
        .unwrap();
    extra.insert("ts", next).unwrap();
    extra
        .insert("val", haystack_core::Number::with_unit(99.0, "°F"))
        .unwrap();
    later.push(extra);
    site.series[0].1 = Grid::from_dicts(later.iter());
    sample::write_to(dir.path(), &site).unwrap();
    let second = db.import(&source, &|_| {}).await.unwrap();
    assert!(second.changed);
    assert_eq!(second.modified, 1, "{second:?}");
    assert_eq!(second.series_updated, vec![uri.clone()]);
    let v2_time = store.versions(&db.manifest_key()).await.unwrap()[1].modified;
    assert!(v2_time > v1_time);

    let base = serve(db.clone()).await;
    let client = reqwest::Client::new();

    // The present and the past.
    let now = get_zinc(&client, &format!("{base}/read?filter=site")).await;
    assert_eq!(now.len(), 3);
    assert!(now.rows().any(|r| r.dis() == Some("Renamed HQ")));
    // The first whole second at or after the first version (and before the second, which came
    // more than a second later): the parameter has whole seconds only.
    let whole = v1_time.replace_nanosecond(0).unwrap();
    let past_time = if whole < v1_time {
        whole + time::Duration::seconds(1)
    } else {
        whole
    };
    assert!(past_time < v2_time);
    let past_at = past_time
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let past_param = &past_at[..19]; // yyyy-MM-ddTHH:mm:ss
    let past = get_zinc(
        &client,
        &format!("{base}/read?filter=site&Version={past_param}"),
    )
    .await;
    assert!(!is_err(&past), "{past:?}");
    assert!(
        past.rows().any(|r| r.dis() == Some("Headquarters")),
        "version parameter is honoured (any case)"
    );
    assert!(!past.rows().any(|r| r.dis() == Some("Renamed HQ")));
    let before = get_zinc(
        &client,
        &format!("{base}/read?filter=site&version=2000-01-01"),
    )
    .await;
    assert_eq!(before.len(), 0, "nothing existed in 2000");

    // Limit, read by id (unknown id gives a null row), bad filter as an error grid.
    let limited = get_zinc(&client, &format!("{base}/read?filter=point&limit=2")).await;
    assert_eq!(limited.len(), 2);
    let by_id = get_zinc(&client, &format!("{base}/read?id={}", enc("@nope"))).await;
    assert_eq!(by_id.len(), 1);
    assert!(by_id.row(0).unwrap().cells().all(Value::is_null));
    let bad = get_zinc(
        &client,
        &format!("{base}/read?filter={}", enc("site and (")),
    )
    .await;
    assert!(is_err(&bad));

    // POST a request grid.
    let post = client
        .post(format!("{base}/read"))
        .header("Content-Type", "text/zinc")
        .body("ver:\"3.0\"\nid\n@hq\n@nope\n")
        .send()
        .await
        .unwrap();
    let post = haystack_zinc::from_str(&post.text().await.unwrap()).unwrap();
    assert_eq!(post.len(), 2);
    assert_eq!(post.row(0).unwrap().dis(), Some("Renamed HQ"));

    // nav: sites, then a site's equips, then an equip's points.
    let sites = get_zinc(&client, &format!("{base}/nav")).await;
    assert_eq!(sites.len(), 3);
    let equips = get_zinc(&client, &format!("{base}/nav?navId={}", enc("@hq"))).await;
    assert_eq!(equips.len(), 2);
    let points = get_zinc(&client, &format!("{base}/nav?navId={}", enc("@hq.ahu1"))).await;
    assert_eq!(points.len(), 3);

    // hisRead: across the version boundary, and every range form.
    let point_id = format!(
        "@{}",
        uri.trim_start_matches("his/").trim_end_matches(".zinc")
    );
    let his_now = get_zinc(
        &client,
        &format!(
            "{base}/hisRead?id={}&range=2024-05-31,2024-06-01",
            enc(&point_id)
        ),
    )
    .await;
    assert_eq!(his_now.len(), 97, "96 stored points kept plus one new");
    let his_past = get_zinc(
        &client,
        &format!(
            "{base}/hisRead?id={}&range=2024-05-31,2024-06-01&version={past_param}",
            enc(&point_id)
        ),
    )
    .await;
    assert_eq!(his_past.len(), 96);
    let today = get_zinc(
        &client,
        &format!("{base}/hisRead?id={}&range=today", enc(&point_id)),
    )
    .await;
    let yesterday = get_zinc(
        &client,
        &format!("{base}/hisRead?id={}&range=yesterday", enc(&point_id)),
    )
    .await;
    assert_eq!(
        today.len() + yesterday.len(),
        97,
        "the sample spans yesterday and today in the point's zone"
    );
    let one_day = get_zinc(
        &client,
        &format!("{base}/hisRead?id={}&range=2024-06-01", enc(&point_id)),
    )
    .await;
    assert_eq!(one_day.len(), today.len());
    let from = get_zinc(
        &client,
        &format!(
            "{base}/hisRead?id={}&range={}",
            enc(&point_id),
            enc("2024-06-01T11:00:00Z UTC")
        ),
    )
    .await;
    assert_eq!(
        from.len(),
        5,
        "11:00, 11:15, 11:30, 11:45 and the new 12:00 point"
    );
    let between = get_zinc(
        &client,
        &format!(
            "{base}/hisRead?id={}&range={}",
            enc(&point_id),
            enc("2024-06-01T11:00:00Z UTC,2024-06-01T11:30:00Z UTC")
        ),
    )
    .await;
    assert_eq!(between.len(), 2, "start inclusive, end exclusive");
    let bad_range = get_zinc(
        &client,
        &format!("{base}/hisRead?id={}&range=someday", enc(&point_id)),
    )
    .await;
    assert!(is_err(&bad_range));

    // Content types.
    for (accept, mime) in [
        ("application/json", "application/json"),
        (
            "application/json; version=3",
            "application/vnd.haystack+json;version=3",
        ),
        (
            "application/vnd.haystack+json;version=4",
            "application/vnd.haystack+json;version=4",
        ),
        ("text/trio", "text/trio"),
        ("text/csv", "text/csv"),
        ("text/zinc", "text/zinc"),
    ] {
        let resp = client
            .get(format!("{base}/read?filter=site"))
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let ctype = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ctype.starts_with(mime), "{accept}: {ctype}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("Renamed HQ"), "{accept}: {body}");
        if accept == "application/json" {
            assert!(body.contains("\"_kind\""), "{body}");
        }
        if accept.contains("version=3") {
            assert!(body.contains("\"m:\""), "{body}");
        }
    }
    let refused = client
        .get(format!("{base}/about"))
        .header("Accept", "image/png")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 406);
    let about = get_zinc(&client, &format!("{base}/about")).await;
    assert_eq!(
        about
            .row(0)
            .unwrap()
            .get("entityCount")
            .and_then(Value::as_number)
            .map(|n| n.value()),
        Some(site.entities.len() as f64)
    );
    let ops = get_zinc(&client, &format!("{base}/ops")).await;
    assert!(ops.len() >= 6);
    let unknown = client.get(format!("{base}/nosuch")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    // S3 requests per read and per hisRead once warm: the manifest listing is cached for a
    // short TTL, manifests and parsed series by version id.
    if let Some(bucket) = bucket {
        // A fresh server on the store: nothing cached by the imports above.
        let base = serve(Arc::new(Db::new(store.clone(), store.clone()))).await;
        get_zinc(&client, &format!("{base}/about")).await;
        let counts = examples::store::metrics::S3Requests::global();
        let before = counts.total(bucket);
        for _ in 0..10 {
            get_zinc(&client, &format!("{base}/read?filter=site")).await;
        }
        let reads = counts.total(bucket) - before;
        assert!(reads <= 1, "10 reads cost {reads} S3 requests");
        let other = site.series[1]
            .0
            .trim_start_matches("his/")
            .trim_end_matches(".zinc");
        let url = format!(
            "{base}/hisRead?id={}&range=2024-05-31,2024-06-01",
            enc(&format!("@{other}"))
        );
        let before = counts.count("GetObject", bucket);
        let first = get_zinc(&client, &url).await;
        assert_eq!(first.len(), 96);
        let first_gets = counts.count("GetObject", bucket) - before;
        assert_eq!(first_gets, 1, "the one series object it needs");
        for _ in 0..10 {
            get_zinc(&client, &url).await;
        }
        let again = counts.count("GetObject", bucket) - before - first_gets;
        assert_eq!(again, 0, "a parsed series is not fetched again");
        println!(
            "S3 requests: 10 reads {reads}, first hisRead {first_gets} GetObject, 10 more {again}"
        );
    }
}

#[tokio::test]
async fn haystack_server_on_local_store() {
    let dir = tempfile::tempdir().unwrap();
    scenario(Arc::new(LocalStore::open(dir.path()).unwrap()), None).await;
}

#[tokio::test]
async fn haystack_server_on_s3() {
    let Some(config) = emulator::sdk_config("haystack_server_on_s3").await else {
        return;
    };
    let bucket = emulator::unique_name("haystack");
    let store = S3Store::new(&config, &bucket, "db");
    store.enable_versioning().await.unwrap();
    scenario(Arc::new(store), Some(&bucket)).await;
}
