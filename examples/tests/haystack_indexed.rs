//! The server's indexed `read` and `nav` (#24) over real HTTP on a generated campus: every
//! answer holds exactly the rows a scan of the same grid finds, in the same order, with only
//! the columns those rows use; `limit` cuts at the scan's first rows.

use std::sync::Arc;

use examples::haystack::db::Db;
use examples::haystack::{load, sample, server};
use examples::store::LocalStore;
use haystack_core::defs::Namespace;
use haystack_core::filter::{Filter, GridIndex};
use haystack_core::{Grid, Value};

async fn serve(db: Arc<Db>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, server::router(db)).await.unwrap();
    });
    format!("http://{addr}")
}

fn ids(grid: &Grid) -> Vec<String> {
    grid.rows()
        .map(|r| r.id().map(|i| i.id().to_owned()).unwrap_or_default())
        .collect()
}

/// The ids a scan of `grid` finds for `filter` in the standard namespace, as `read` means it.
fn scan_ids(grid: &Grid, filter: &str, limit: usize) -> Vec<String> {
    let f: Filter = filter.parse().unwrap();
    let bound = f.in_namespace(Namespace::standard()).unwrap();
    let rows: Vec<usize> = bound
        .select(grid, &GridIndex::new(grid))
        .take(limit)
        .collect();
    ids(&grid.select_rows(rows))
}

#[tokio::test]
async fn indexed_reads_and_nav_answer_what_a_scan_finds() {
    let dir = tempfile::tempdir().unwrap();
    let grid = sample::campus(12);
    assert_eq!(grid.len(), 12 * 201);
    let source = dir.path().join("campus.zinc");
    std::fs::write(&source, haystack_zinc::to_string(&grid)).unwrap();
    let store = Arc::new(LocalStore::open(dir.path().join("store")).unwrap());
    let db = Arc::new(Db::new(store.clone(), store));
    db.import(&source.to_string_lossy(), &|_| {}).await.unwrap();
    let grid = db.snapshot(None).await.unwrap().unwrap().grid.clone();
    let base = serve(db).await;
    let client = reqwest::Client::new();

    let mut filters: Vec<&str> = load::PEER_FILTERS.to_vec();
    filters.extend([
        "ahu or (point and curVal < 51°F)",
        "equip and not ahu",
        "point and equipRef->siteRef->geoCity == \"Paris\"",
        "id == @p7",
        "point and siteRef == @nowhere",
        "nope",
    ]);
    for filter in filters {
        let got = load::read_once(&client, &base, filter).await.unwrap();
        let expected = scan_ids(&grid, filter, usize::MAX);
        assert_eq!(ids(&got), expected, "{filter}");
        // Only the columns of the rows returned.
        for c in got.cols() {
            assert!(
                got.rows().any(|r| r.has(c.name())),
                "{filter}: unused column {}",
                c.name()
            );
        }
    }
    let s42 = load::read_once(&client, &base, "point and siteRef==@s4")
        .await
        .unwrap();
    assert_eq!(s42.len(), 180, "9 points of each of a site's 20 equips");

    // limit: the scan's first rows, marked incomplete.
    let limited = client
        .get(format!(
            "{base}/read?filter=point%20and%20curVal%20%3E%2070%C2%B0F&limit=5"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let limited = haystack_zinc::from_str(&limited).unwrap();
    assert_eq!(ids(&limited), scan_ids(&grid, "point and curVal > 70°F", 5));
    assert!(limited.meta().has("incomplete"));

    // nav: the sites, a site's equips, an equip's points, in row order.
    let nav = |id: Option<&str>| {
        let url = match id {
            None => format!("{base}/nav"),
            Some(id) => format!("{base}/nav?navId=%40{id}"),
        };
        let client = client.clone();
        async move {
            let text = client.get(url).send().await.unwrap().text().await.unwrap();
            haystack_zinc::from_str(&text).unwrap()
        }
    };
    let sites = nav(None).await;
    assert_eq!(ids(&sites), scan_ids(&grid, "site", usize::MAX));
    assert!(
        sites
            .rows()
            .all(|r| matches!(r.get("navId"), Some(Value::Ref(_))))
    );
    let equips = nav(Some("s3")).await;
    assert_eq!(
        ids(&equips),
        scan_ids(&grid, "equip and siteRef == @s3", usize::MAX)
    );
    assert_eq!(equips.len(), sample::EQUIPS_PER_SITE);
    let first_equip = ids(&equips).into_iter().next().unwrap();
    let points = nav(Some(&first_equip)).await;
    assert_eq!(
        ids(&points),
        scan_ids(&grid, &format!("equipRef == @{first_equip}"), usize::MAX)
    );
    assert_eq!(points.len(), 9);
}
