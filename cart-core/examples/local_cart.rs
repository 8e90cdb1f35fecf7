//! Builds a cart from a local directory archive and lists the members of its tar.
//!
//! Run with `cargo run -p cart-core --example local_cart`.

use cart_core::{
    CartRequest, CartStatus, CartUid, DownloadName, Engine, EngineConfig, LocalArchive, SqliteStore,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // An "archive": a plain directory with two files.
    let archive_dir = tempfile::tempdir()?;
    std::fs::write(archive_dir.path().join("foo.txt"), b"hello\n")?;
    std::fs::write(archive_dir.path().join("bar.csv"), b"a,b\n1,2\n")?;
    // The volume for staged files, and a durable cart database.
    let work = tempfile::tempdir()?;
    let store = SqliteStore::open(work.path().join("carts.db")).await?;
    let engine = Engine::builder(store, LocalArchive::new(archive_dir.path())?)
        .volume(work.path().join("volume"))
        .config(EngineConfig {
            deterministic_tar: true,
            ..EngineConfig::default()
        })
        .build()?;
    // Resume anything a previous run left unfinished (nothing, here).
    engine.recover().await?;

    let uid = CartUid::new("example-cart")?;
    let request = CartRequest::from_json(
        br#"{"fileids": [
              {"id": "foo.txt", "path": "1/2/3/foo.txt", "hashtype": "sha1",
               "hashsum": "f572d396fae9206628714fb2ce00f72e94f2258f"},
              {"id": "bar.csv", "path": "1/2/3/bar.csv"}],
            "bundle": true}"#,
    )?;
    engine.submit(uid.clone(), request).await?;
    let cart = engine.wait_settled(&uid).await?;
    println!("cart {} is {} {}", cart.uid, cart.status, cart.message);
    if cart.status != CartStatus::Ready {
        return Err(format!("cart failed: {}", cart.message).into());
    }

    let download = engine
        .download(&uid, Some(DownloadName::new("my_cart.tar")?))
        .await?;
    println!("{} ({} bytes):", download.name(), download.content_length());
    let tar_bytes = download.write_to(Vec::new()).await?;
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    for entry in archive.entries()? {
        let entry = entry?;
        println!("  {:>6}  {}", entry.size(), entry.path()?.display());
    }

    engine.delete(&uid).await?;
    println!(
        "after delete: {}",
        engine
            .status(&uid)
            .await?
            .map_or("gone", |c| c.status.as_str())
    );
    Ok(())
}
