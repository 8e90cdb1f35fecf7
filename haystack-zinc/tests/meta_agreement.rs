//! A grid read from Zinc and the same grid read from Hayson (JSON v4) agree about their meta:
//! `ver` is the format's version in both (never a meta tag), every other meta tag and every
//! column's meta are the same, whichever reader (whole document or streaming) reads them.

use haystack_core::{Dict, Grid, Value};

/// The same grid in both formats, with meta tags beside `ver` and column meta.
const ZINC: &str = "ver:\"3.0\" dis:\"Campus\" hisStart:2024-01-01T00:00:00Z UTC\n\
id dis:\"Id\",curVal unit:\"°F\" enum:\"a,b\"\n@a,72°F\n@b,\n";
const JSON: &str = r#"{"_kind":"grid","meta":{"ver":"3.0","dis":"Campus","hisStart":{"_kind":"dateTime","val":"2024-01-01T00:00:00Z","tz":"UTC"}},"cols":[{"name":"id","meta":{"dis":"Id"}},{"name":"curVal","meta":{"unit":"°F","enum":"a,b"}}],"rows":[{"id":{"_kind":"ref","val":"a"},"curVal":{"_kind":"number","val":72,"unit":"°F"}},{"id":{"_kind":"ref","val":"b"}}]}"#;

fn col_metas(grid: &Grid) -> Vec<(String, Dict)> {
    grid.cols()
        .iter()
        .map(|c| (c.name().to_owned(), c.meta().clone()))
        .collect()
}

fn grids() -> Vec<(&'static str, Grid)> {
    let json = match haystack_core::json::from_str(JSON).unwrap() {
        Value::Grid(g) => *g,
        other => panic!("not a grid: {other:?}"),
    };
    vec![
        ("zinc", haystack_zinc::from_str(ZINC).unwrap()),
        (
            "zinc stream",
            haystack_zinc::GridReader::new(ZINC.as_bytes())
                .unwrap()
                .into_grid()
                .unwrap(),
        ),
        ("json", json),
        (
            "json stream",
            haystack_core::json::GridReader::new(JSON.as_bytes())
                .unwrap()
                .into_grid()
                .unwrap(),
        ),
    ]
}

#[test]
fn zinc_and_json_readers_agree_about_grid_and_column_meta() {
    let grids = grids();
    let (_, first) = &grids[0];
    assert_eq!(
        first.meta().get("ver"),
        None,
        "ver is syntax, not a meta tag"
    );
    assert_eq!(first.meta().get("dis"), Some(&Value::from("Campus")));
    assert_eq!(first.meta().len(), 2, "{:?}", first.meta());
    for (name, grid) in &grids[1..] {
        assert_eq!(grid.meta(), first.meta(), "grid meta read by {name}");
        assert_eq!(
            col_metas(grid),
            col_metas(first),
            "column meta read by {name}"
        );
        assert_eq!(grid, first, "whole grid read by {name}");
    }
}

#[test]
fn each_writer_writes_one_ver_and_reads_back_the_same_meta() {
    for (name, grid) in grids() {
        let zinc = haystack_zinc::to_string(&grid);
        assert_eq!(zinc.matches("ver:").count(), 1, "{name}: {zinc}");
        assert_eq!(
            haystack_zinc::from_str(&zinc).unwrap().meta(),
            grid.meta(),
            "{name}"
        );
        let json = haystack_core::json::to_string(&Value::from(grid.clone()));
        assert_eq!(json.matches("\"ver\"").count(), 1, "{name}: {json}");
        let back = match haystack_core::json::from_str(&json).unwrap() {
            Value::Grid(g) => *g,
            other => panic!("not a grid: {other:?}"),
        };
        assert_eq!(back.meta(), grid.meta(), "{name}");
    }
}
