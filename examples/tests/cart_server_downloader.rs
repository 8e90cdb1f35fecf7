//! The published Pacifica client, `pacifica-downloader` 0.4.1 (`Downloader` + `CartAPI`), run
//! unchanged against the cart server, with the real Pacifica archive interface as its archive.
//! `scripts/test` installs the client beside the archive interface and sets `PACIFICA_PYTHON`
//! (the virtual environment's interpreter) and `ARCHIVE_INTERFACE_URL`.

mod cart_server_support;

use cart_server_support::{Running, content, sha256_hex};
use examples::cart::CartConfig;

/// The interpreter with `pacifica-downloader` and the archive interface URL, or `None` (after a
/// SKIPPED line) outside CI without them.
fn peers(test: &str) -> Option<(String, String)> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    match (var("PACIFICA_PYTHON"), var("ARCHIVE_INTERFACE_URL")) {
        (Some(python), Some(url)) => Some((python, url)),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{test}: PACIFICA_PYTHON or ARCHIVE_INTERFACE_URL is not set; under CI the \
                     Pacifica downloader and archive interface are required: run `scripts/test`"
                );
            }
            eprintln!(
                "SKIPPED (needs pacifica-downloader and the archive interface): {test}: run \
                 `scripts/test -p examples --test cart_server_downloader`"
            );
            None
        }
    }
}

/// Runs the client as a Pacifica tool would: `Downloader(cart_api_url=...)` then
/// `transactioninfo(location, transinfo)` with its defaults (file name `data`, 120 s wait).
const DRIVER: &str = r#"
import json, sys
from pacifica.downloader import Downloader
cart_api_url, transinfo_file, location = sys.argv[1:4]
with open(transinfo_file) as f:
    transinfo = json.load(f)
Downloader(cart_api_url=cart_api_url).transactioninfo(location, transinfo)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacifica_downloader_sets_up_waits_downloads_and_extracts() {
    let test = "pacifica_downloader_sets_up_waits_downloads_and_extracts";
    let Some((python, url)) = peers(test) else {
        return;
    };
    let base = url.trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    let tag = format!(
        "{}-{}",
        std::process::id(),
        sha256_hex(base.as_bytes()).get(..8).unwrap()
    );
    // Files of several sizes (one spans several stream chunks), in two subdirectories.
    let files: Vec<(String, String, String, Vec<u8>)> = (0..4u64)
        .map(|i| {
            (
                format!("dl-{tag}-{i}"),
                format!("sub{}/inner", i % 2),
                format!("file {i}.dat"),
                content(90 + i, [10, 4096, 700_000, 1][i as usize]),
            )
        })
        .collect();
    for (id, _, _, data) in &files {
        let r = http
            .put(format!("{base}/{id}"))
            .header("content-type", "application/octet-stream")
            .body(data.clone())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "PUT {id}: {}", r.status());
    }

    let dir = tempfile::tempdir().unwrap();
    let mut config = CartConfig::in_dir(dir.path());
    config.archive_interface_url = Some(url.clone());
    let s = Running::from_config(config).await;

    // The transaction info the Pacifica policy service gives: files keyed by archive id.
    let transinfo = serde_json::json!({
        "files": files.iter().map(|(id, subdir, name, data)| {
            (id.clone(), serde_json::json!({
                "subdir": subdir,
                "name": name,
                "hashtype": "sha1",
                "hashsum": cart_core::HashType::Sha1.digest_hex(data),
            }))
        }).collect::<serde_json::Map<_, _>>()
    });
    let transinfo_file = dir.path().join("transinfo.json");
    std::fs::write(&transinfo_file, transinfo.to_string()).unwrap();
    let location = dir.path().join("downloaded");
    std::fs::create_dir_all(&location).unwrap();

    let out = {
        let (python, base, transinfo_file, location) = (
            python.clone(),
            s.base.clone(),
            transinfo_file.clone(),
            location.clone(),
        );
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(python)
                .arg("-c")
                .arg(DRIVER)
                .arg(base)
                .arg(transinfo_file)
                .arg(location)
                .output()
        })
        .await
        .unwrap()
        .unwrap()
    };
    assert!(
        out.status.success(),
        "pacifica-downloader failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // The default file name is `data`, so the tar's top directory is `data/`.
    for (_, subdir, name, data) in &files {
        let path = location.join("data").join(subdir).join(name);
        let got = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(got.len(), data.len(), "{}", path.display());
        assert!(got == *data, "{} differs", path.display());
    }
    let extracted = walk(&location);
    assert_eq!(extracted.len(), files.len(), "{extracted:?}");
    s.stop().await;
}

/// Every regular file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}
