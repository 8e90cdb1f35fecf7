//! Finds data files shipped in the source of the `libhaystack` crate (a dev-dependency), e.g.
//! its normalized `tests/defs/defs.zinc` and `benches/zinc/points.zinc`, through
//! the unpacked sources in cargo's registry (`$CARGO_HOME/registry/src/*/libhaystack-4.*`, there
//! once this test builds), else `cargo metadata` (which may need the network: it resolves the
//! packages of every platform, not only the ones this build downloaded).

use std::path::PathBuf;
use std::process::Command;

/// The unpacked libhaystack 4.x source directory in cargo's registry, if there is one.
fn registry_dir() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let mut found: Vec<PathBuf> = std::fs::read_dir(home.join("registry/src"))
        .ok()?
        .flatten()
        .filter_map(|index| std::fs::read_dir(index.path()).ok())
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libhaystack-4."))
                && p.join("Cargo.toml").is_file()
        })
        .collect();
    found.sort();
    found.pop()
}

/// The libhaystack 4.x source directory, from `cargo metadata`.
fn metadata_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            manifest,
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| {
            p["name"] == "libhaystack" && p["version"].as_str().is_some_and(|v| v.starts_with("4."))
        })
        .and_then(|p| p["manifest_path"].as_str())
        .map(|m| PathBuf::from(m).parent().expect("crate dir").to_path_buf())
        .expect("libhaystack 4.x among the dependencies")
}

/// The text of `relative` inside the libhaystack 4.x source directory.
pub fn read(relative: &str) -> String {
    let dir = registry_dir().unwrap_or_else(metadata_dir);
    let path = dir.join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// libhaystack's normalized defs (`tests/defs/defs.zinc`, 714 defs of the 3.9.15 libraries).
pub fn defs_grid() -> libhaystack::val::Grid {
    let text = read("tests/defs/defs.zinc");
    let value = libhaystack::encoding::zinc::decode::from_str(&text).expect("defs.zinc");
    libhaystack::val::Grid::try_from(&value).expect("a grid")
}

/// libhaystack's `points.zinc` (1,194 point records of a demo project): its rows as
/// libhaystack dicts and as this crate's dicts (through Hayson JSON).
pub fn points() -> (Vec<libhaystack::val::Dict>, Vec<haystack_core::Dict>) {
    let text = read("benches/zinc/points.zinc");
    let value = libhaystack::encoding::zinc::decode::from_str(&text).expect("points.zinc");
    let grid = libhaystack::val::Grid::try_from(&value).expect("a grid");
    let ours = grid
        .rows
        .iter()
        .map(|d| {
            let json = serde_json::to_string(d).expect("Hayson");
            let v = haystack_core::json::from_str(&json).expect("we read libhaystack's Hayson");
            v.as_dict().expect("a dict").clone()
        })
        .collect();
    (grid.rows, ours)
}
