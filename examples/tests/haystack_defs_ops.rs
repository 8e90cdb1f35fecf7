//! The `defs`, `libs` and `filetypes` ops of the Haystack server, over real HTTP.

use std::sync::Arc;

use examples::haystack::db::Db;
use examples::haystack::server;
use examples::store::LocalStore;
use haystack_core::{Grid, Value};

async fn serve() -> (String, tempfile::TempDir) {
    serve_with(None).await
}

/// A server over a store holding `zinc` (imported), or nothing.
async fn serve_with(zinc: Option<&str>) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path().join("db")).unwrap());
    let db = Arc::new(Db::new(store.clone(), store));
    if let Some(zinc) = zinc {
        let path = dir.path().join("site.zinc");
        std::fs::write(&path, zinc).unwrap();
        db.import(&path.to_string_lossy(), &|_| {}).await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, server::router(db)).await.unwrap();
    });
    (format!("http://{addr}"), dir)
}

async fn get(url: &str) -> Grid {
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    let text = resp.text().await.unwrap();
    haystack_zinc::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}\n{text}"))
}

async fn post(url: &str, zinc: &str) -> Grid {
    let resp = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "text/zinc")
        .body(zinc.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    haystack_zinc::from_str(&resp.text().await.unwrap()).unwrap()
}

fn symbols(grid: &Grid, col: &str) -> Vec<String> {
    grid.rows()
        .filter_map(|r| r.get(col).and_then(Value::as_symbol).map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn defs_libs_and_filetypes() {
    let (base, _dir) = serve().await;
    // All defs of the standard libraries.
    let all = get(&format!("{base}/defs")).await;
    assert_eq!(all.len(), 719);
    // The Ops chapter's example: filter def==^point.
    let point = post(
        &format!("{base}/defs"),
        "ver:\"3.0\"\nfilter\n\"def==^point\"\n",
    )
    .await;
    assert_eq!(symbols(&point, "def"), ["point"]);
    let row = point.row(0).unwrap();
    assert_eq!(row.get("lib").and_then(Value::as_symbol), Some("lib:phIoT"));
    assert!(row.get("mandatory").is_some_and(Value::is_marker));
    // A filter on a list tag matches any element: the subtypes of equip declared directly.
    let equips = post(
        &format!("{base}/defs"),
        "ver:\"3.0\"\nfilter,limit\n\"is==^equip\",3\n",
    )
    .await;
    assert_eq!(equips.len(), 3);
    assert!(equips.meta().has("incomplete"));
    // libs and filetypes query only their feature's defs.
    let libs = get(&format!("{base}/libs")).await;
    assert_eq!(
        symbols(&libs, "def"),
        ["lib:ph", "lib:phScience", "lib:phIoT", "lib:phIct"]
    );
    let filetypes = get(&format!("{base}/filetypes")).await;
    let names = symbols(&filetypes, "def");
    for f in [
        "filetype:zinc",
        "filetype:json",
        "filetype:trio",
        "filetype:csv",
    ] {
        assert!(names.contains(&f.to_owned()), "{names:?}");
    }
    assert!(filetypes.rows().all(|r| r.get("mime").is_some()));
    // Errors come back as error grids.
    let bad = post(&format!("{base}/defs"), "ver:\"3.0\"\nfilter\n\"def ==\"\n").await;
    assert!(bad.meta().has("err"));
    let bad = post(&format!("{base}/libs"), "ver:\"3.0\"\nlimit\n0\n").await;
    assert!(bad.meta().has("err"));
    // ops lists them.
    let ops = get(&format!("{base}/ops")).await;
    let names: Vec<&str> = ops
        .rows()
        .filter_map(|r| r.get("name").and_then(Value::as_str))
        .collect();
    for op in ["defs", "libs", "filetypes"] {
        assert!(names.contains(&op), "{names:?}");
    }
}

#[tokio::test]
async fn read_takes_def_aware_filters() {
    let zinc = "ver:\"3.0\"\nid,dis,site,ahu,vav,equip,hot,water,plant\n\
        @s,\"HQ\",M,,,,,,\n\
        @a,\"AHU without equip\",,M,,,,,\n\
        @v,\"VAV\",,,M,M,,,\n\
        @p,\"Boiler plant\",,,,M,M,M,M\n";
    let (base, _dir) = serve_with(Some(zinc)).await;
    let ids = |g: &Grid| -> Vec<String> {
        g.rows()
            .filter_map(|r| {
                r.get("id")
                    .and_then(Value::as_ref)
                    .map(|r| r.id().to_owned())
            })
            .collect()
    };
    // equip matches the ahu, whose ahu marker implies equip.
    let equip = get(&format!("{base}/read?filter=equip")).await;
    assert_eq!(ids(&equip), ["a", "v", "p"]);
    let ahu = get(&format!("{base}/read?filter=ph%3A%3AAhu")).await;
    assert_eq!(ids(&ahu), ["a"]);
    let plant = get(&format!("{base}/read?filter=HotWaterPlant")).await;
    assert_eq!(ids(&plant), ["p"]);
    let liquid = get(&format!("{base}/read?filter=liquid")).await;
    assert_eq!(ids(&liquid), ["p"]);
    // A spec that names no def is an error grid.
    let bad = get(&format!("{base}/read?filter=Nonesuch")).await;
    assert!(bad.meta().has("err"));
}
