//! A tour of every crate on embedded defaults: no AWS, no emulator. Each section prints what the
//! crate did.

use std::sync::Arc;

use examples::haystack::db::Db;
use examples::haystack::formats::Format;
use examples::haystack::sample;
use examples::store::{LocalStore, VersionedStore};
use haystack_core::filter::{Filter, GridIndex};
use haystack_core::{Dict, Grid, Number, Ref, Value};

/// Prints a line, ignoring a closed stdout (e.g. `tour | head`) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

type TourResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut failed = false;
    let mut check = |result: TourResult| {
        if let Err(e) = result {
            eprintln!("  FAILED: {e}");
            failed = true;
        }
    };
    say!("== haystack-core");
    check(haystack_core_tour());
    say!("== haystack-zinc");
    check(haystack_zinc_tour());
    say!("== haystack server and import (examples)");
    check(haystack_store_tour().await);
    say!("== package-database (in memory; DynamoDB with the `dynamodb` feature)");
    check(package_database_tour().await);
    say!("== datasource-sdk (a paginated connector through the Runner into JSON-lines files)");
    check(connector_tour().await);
    say!("== cart-core (a cart from a local archive, durable SQLite store, streamed tar)");
    check(cart_tour().await);
    say!("== time series cache (examples: datasource-sdk writers, Zinc history)");
    check(tscache_tour().await);
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

fn haystack_core_tour() -> TourResult {
    let site = Ref::with_dis("hq", "Headquarters");
    let mut rows = Vec::new();
    for (id, dis, temp) in [
        ("p1", "Zone 1 Temp", 72.5),
        ("p2", "Zone 2 Temp", 68.0),
        ("p3", "Zone 3 Temp", 75.1),
    ] {
        let mut d = Dict::new();
        d.insert("id", Ref::new(id)?)?;
        d.insert("dis", dis)?;
        d.insert("point", Value::Marker)?;
        d.insert("siteRef", site.clone())?;
        d.insert("curVal", Number::with_unit(temp, "°F"))?;
        rows.push(d);
    }
    let mut hq = Dict::new();
    hq.insert("id", site.clone())?;
    hq.insert("site", Value::Marker)?;
    hq.insert("geoCity", "New York")?;
    rows.push(hq);
    let grid = Grid::from_dicts(rows.iter());
    say!(
        "  built a grid of {} rows and {} columns",
        grid.len(),
        grid.cols().len()
    );

    let filter = Filter::parse("point and curVal > 70°F and siteRef->geoCity == \"New York\"")?;
    let index = GridIndex::new(&grid);
    let matched = filter.filter_grid(&grid, &index);
    let names: Vec<&str> = matched.rows().filter_map(|r| r.dis()).collect();
    say!("  filter `{filter}` matched {names:?}");

    let celsius = haystack_core::units::convert(72.5, "°F", "°C")?;
    say!("  72.5 °F is {celsius:.2} °C");
    let json = haystack_core::json::to_string(&Value::from(matched));
    say!(
        "  as Hayson JSON: {} bytes, starts {}",
        json.len(),
        &json[..json.len().min(60)]
    );
    Ok(())
}

