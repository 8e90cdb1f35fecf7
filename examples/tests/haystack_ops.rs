//! The write and watch ops over real HTTP against an in-process server: batch hisRead,
//! hisWrite (new series version, timezone/kind/unit checks), pointWrite (levels, `who`,
//! `duration` expiry on the server's clock, read form, curVal in `read`), watches, and `ops`
//! listing exactly what is served.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use examples::haystack::client::{Client, ClientError};
use examples::haystack::db::Db;
use examples::haystack::{sample, server};
use examples::store::{LocalStore, VersionedStore};
use haystack_core::{Dict, Grid, GridBuilder, Number, Ref, Value};
use time::OffsetDateTime;
use time::macros::datetime;

static CLOCK: AtomicI64 = AtomicI64::new(1_717_243_200); // 2024-06-01 12:00 UTC

fn clock() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(CLOCK.load(Ordering::SeqCst)).unwrap()
}

async fn serve(dir: &std::path::Path) -> (String, Arc<Db>, Arc<dyn VersionedStore>) {
    let mut site = sample::generate(datetime!(2024-06-01 12:00 UTC));
    let mut sp = Dict::new();
    let _ = sp.insert("id", Ref::new("hq.sp").unwrap());
    for m in ["point", "writable", "sp"] {
        let _ = sp.insert(m, Value::Marker);
    }
    let _ = sp.insert("kind", "Number");
    let _ = sp.insert("unit", "°F");
    let _ = sp.insert("tz", "New_York");
    let _ = sp.insert("curVal", Number::with_unit(70.0, "°F"));
    site.entities.push_dict(&sp).unwrap();
    let src = sample::write_to(&dir.join("src"), &site).unwrap();
    let store: Arc<dyn VersionedStore> = Arc::new(LocalStore::open(dir.join("db")).unwrap());
    let db = Arc::new(Db::new(store.clone(), store.clone()));
    db.import(&src.to_string_lossy(), &|_| {}).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = server::router_with_clock(db.clone(), clock);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), db, store)
}

fn grid(meta: &[(&str, Value)], cols: &[&str], rows: Vec<Vec<Value>>) -> Grid {
    let mut b = GridBuilder::new();
    for (k, v) in meta {
        b = b.meta_tag(*k, v.clone());
    }
    for c in cols {
        b = b.col(*c);
    }
    b.rows(rows).build().unwrap()
}

fn r(id: &str) -> Value {
    Value::Ref(Ref::new(id).unwrap())
}

fn num(v: f64, unit: &str) -> Value {
    Value::Number(Number::with_unit(v, unit))
}

fn ny(text: &str) -> Value {
    haystack_core::zinc::read_scalar(&format!("{text} New_York")).unwrap()
}

fn err_of(res: Result<Grid, ClientError>) -> String {
    match res {
        Err(ClientError::ErrorGrid { dis, .. }) => dis,
        other => panic!("expected an error grid, got {other:?}"),
    }
}

async fn cur_val(c: &Client, id: &str) -> Option<Value> {
    let g = c
        .call("read", Some(&grid(&[], &["id"], vec![vec![r(id)]])))
        .await
        .unwrap();
    g.row(0).and_then(|row| row.get("curVal").cloned())
}

