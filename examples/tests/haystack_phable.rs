//! The published Python Haystack client `phable` 0.1.29, unchanged, against the real
//! `haystack-server` process with SCRAM authentication, in JSON and in Zinc: about, read,
//! read_all, read_by_ids, his_read_by_ids (one id, several ids, a DateRange, a DateTimeRange),
//! his_write_by_id then his_read_by_ids, point_write then point_write_array, close; a wrong
//! password gives `AuthError`; the priority array and the written series survive a restart.
//! `scripts/test` installs phable into `.venv-test` and sets `HAYSTACK_PYTHON`.

mod haystack_support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use examples::haystack::db::Db;
use examples::haystack::sample;
use examples::store::LocalStore;
use haystack_core::{Dict, Number, Ref, Value};
use haystack_support::{Server, spawn_server};
use serde_json::{Value as Json, json};
use time::macros::datetime;

/// The interpreter with phable, or `None` (after a SKIPPED line) outside CI without it.
fn python(test: &str) -> Option<String> {
    match std::env::var("HAYSTACK_PYTHON")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        Some(p) => Some(p),
        None => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{test}: HAYSTACK_PYTHON is not set; under CI phable is required: run `scripts/test`"
                );
            }
            eprintln!(
                "SKIPPED (needs phable): {test}: run `scripts/test -p examples --test haystack_phable`"
            );
            None
        }
    }
}

/// The sample site (series ending 2024-06-01 12:00 UTC) plus a writable setpoint `@hq.sp`,
/// imported into a local store under `dir/db`.
async fn dataset(dir: &std::path::Path) -> String {
    let mut site = sample::generate(datetime!(2024-06-01 12:00 UTC));
    let mut sp = Dict::new();
    let _ = sp.insert("id", Ref::with_dis("hq.sp", "HQ Setpoint"));
    let _ = sp.insert("dis", "HQ Setpoint");
    for m in ["point", "writable", "sp", "temp"] {
        let _ = sp.insert(m, Value::Marker);
    }
    let _ = sp.insert("kind", "Number");
    let _ = sp.insert("unit", "°F");
    let _ = sp.insert("tz", "New_York");
    let _ = sp.insert("curVal", Number::with_unit(70.0, "°F"));
    let _ = sp.insert("writeDef", Number::with_unit(70.0, "°F"));
    let _ = sp.insert("siteRef", Ref::new("hq").unwrap());
    site.entities.push_dict(&sp).unwrap();
    let src = sample::write_to(&dir.join("src"), &site).unwrap();
    let store_dir = dir.join("db");
    let store = Arc::new(LocalStore::open(&store_dir).unwrap());
    let db = Db::new(store.clone(), store);
    db.import(&src.to_string_lossy(), &|_| {}).await.unwrap();
    store_dir.to_string_lossy().into_owned()
}

fn add_user(users: &std::path::Path, name: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_haystack-server"))
        .args(["user", "add", name, "--users"])
        .arg(users)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start(db: &str, users: &std::path::Path) -> Server {
    spawn_server(&["--db", db, "--users", &users.to_string_lossy()], &[]).expect("starts")
}

fn phable(python: &str, server: &Server, password: &str, format: &str, mode: &str) -> Json {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/haystack_phable.py");
    let out = Command::new(python)
        .arg(script)
        .args([&server.base, "alice", password, format, mode])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "phable {format} {mode} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    })
}

#[tokio::test]
async fn phable_json_and_zinc() {
    let Some(python) = python("phable_json_and_zinc") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dataset(dir.path()).await;
    let users = dir.path().join("users.json");
    add_user(&users, "alice", "s3cret pass");
    let server = start(&db, &users);
    for format in ["json", "zinc"] {
        let out = phable(&python, &server, "s3cret pass", format, "full");
        let expect = |key: &str, want: Json| {
            assert_eq!(out[key], want, "{format} {key}: {out}");
        };
        expect("wrong_password", json!("AuthError"));
        expect("about", json!("haystack-server"));
        expect("read", json!("hq"));
        expect("read_all", json!(18));
        expect("read_by_ids", json!(["hq.ahu1.dat", "hq.ahu1.fan"]));
        // 2024-05-31 in New_York: the series starts 08:00 local, every 15 minutes.
        expect("his_one", json!([64, ["ts", "v0"]]));
        expect(
            "his_many",
            json!([64, ["ts", "v0", "v1"], ["hq.ahu1.dat", "hq.ahu1.fan"]]),
        );
        expect("his_datetime_range", json!(8));
        expect("his_single", json!(4));
        expect("his_written", json!([[99.5, "°F"], [100.0, "°F"]]));
        expect("his_write_wrong_unit", json!("CallError"));
        expect(
            "point_array",
            json!([
                [8, [72.0, "°F"], "phable-8"],
                [16, [65.0, "°F"], "phable-16"],
                [17, [70.0, "°F"], null]
            ]),
        );
        expect("cur_val", json!([[72.0, "°F"], [8.0, null]]));
        expect("cur_val_after_auto", json!([65.0, "°F"]));
        expect("after_close", json!(401));
    }
    // Restarted, the server still has the priority array and the written samples.
    drop(server);
    let server = start(&db, &users);
    let out = phable(&python, &server, "s3cret pass", "zinc", "persisted");
    assert_eq!(
        out["point_array"],
        json!([[16, [65.0, "°F"], "phable-16"], [17, [70.0, "°F"], null]]),
        "{out}"
    );
    assert_eq!(
        out["his_written"],
        json!([[99.5, "°F"], [100.0, "°F"]]),
        "{out}"
    );
}