fn haystack_zinc_tour() -> TourResult {
    let zinc = "ver:\"3.0\" dis:\"Sites\"\nid,dis,area,site\n@a \"HQ\",\"HQ\",3702ft²,M\n@b \"Lab\",\"Lab\",1200m²,M\n";
    let grid = haystack_zinc::from_str(zinc)?;
    say!(
        "  read a Zinc grid with {} rows; written back it is identical: {}",
        grid.len(),
        haystack_zinc::to_string(&grid) == zinc
    );
    let trio = Format::Trio.write_grid(&grid)?;
    say!(
        "  as Trio:\n{}",
        trio.lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let back = Format::Trio.read_grid(&trio)?;
    say!("  Trio read back: {} records", back.len());
    match haystack_zinc::from_str("ver:\"3.0\"\nid,dis\n@a,\"unterminated\n") {
        Ok(_) => say!("  (unexpected: broken Zinc parsed)"),
        Err(e) => say!("  broken Zinc is refused with its position: {e}"),
    }
    Ok(())
}

async fn haystack_store_tour() -> TourResult {
    let work = std::env::temp_dir().join(format!("haystack-tour-{}", std::process::id()));
    let source_dir = work.join("sample");
    let mut site = sample::generate(time::OffsetDateTime::now_utc());
    let source = sample::write_to(&source_dir, &site)?
        .to_string_lossy()
        .into_owned();
    let store: Arc<dyn VersionedStore> = Arc::new(LocalStore::open(work.join("store"))?);
    let db = Db::new(store.clone(), store.clone());

    let first = db.import(&source, &|_| {}).await?;
    say!(
        "  imported the sample: {} entities, {} series",
        first.added,
        first.series_updated.len()
    );
    let again = db.import(&source, &|_| {}).await?;
    say!("  imported again: new version written = {}", again.changed);
    let v1 = db.snapshot(None).await?.ok_or("no snapshot")?;

    let mut dicts = site.entities.to_dicts();
    if let Some(first_site) = dicts.first_mut() {
        first_site.insert("dis", "Headquarters (renamed)")?;
    }
    site.entities = Grid::from_dicts(dicts.iter());
    sample::write_to(&source_dir, &site)?;
    let second = db.import(&source, &|_| {}).await?;
    say!("  imported a change: {} entity modified", second.modified);

    let filter = Filter::parse("site")?;
    for (label, at) in [("first version", Some(v1.written)), ("latest", None)] {
        let snap = db.snapshot(at).await?.ok_or("no snapshot")?;
        let names: Vec<String> = filter
            .filter_grid(&snap.grid, &GridIndex::new(&snap.grid))
            .rows()
            .filter_map(|r| r.dis().map(str::to_owned))
            .collect();
        say!("  read `site` at the {label}: {names:?}");
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

async fn tscache_tour() -> TourResult {
    use examples::tscache::{
        api, forecast::MemoryForecast, history::LocalObjects, ids::MemoryIdentifiers,
        pipeline::Cache, source, system_clock,
    };
    let dir = std::env::temp_dir().join(format!("tscache-tour-{}", std::process::id()));
    let clock = system_clock();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let external = format!("http://{}", listener.local_addr()?);
    let router = source::external_api(clock.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let cache = Arc::new(Cache::new(
        Arc::new(MemoryIdentifiers::default()),
        Arc::new(LocalObjects::new(&dir)),
        Arc::new(MemoryForecast::default()),
        "forecast",
        external,
        clock,
    )?);
    cache.ids().add("sensor-1").await?;
    let report = cache.run_cycle().await?;
    say!(
        "  one cycle: {} identifier enqueued, {} fetched",
        report.enqueued,
        report.done
    );
    let now = cache.now().unix_timestamp();
    let merged = api::merged(&cache, "sensor-1", now - 86_400, now + 86_400).await?;
    let history = merged.iter().filter(|(_, s)| *s == "history").count();
    say!(
        "  merged series over +-24 h: {} points ({history} history, {} forecast), each time once",
        merged.len(),
        merged.len() - history
    );
    cache
        .close(tokio::time::Instant::now() + std::time::Duration::from_secs(10))
        .await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn package_database_tour() -> TourResult {
    use package_database::{Database, ManualClock, MemoryDatabase, NewSpec, keys};
    // A manual clock, so the two versions get two timestamps (versions are kept per second).
    let clock = ManualClock::new(1_700_000_000);
    let db = MemoryDatabase::with_clock(Arc::new(clock.clone()));
    db.create_update_spec(&NewSpec::new("user-1", "Pet_Store", "1.0.0", 2).with_title("Pet store"))
        .await?;
    clock.advance(60);
    db.create_update_spec(&NewSpec::new("user-1", "Pet_Store", "1.1.0", 3))
        .await?;
    let versions = db.list_spec_versions("user-1", "Pet_Store").await?;
    let listed: Vec<&str> = versions.iter().map(|v| v.version.as_str()).collect();
    say!(
        "  registered spec `Pet_Store` (id `{}`), versions {listed:?}",
        package_database::canonicalize_name("Pet_Store")
    );
    say!(
        "  models for user-1: {}",
        db.count_customer_models("user-1").await?
    );
    let created = keys::create_credentials(
        &db,
        "user-1",
        keys::DEFAULT_CREDENTIALS_ID,
        b"service secret",
    )
    .await?;
    let sub = keys::authenticate(
        &db,
        &created.credentials.public_key,
        created.secret_key.expose_secret(),
    )
    .await?;
    say!(
        "  created credentials {} and authenticated as {:?}",
        created.credentials.public_key,
        sub
    );
    let wrong = keys::authenticate(&db, &created.credentials.public_key, "sk_wrong").await?;
    say!("  a wrong secret key authenticates as {wrong:?}");
    Ok(())
}

async fn connector_tour() -> TourResult {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, examples::connector::orders_api(500)).await });
    let out = std::env::temp_dir().join(format!("connector-tour-{}", std::process::id()));
    let first = examples::connector::run(&url, &out, false).await?;
    say!(
        "  first run: {} records in {} reads, {} checkpoints",
        first.records,
        first.reads,
        first.checkpoints
    );
    let second = examples::connector::run(&url, &out, false).await?;
    say!(
        "  second run resumed from its state: {} new records",
        second.records
    );
    let rows = datasource_sdk::JsonLinesSink::read_table(&out.join("records"), "orders")?;
    say!(
        "  {} records in the JSON-lines files, each stamped with __table and __state",
        rows.len()
    );
    let _ = std::fs::remove_dir_all(&out);
    Ok(())
}

async fn cart_tour() -> TourResult {
    use cart_core::{CartRequest, CartUid, DownloadName, Engine, LocalArchive, SqliteStore};
    let work = std::env::temp_dir().join(format!("cart-tour-{}", std::process::id()));
    let archive_dir = work.join("archive");
    std::fs::create_dir_all(&archive_dir)?;
    std::fs::write(archive_dir.join("foo.txt"), b"hello\n")?;
    std::fs::write(archive_dir.join("bar.csv"), b"a,b\n1,2\n")?;
    let store = SqliteStore::open(work.join("carts.db")).await?;
    let engine = Engine::builder(store, LocalArchive::new(&archive_dir)?)
        .volume(work.join("volume"))
        .build()?;
    engine.recover().await?;
    let uid = CartUid::new("tour-cart")?;
    let request = CartRequest::from_json(
        br#"{"fileids": [
              {"id": "foo.txt", "path": "1/2/3/foo.txt", "hashtype": "sha1",
               "hashsum": "f572d396fae9206628714fb2ce00f72e94f2258f"},
              {"id": "bar.csv", "path": "data/bar.csv"}], "bundle": false}"#,
    )?;
    engine.submit(uid.clone(), request).await?;
    let cart = engine.wait_settled(&uid).await?;
    say!("  cart {} is {}", cart.uid, cart.status);
    let hostile =
        CartRequest::from_json(br#"{"fileids": [{"id": "foo.txt", "path": "../../etc/passwd"}]}"#);
    say!(
        "  a request with path ../../etc/passwd is refused: {}",
        hostile.is_err()
    );
    let download = engine
        .download(&uid, Some(DownloadName::new("my_cart.tar")?))
        .await?;
    say!(
        "  {} is {} bytes; its members:",
        download.name(),
        download.content_length()
    );
    let tar_bytes = download.write_to(Vec::new()).await?;
    for entry in tar::Archive::new(&tar_bytes[..]).entries()? {
        let entry = entry?;
        say!("    {:>4}  {}", entry.size(), entry.path()?.display());
    }
    engine.delete(&uid).await?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