#[tokio::test]
async fn batch_his_read_and_his_write() {
    let dir = tempfile::tempdir().unwrap();
    let (base, db, store) = serve(dir.path()).await;
    let c = Client::anonymous(&base);

    let req = grid(
        &[("range", Value::from("2024-05-31"))],
        &["id"],
        vec![vec![r("hq.ahu1.dat")], vec![r("hq.ahu1.occ")]],
    );
    let g = c.call("hisRead", Some(&req)).await.unwrap();
    let names: Vec<&str> = g.cols().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["ts", "v0", "v1"]);
    assert_eq!(
        g.col("v1").unwrap().meta().get("id"),
        Some(&r("hq.ahu1.occ"))
    );
    assert_eq!(g.len(), 64);
    assert!(g.meta().has("hisStart") && g.meta().has("hisEnd"));
    // Points of different timezones need an explicit tz.
    let mixed = grid(
        &[("range", Value::from("2024-05-31"))],
        &["id"],
        vec![vec![r("hq.ahu1.dat")], vec![r("lab.ahu1.dat")]],
    );
    assert!(err_of(c.call("hisRead", Some(&mixed)).await).contains("one timezone"));
    let mut with_tz = mixed.clone();
    let _ = with_tz.meta_mut().insert("tz", "UTC");
    let g = c.call("hisRead", Some(&with_tz)).await.unwrap();
    // The series start 2024-05-31 12:00 UTC; both have the same instants, joined on ts.
    assert_eq!(g.len(), 48);
    let first = g.row(0).unwrap();
    assert!(first.has("v0") && first.has("v1"));
    assert!(first.get("ts").unwrap().to_string().contains("UTC"));

    // hisWrite: a new version of the series, visible to hisRead; refused mismatches.
    let versions = |k: String| {
        let store = store.clone();
        async move { store.versions(&k).await.unwrap().len() }
    };
    let key = db.series_key("his/hq.ahu1.dat.zinc").unwrap();
    let before = versions(key.clone()).await;
    let write = grid(
        &[("id", r("hq.ahu1.dat"))],
        &["ts", "val"],
        vec![
            vec![ny("2024-06-02T01:00:00-04:00"), num(80.0, "°F")],
            vec![
                ny("2024-06-02T01:15:00-04:00"),
                Value::Number(Number::from(81.0)),
            ],
        ],
    );
    c.call("hisWrite", Some(&write)).await.unwrap();
    assert_eq!(versions(key.clone()).await, before + 1);
    let read = grid(
        &[],
        &["id", "range"],
        vec![vec![r("hq.ahu1.dat"), Value::from("2024-06-02")]],
    );
    let g = c.call("hisRead", Some(&read)).await.unwrap();
    let vals: Vec<Value> = g
        .rows()
        .map(|row| row.get("val").cloned().unwrap())
        .collect();
    assert_eq!(vals, [num(80.0, "°F"), num(81.0, "°F")]);
    // The old points are kept.
    let g = c
        .call(
            "hisRead",
            Some(&grid(
                &[],
                &["id", "range"],
                vec![vec![r("hq.ahu1.dat"), Value::from("2024-05-31")]],
            )),
        )
        .await
        .unwrap();
    assert_eq!(g.len(), 64);

    for (ts, val, why) in [
        (
            haystack_core::zinc::read_scalar("2024-06-02T05:00:00Z UTC").unwrap(),
            num(1.0, "°F"),
            "timezone",
        ),
        (ny("2024-06-02T02:00:00-04:00"), num(1.0, "kW"), "unit"),
        (ny("2024-06-02T02:00:00-04:00"), Value::Bool(true), "kind"),
        (Value::from("yesterday"), num(1.0, "°F"), "dateTime"),
    ] {
        let bad = grid(
            &[("id", r("hq.ahu1.dat"))],
            &["ts", "val"],
            vec![vec![ts, val]],
        );
        let dis = err_of(c.call("hisWrite", Some(&bad)).await);
        assert!(dis.contains(why), "{why}: {dis}");
    }
    assert_eq!(
        versions(key).await,
        before + 1,
        "refused writes change nothing"
    );

    // Batch hisWrite (columns with id meta).
    let mut batch = GridBuilder::new().col("ts");
    for (i, id) in ["hq.ahu1.dat", "hq.ahu2.dat"].iter().enumerate() {
        let mut m = Dict::new();
        let _ = m.insert("id", r(id));
        batch = batch.col_with_meta(format!("v{i}"), m);
    }
    let batch = batch
        .row(vec![
            ny("2024-06-03T00:00:00-04:00"),
            num(1.0, "°F"),
            num(2.0, "°F"),
        ])
        .row(vec![
            ny("2024-06-03T00:15:00-04:00"),
            Value::Null,
            num(3.0, "°F"),
        ])
        .build()
        .unwrap();
    c.call("hisWrite", Some(&batch)).await.unwrap();
    let req = grid(
        &[("range", Value::from("2024-06-03"))],
        &["id"],
        vec![vec![r("hq.ahu1.dat")], vec![r("hq.ahu2.dat")]],
    );
    let g = c.call("hisRead", Some(&req)).await.unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(g.row(1).unwrap().get("v0"), None);
    assert_eq!(g.row(1).unwrap().get("v1"), Some(&num(3.0, "°F")));
}

