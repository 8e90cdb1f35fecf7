//! Any body given to `CartRequest::from_json` returns, never panics; every request it accepts
//! names files whose bundle paths stay under the cart's directory when joined to it, are unique,
//! and never sit inside another file's path. The raw input is also tried as a bundle path, a
//! cart uid and a download file name: what they accept is one safe name (uid) or a
//! relative path of normal segments (bundle path); a download name's tar directory is one safe
//! name and its `Content-Disposition` is plain visible ASCII.
#![no_main]

use std::collections::HashSet;
use std::path::{Component, Path};

use cart_core::{BundlePath, CartRequest, CartUid, DownloadName};
use libfuzzer_sys::fuzz_target;

const ROOT: &str = "/volume/carts/cart-1";

/// Panics unless `path` joined to `ROOT` stays under it, segment for segment.
fn assert_contained(path: &str) {
    let joined = Path::new(ROOT).join(path);
    assert!(joined.starts_with(ROOT), "{path:?} escapes to {joined:?}");
    let mut depth = 0usize;
    for c in Path::new(path).components() {
        match c {
            Component::Normal(_) => depth += 1,
            other => panic!("{path:?} has a {other:?} component"),
        }
    }
    assert_eq!(
        depth,
        path.split('/').count(),
        "{path:?} has segments that vanish when joined"
    );
}

/// Panics unless `name` is one normal path component (a safe single directory or file name).
fn assert_single_name(name: &str) {
    let mut components = Path::new(name).components();
    assert!(
        matches!(components.next(), Some(Component::Normal(c)) if c == name),
        "{name:?} is not one plain name"
    );
    assert!(
        components.next().is_none(),
        "{name:?} is more than one name"
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = CartRequest::from_json(data) {
        assert!(!request.files.is_empty());
        let mut seen = HashSet::new();
        for f in &request.files {
            let path = f.path.as_str();
            assert_contained(path);
            assert!(seen.insert(path), "duplicate path {path:?} accepted");
        }
        for f in &request.files {
            let path = f.path.as_str();
            for (i, _) in path.match_indices('/') {
                let parent = path.get(..i).unwrap_or_default();
                assert!(
                    !seen.contains(parent),
                    "{path:?} accepted inside the file {parent:?}"
                );
            }
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = BundlePath::new(text) {
        assert_contained(path.as_str());
        assert_eq!(path.segments().count(), text.split('/').count());
    }
    if let Ok(uid) = CartUid::new(text) {
        assert_single_name(uid.as_str());
    }
    if let Ok(name) = DownloadName::new(text) {
        // Any name is allowed; what reaches the tar and the header is made safe.
        assert_single_name(&name.stem());
        let header = name.content_disposition();
        assert!(
            header.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "Content-Disposition {header:?} is not plain visible ASCII"
        );
    }
});
