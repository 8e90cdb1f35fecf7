//! The cart server against the real Pacifica archive interface (`ARCHIVE_INTERFACE_URL`, set by
//! `scripts/test`, which starts `pacifica-archiveinterface`).

mod cart_server_support;

use cart_server_support::{Running, content, request, sha256_hex, tar_files};
use examples::cart::CartConfig;

/// The archive interface URL, or `None` (after a SKIPPED line) outside CI without one.
fn archive_interface(test: &str) -> Option<String> {
    match std::env::var("ARCHIVE_INTERFACE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{test}: ARCHIVE_INTERFACE_URL is not set; under CI the archive interface is required: run `scripts/test`"
                );
            }
            eprintln!("SKIPPED (needs the archive interface): {test}: run `scripts/test`");
            None
        }
    }
}

#[tokio::test]
async fn full_cycle_through_the_pacifica_archive_interface() {
    let Some(url) = archive_interface("full_cycle_through_the_pacifica_archive_interface") else {
        return;
    };
    let base = url.trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    let tag = format!(
        "{}-{}",
        std::process::id(),
        sha256_hex(base.as_bytes()).get(..8).unwrap()
    );
    let files: Vec<(String, String, Vec<u8>)> = (0..4)
        .map(|i| {
            (
                format!("cartd-{tag}-{i}"),
                format!("dir{}/file{i}.dat", i % 2),
                content(40 + i, 1000 * (i as usize + 1)),
            )
        })
        .collect();
    for (id, _, data) in &files {
        let r = http
            .put(format!("{base}/{id}"))
            .header("content-type", "application/octet-stream")
            .header("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT")
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
    let spec: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(id, path, data)| (id.as_str(), path.as_str(), data.as_slice()))
        .collect();
    let r = s.post("pacifica-cart", &request(&spec, false)).await;
    assert_eq!(r.status(), 201);
    let (code, status, message) = s.wait_settled("pacifica-cart").await;
    assert_eq!(
        (code, status.as_str(), message.as_str()),
        (204, "ready", "")
    );

    let r = s
        .http
        .get(s.url("pacifica-cart?filename=pc.tar"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=pc.tar; filename*=UTF-8''pc.tar"
    );
    let got = tar_files(&r.bytes().await.unwrap(), "pc");
    assert_eq!(got.len(), files.len());
    for (_, path, data) in &files {
        assert_eq!(
            sha256_hex(&got[&format!("pc/{path}")]),
            sha256_hex(data),
            "{path}"
        );
    }

    // An id the archive does not have: the cart ends in error with the original's message.
    let body = format!(r#"{{"fileids": [{{"id": "cartd-{tag}-missing", "path": "m"}}]}}"#);
    assert_eq!(s.post("pacifica-missing", &body).await.status(), 201);
    let (code, status, message) = s.wait_settled("pacifica-missing").await;
    assert_eq!((code, status.as_str()), (500, "error"));
    assert!(message.starts_with("Failed to pull file("), "{message}");

    let r = s.http.delete(s.url("pacifica-cart")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}