#[tokio::test]
async fn point_write_levels_duration_and_watches() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _db, _store) = serve(dir.path()).await;
    let c = Client::anonymous(&base);
    let write = |level: f64, val: Value, who: &str, dur: Value| {
        grid(
            &[],
            &["id", "level", "val", "who", "duration"],
            vec![vec![
                r("hq.sp"),
                Value::Number(Number::from(level)),
                val,
                Value::from(who),
                dur,
            ]],
        )
    };
    // Watch the setpoint and a sensor first.
    let sub = grid(
        &[("watchDis", Value::from("test")), ("lease", num(30.0, "s"))],
        &["id"],
        vec![vec![r("hq.sp")], vec![r("hq.ahu1.dat")], vec![r("nope")]],
    );
    let g = c.call("watchSub", Some(&sub)).await.unwrap();
    assert_eq!(g.len(), 3);
    assert_eq!(g.row(2).unwrap().get("id"), None, "unknown id: a null row");
    assert_eq!(g.meta().get("lease"), Some(&num(30.0, "s")));
    let watch_id = g.meta().get("watchId").cloned().unwrap();
    let poll = grid(&[("watchId", watch_id.clone())], &["empty"], vec![]);
    assert!(c.call("watchPoll", Some(&poll)).await.unwrap().is_empty());

    assert_eq!(cur_val(&c, "hq.sp").await, Some(num(70.0, "°F")));
    c.call(
        "pointWrite",
        Some(&write(16.0, num(65.0, "°F"), "bms", Value::Null)),
    )
    .await
    .unwrap();
    assert_eq!(cur_val(&c, "hq.sp").await, Some(num(65.0, "°F")));
    // A change: the poll answers only the setpoint.
    let g = c.call("watchPoll", Some(&poll)).await.unwrap();
    assert_eq!(g.len(), 1);
    assert_eq!(g.row(0).unwrap().get("id"), Some(&r("hq.sp")));
    assert_eq!(g.row(0).unwrap().get("curVal"), Some(&num(65.0, "°F")));
    assert!(c.call("watchPoll", Some(&poll)).await.unwrap().is_empty());
    let mut refresh = poll.clone();
    let _ = refresh.meta_mut().insert("refresh", Value::Marker);
    assert_eq!(c.call("watchPoll", Some(&refresh)).await.unwrap().len(), 2);

    // Level 8 for one hour overrides 16; when the clock passes the hour, 16 is back.
    c.call(
        "pointWrite",
        Some(&write(8.0, num(72.0, "°F"), "op", num(1.0, "h"))),
    )
    .await
    .unwrap();
    assert_eq!(cur_val(&c, "hq.sp").await, Some(num(72.0, "°F")));
    let arr = c
        .call(
            "pointWrite",
            Some(&grid(&[], &["id"], vec![vec![r("hq.sp")]])),
        )
        .await
        .unwrap();
    assert_eq!(arr.len(), 17);
    let l8 = arr.row(7).unwrap();
    assert_eq!(l8.get("levelDis"), Some(&Value::from("Manual Operator")));
    assert_eq!(l8.get("who"), Some(&Value::from("op")));
    CLOCK.fetch_add(3601, Ordering::SeqCst);
    assert_eq!(cur_val(&c, "hq.sp").await, Some(num(65.0, "°F")));
    // Releasing 16 leaves the imported curVal.
    c.call(
        "pointWrite",
        Some(&write(16.0, Value::Null, "bms", Value::Null)),
    )
    .await
    .unwrap();
    assert_eq!(cur_val(&c, "hq.sp").await, Some(num(70.0, "°F")));

    for (req, why) in [
        (write(0.0, num(1.0, "°F"), "x", Value::Null), "level"),
        (write(18.0, num(1.0, "°F"), "x", Value::Null), "level"),
        (write(10.0, num(1.0, "kW"), "x", Value::Null), "unit"),
        (write(10.0, Value::from("hot"), "x", Value::Null), "kind"),
        (write(8.0, num(1.0, "°F"), "x", num(5.0, "kW")), "duration"),
    ] {
        let dis = err_of(c.call("pointWrite", Some(&req)).await);
        assert!(dis.contains(why), "{why}: {dis}");
    }
    let not_writable = grid(
        &[],
        &["id", "level", "val"],
        vec![vec![
            r("hq.ahu1.dat"),
            Value::Number(Number::from(8.0)),
            num(1.0, "°F"),
        ]],
    );
    assert!(err_of(c.call("pointWrite", Some(&not_writable)).await).contains("not a writable"));

    // Unsub, then close the watch: its id is gone.
    let unsub = grid(
        &[("watchId", watch_id.clone())],
        &["id"],
        vec![vec![r("hq.sp")]],
    );
    c.call("watchUnsub", Some(&unsub)).await.unwrap();
    assert_eq!(c.call("watchPoll", Some(&refresh)).await.unwrap().len(), 1);
    let close = grid(
        &[("watchId", watch_id), ("close", Value::Marker)],
        &["id"],
        vec![],
    );
    c.call("watchUnsub", Some(&close)).await.unwrap();
    assert!(err_of(c.call("watchPoll", Some(&poll)).await).contains("watch"));
}

#[tokio::test]
async fn ops_lists_exactly_what_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _db, _store) = serve(dir.path()).await;
    let c = Client::anonymous(&base);
    let ops = c.call("ops", None).await.unwrap();
    let names: Vec<String> = ops
        .rows()
        .map(|r| r.get("name").and_then(Value::as_str).unwrap().to_owned())
        .collect();
    for want in [
        "about",
        "ops",
        "formats",
        "read",
        "nav",
        "hisRead",
        "hisWrite",
        "pointWrite",
        "watchSub",
        "watchUnsub",
        "watchPoll",
        "close",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    let http = reqwest::Client::new();
    for name in &names {
        let resp = http.get(format!("{base}/{name}")).send().await.unwrap();
        assert_ne!(resp.status(), 404, "{name} is listed but not served");
    }
    for missing in ["invokeAction", "hisDelete", "eval"] {
        let resp = http.get(format!("{base}/{missing}")).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{missing}");
    }
    let side_effects: Vec<&str> = ops
        .rows()
        .filter(|r| !r.has("noSideEffects"))
        .filter_map(|r| r.get("name").and_then(Value::as_str))
        .collect();
    assert_eq!(
        side_effects,
        [
            "hisWrite",
            "pointWrite",
            "watchSub",
            "watchUnsub",
            "watchPoll",
            "close"
        ]
    );
}
