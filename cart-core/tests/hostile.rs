//! Hostile requests: every bad path, uid, file name and archive id is rejected, and nothing is
//! written outside the volume.

mod common;

use cart_core::{
    ArchiveId, CartRequest, CartStatus, CartUid, DownloadName, Engine, Error, LocalArchive,
    MemoryStore,
};
use common::*;

const HOSTILE_PATHS: &[&str] = &[
    "",
    "/",
    "/etc/passwd",
    "//etc/passwd",
    "../../etc/x",
    "..",
    ".",
    "a/../../b",
    "a/..",
    "./a",
    "a/./b",
    "a//b",
    "a/",
    "a\\b",
    "..\\..\\windows\\system32",
    "C:\\x",
    "a\0b",
    "\0",
    "a/\u{7}/b",
    "line\nbreak",
    "tab\there/x",
    "a/\r",
    "\u{1b}[31mred",
    "/..",
    "../",
    // Unusable on Windows: whitespace-only segments, segments ending in a space or a dot.
    " ",
    "a/ /b",
    "a/\u{3000}/b",
    "dir /x",
    "dir./x",
    "a/b.",
    "a/b ",
    "...",
];

#[test]
fn hostile_paths_are_rejected() {
    assert!(HOSTILE_PATHS.len() >= 20);
    let long_segment = "x".repeat(256);
    let too_long = "a/".repeat(2100) + "b";
    let mut all: Vec<&str> = HOSTILE_PATHS.to_vec();
    all.push(&long_segment);
    all.push(&too_long);
    for path in all {
        assert!(!cart_core::is_safe_bundle_path(path), "{path:?}");
        let body = serde_json::json!({"fileids": [{"id": "a", "path": path}]});
        let err = CartRequest::from_json(body.to_string().as_bytes()).unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{path:?}: {err:?}");
        assert!(
            err.to_string()
                .starts_with("Error parsing file Ids with error: "),
            "{err}"
        );
    }
}

#[test]
fn duplicate_and_nested_paths_are_rejected() {
    for body in [
        r#"{"fileids": [{"id": "a", "path": "x/y"}, {"id": "b", "path": "x/y"}]}"#,
        r#"{"fileids": [{"id": "a", "path": "x"}, {"id": "b", "path": "x/y"}]}"#,
        r#"{"fileids": [{"id": "a", "path": "x/y/z"}, {"id": "b", "path": "x/y"}]}"#,
        r#"{"fileids": []}"#,
        r#"{"fileids": [{"id": null, "path": "x"}]}"#,
        r#"{"fileids": [{"id": 1.5, "path": "x"}]}"#,
        r#"{"fileids": [{"id": "", "path": "x"}]}"#,
        r#"{"fileids": [{"id": "a", "path": "x", "hashtype": "md5"}]}"#,
        r#"{"fileids": [{"id": "a", "path": "x", "hashtype": "crc", "hashsum": "00"}]}"#,
        r#"{"fileids": [{"id": "a", "path": "x", "hashtype": "md5", "hashsum": "zz"}]}"#,
        r#"{"fileids": "nope"}"#,
        r#"{"files": []}"#,
        r#"not json"#,
    ] {
        let err = CartRequest::from_json(body.as_bytes()).unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{body}: {err:?}");
    }
}

#[test]
fn hostile_uids_and_file_names_are_rejected() {
    for uid in [
        "", ".", "..", "../x", "a/b", "a\\b", "a\0", ".hidden", "a b", "a;b", "\u{e9}",
    ] {
        assert!(CartUid::new(uid).is_err(), "{uid:?}");
    }
    assert!(CartUid::new(&"u".repeat(129)).is_err());
    assert!(CartUid::new("0b6b6e37-6b8f-4d2e-9e4b-1c1d3f0c8a11").is_ok());
    // File names: anything a user gives is accepted except control characters; it never goes
    // anywhere raw (the header is RFC 6266, the tar's top directory is sanitized).
    for name in [
        "",
        "x\r\nSet-Cookie: a=b",
        "a\0.tar",
        "tab\t.tar",
        &"n".repeat(201),
    ] {
        assert!(DownloadName::new(name).is_err(), "{name:?}");
    }
    for (name, stem) in [
        ("my_cart.tar", "my_cart"),
        ("my cart (1).tar", "my cart (1)"),
        ("../x.tar", "_x"),
        ("a/b.tar", "a_b"),
        ("a\"b.tar", "a_b"),
        ("a;b.tar", "a;b"),
        (".hidden.tar", "hidden"),
        (".tar", "data"),
        ("..", "data"),
        ("C:\\evil\\x.tar", "C__evil_x"),
        ("trailing. .tar", "trailing"),
        ("cafe\u{301}.tar", "caf\u{e9}"),
        ("日本語.tar", "日本語"),
    ] {
        let n = DownloadName::new(name).unwrap();
        assert_eq!(n.stem(), stem, "{name:?}");
        let header = n.content_disposition();
        assert!(
            header.is_ascii() && !header.contains(['\r', '\n']),
            "{header}"
        );
        assert!(header.starts_with("attachment; filename="), "{header}");
        assert!(header.contains("; filename*=UTF-8''"), "{header}");
    }
    assert_eq!(
        DownloadName::new("my_cart.tar")
            .unwrap()
            .content_disposition(),
        "attachment; filename=my_cart.tar; filename*=UTF-8''my_cart.tar"
    );
    assert_eq!(
        DownloadName::new("a \"b\".tar")
            .unwrap()
            .content_disposition(),
        "attachment; filename=\"a _b_.tar\"; filename*=UTF-8''a%20%22b%22.tar"
    );
}

