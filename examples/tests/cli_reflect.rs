//! `haystack reflect`: each entity with the defs it implements, run as the real binary.

use std::process::{Command, Output};

use haystack_core::{Dict, Value};

const BIN: &str = env!("CARGO_BIN_EXE_haystack");

fn haystack(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn syms(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.as_symbol().map(str::to_owned))
        .collect()
}

/// The output grid's rows.
fn rows(o: &Output) -> Vec<Dict> {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    let grid = haystack_zinc::from_str(&text).unwrap();
    let names: Vec<&str> = grid.cols().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["id", "dis", "entityTypes", "defs"]);
    grid.rows().map(|r| r.to_dict()).collect()
}

const SITE: &str = r#"ver:"3.0"
id,dis,site,equip,ahu,hot,water,plant,point,air,temp,sensor,area
@s,"HQ",M,,,,,,,,,,3702ft²
@ahu,"AHU-1",,M,M,,,,,,,,
@hwp,"Hot Water Plant",,M,,M,M,M,,,,,
@dat,"DAT",,,,,,,M,M,M,M,
@x,"Nothing",,,,,,,,,,,
"#;

#[test]
fn reflect_a_zinc_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.zinc");
    std::fs::write(&path, SITE).unwrap();
    let out = rows(&haystack(&["reflect", path.to_str().unwrap()]));
    assert_eq!(out.len(), 5);
    let types: Vec<Vec<String>> = out.iter().map(|r| syms(r.get("entityTypes"))).collect();
    assert_eq!(types[0], ["site"]);
    assert_eq!(types[1], ["ahu"]);
    assert_eq!(types[2], ["hot-water-plant"]);
    // A sensor point: no point subtype is a conjunct of its tags, so it is a point.
    let dat = syms(out[3].get("defs"));
    assert!(dat.contains(&"air-temp".to_owned()) && dat.contains(&"point".to_owned()));
    assert_eq!(types[3], ["point"]);
    assert!(types[4].is_empty());
    let ahu = syms(out[1].get("defs"));
    for d in [
        "ahu",
        "airHandlingEquip",
        "equip",
        "entity",
        "marker",
        "id",
        "ref",
        "dis",
        "str",
    ] {
        assert!(ahu.contains(&d.to_owned()), "{d} not in {ahu:?}");
    }
    let hwp = syms(out[2].get("defs"));
    assert!(hwp.contains(&"hot-water".to_owned()) && hwp.contains(&"liquid".to_owned()));
    let site = syms(out[0].get("defs"));
    assert!(site.contains(&"area".to_owned()) && site.contains(&"geoPlace".to_owned()));
    assert_eq!(out[1].get("id").map(|v| v.to_string()), Some("@ahu".into()));
    assert_eq!(out[1].get("dis"), Some(&Value::from("AHU-1")));
}

#[test]
fn reflect_with_a_project_lib_and_trio_input() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("acme.trio");
    std::fs::write(
        &lib,
        "def: ^lib:acme\ndoc: \"Acme\"\nversion: \"1.0\"\ndepends: [^lib:ph, ^lib:phIoT]\n---\n\
         def: ^acmeWidget\nis: ^ahu\ndoc: \"A widget\"\n",
    )
    .unwrap();
    let recs = dir.path().join("recs.trio");
    std::fs::write(&recs, "id: @w\ndis: \"W-1\"\nacmeWidget\nahu\nequip\n").unwrap();
    let out = rows(&haystack(&[
        "reflect",
        "--lib",
        lib.to_str().unwrap(),
        recs.to_str().unwrap(),
    ]));
    assert_eq!(syms(out[0].get("entityTypes")), ["acmeWidget"]);
    assert!(syms(out[0].get("defs")).contains(&"airHandlingEquip".to_owned()));
    // Without the lib, the unknown tag reflects nothing and ahu is the entity type.
    let out = rows(&haystack(&["reflect", recs.to_str().unwrap()]));
    assert_eq!(syms(out[0].get("entityTypes")), ["ahu"]);
}

#[test]
fn reflect_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.trio");
    std::fs::write(&bad, "def: ^lib:bad\ndoc: \"x\"\nversion: \"1\"\ndepends: [^lib:ph]\n---\ndef: ^gizmo\nis: ^gadget\n").unwrap();
    let recs = dir.path().join("recs.trio");
    std::fs::write(&recs, "dis: \"x\"\n").unwrap();
    let o = haystack(&[
        "reflect",
        "--lib",
        bad.to_str().unwrap(),
        recs.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim(),
        "haystack: the def libraries do not compile: ^gizmo is ^gadget, which is not defined in the namespace of ^lib:bad"
    );
    let o = haystack(&["reflect", dir.path().join("missing.zinc").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}