#[test]
fn paths_equal_after_nfc_are_duplicates() {
    let body =
        r#"{"fileids": [{"id": "a", "path": "d/caf\u00e9"}, {"id": "b", "path": "d/cafe\u0301"}]}"#;
    let err = CartRequest::from_json(body.as_bytes()).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(err.to_string().contains("duplicate path"), "{err}");
    // Decomposed in a directory, composed in the file below it: a file inside a file.
    let body =
        r#"{"fileids": [{"id": "a", "path": "cafe\u0301"}, {"id": "b", "path": "caf\u00e9/x"}]}"#;
    assert!(CartRequest::from_json(body.as_bytes()).is_err());
    // Stored in NFC.
    let body = r#"{"fileids": [{"id": "a", "path": "cafe\u0301/x"}]}"#;
    let req = CartRequest::from_json(body.as_bytes()).unwrap();
    assert_eq!(req.files[0].path.as_str(), "caf\u{e9}/x");
    // Case differs: two members (the volume stores them under names of its own).
    let body = r#"{"fileids": [{"id": "a", "path": "A.txt"}, {"id": "b", "path": "a.txt"}]}"#;
    assert_eq!(
        CartRequest::from_json(body.as_bytes()).unwrap().files.len(),
        2
    );
}

#[tokio::test]
async fn nothing_is_written_outside_the_volume() {
    let root = tempfile::tempdir().unwrap();
    let archive_dir = root.path().join("archive");
    let volume = root.path().join("volume");
    std::fs::create_dir_all(&archive_dir).unwrap();
    std::fs::write(archive_dir.join("ok.txt"), b"ok").unwrap();
    std::fs::write(root.path().join("secret.txt"), b"secret").unwrap();
    std::os::unix::fs::symlink(root.path().join("secret.txt"), archive_dir.join("link")).unwrap();
    let before = tree(root.path());

    let engine = Engine::builder(MemoryStore::new(), LocalArchive::new(&archive_dir).unwrap())
        .volume(&volume)
        .config(fast_config())
        .build()
        .unwrap();
    // Archive ids that try to leave the archive: the cart fails, nothing is read.
    for (n, id) in ["../secret.txt", "link", "/etc/passwd", "a/../../secret.txt"]
        .iter()
        .enumerate()
    {
        let uid = CartUid::new(&format!("escape{n}")).unwrap();
        let body = serde_json::json!({"fileids": [{"id": id, "path": "x/got.txt"}]});
        let req = CartRequest::from_json(body.to_string().as_bytes()).unwrap();
        engine.submit(uid.clone(), req).await.unwrap();
        let cart = engine.wait_settled(&uid).await.unwrap();
        assert_eq!(cart.status, CartStatus::Error, "{id}");
        assert!(
            cart.message.starts_with("Failed to pull file("),
            "{}",
            cart.message
        );
        let staged = volume
            .join("cart-core-carts")
            .join(uid.as_str())
            .join("files/0");
        assert!(!staged.exists());
        engine.delete(&uid).await.unwrap();
    }
    assert!(ArchiveId::new("a\nb").is_err());
    // A good cart still works, and after deleting everything only the volume root remains.
    let uid = CartUid::new("good").unwrap();
    engine
        .submit(
            uid.clone(),
            request(&[("ok.txt", "deep/ok.txt", b"ok")], false),
        )
        .await
        .unwrap();
    assert_eq!(
        engine.wait_settled(&uid).await.unwrap().status,
        CartStatus::Ready
    );
    engine.delete(&uid).await.unwrap();
    let volume_tree: Vec<String> = tree(root.path())
        .into_iter()
        .filter(|p| p.starts_with("volume"))
        .collect();
    assert_eq!(
        volume_tree,
        [
            "volume",
            "volume/cart-core-carts",
            "volume/cart-core-carts/.cart-core-owned"
        ]
    );
    let mut after = tree(root.path());
    // Only the volume root and the engine's own (marked) directory remain.
    after.retain(|p| !p.starts_with("volume"));
    assert_eq!(after, before);
    assert_eq!(
        std::fs::read(root.path().join("secret.txt")).unwrap(),
        b"secret"
    );
}
