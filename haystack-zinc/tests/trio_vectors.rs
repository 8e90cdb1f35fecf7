//! Table-driven Trio vectors: every rule of the format, and its errors.

use haystack_core::{Dict, Grid, GridBuilder, Number, Value, dict};
use haystack_zinc::{Error, trio};

#[test]
fn reads_every_rule() {
    let cases: Vec<(&str, Vec<Dict>)> = vec![
        // Markers, quoted and unquoted strings, numbers with units, coords.
        (
            "dis: \"Site 1\"\nsite\narea: 3702ft²\ngeoCoord: C(37.5458,-77.4491)\nstrTag: OK if unquoted if only safe chars\n",
            vec![dict! {
                "dis" => "Site 1", "site" => Value::Marker, "area" => Number::with_unit(3702.0, "ft²"),
                "geoCoord" => haystack_core::Coord::new(37.5458, -77.4491).unwrap(),
                "strTag" => "OK if unquoted if only safe chars",
            }],
        ),
        // Multi-line strings end at the first line that is not indented; any number of dashes
        // separates records; comments and blank lines are skipped; CRLF is accepted.
        (
            "summary:\n  This is a string value that spans multiple\n\n    lines, indented\n-----\r\n// comment\nname: \"Site 2\"\r\n\n---\n",
            vec![
                dict! { "summary" => "This is a string value that spans multiple\n\n  lines, indented" },
                dict! { "name" => "Site 2" },
            ],
        ),
        // Booleans both ways, keywords, non-ASCII unquoted strings, no space after the colon.
        (
            "a:true\nb: F\nc: NA\nd: N\ne: Ünïcode text\nf:^sym\n",
            vec![dict! {
                "a" => true, "b" => false, "c" => Value::Na, "d" => Value::Null, "e" => "Ünïcode text",
                "f" => Value::Symbol("sym".into()),
            }],
        ),
        // Nested values: inline lists and dicts, multi-line lists with comments, Zinc and Trio.
        (
            "type:list\nval:[1,2,3]\n---\ntype:dict\nval:{ dis:\"Dict!\" foo}\n---\nchildren: [\n    {fan, motor, equip},\n    // skipped\n    {damper, actuator, equip},\n    ]\n---\nval:Zinc:\n  ver:\"3.0\"\n  b,a\n  20,10\n---\nrecs:Trio:\n  a: 1\n  ---\n  b\n",
            vec![
                dict! { "type" => "list", "val" => Value::List(vec![1.into(), 2.into(), 3.into()]) },
                dict! { "type" => "dict", "val" => Value::Dict(dict! { "dis" => "Dict!", "foo" => Value::Marker }) },
                dict! { "children" => Value::List(vec![
                    Value::Dict(dict! { "fan" => Value::Marker, "motor" => Value::Marker, "equip" => Value::Marker }),
                    Value::Dict(dict! { "damper" => Value::Marker, "actuator" => Value::Marker, "equip" => Value::Marker }),
                ]) },
                dict! { "val" => GridBuilder::new().col("b").col("a").row(vec![20.into(), 10.into()]).build().unwrap() },
                dict! { "recs" => Grid::from_dicts(&[dict! { "a" => 1 }, dict! { "b" => Value::Marker }]) },
            ],
        ),
        ("", vec![]),
        ("---\n---\n", vec![]),
    ];
    for (text, want) in cases {
        let got = trio::from_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(got, want, "{text:?}");
        let written = trio::to_string(&got);
        assert_eq!(trio::from_str(&written).unwrap(), want, "{written:?}");
    }
}

#[test]
fn writes_readable_trio() {
    let recs = vec![
        dict! { "dis" => "Site 1", "site" => Value::Marker, "name" => "hq", "notes" => "line 1\nline 2", "t" => "true" },
        dict! { "g" => GridBuilder::new().col("a").row(vec![1.into()]).build().unwrap() },
    ];
    assert_eq!(
        trio::to_string(&recs),
        "dis: \"Site 1\"\nsite\nname: hq\nnotes:\n  line 1\n  line 2\nt: \"true\"\n---\ng:Zinc:\n  ver:\"3.0\"\n  a\n  1\n"
    );
    let mut out = Vec::new();
    trio::to_writer(&mut out, &recs).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), trio::to_string(&recs));
}

#[test]
fn errors_say_where_and_what() {
    let cases = [
        (
            "Dis: 1\n",
            "expected tag name but found 'D' at line 1, column 1",
        ),
        (
            "a: 1\n  b: 2\n",
            "expected tag name but found ' ' at line 2, column 1",
        ),
        ("a 1\n", "expected ':' but found '1' at line 1, column 3"),
        (
            "a: \"open\n",
            "expected '\"' but found end of input at line 1, column 9",
        ),
        (
            "a: 12x y\n",
            "expected end of line but found 'y' at line 1, column 8",
        ),
        (
            "x: 1\nval:Zinc:\n  ver:\"3.0\"\n  a,b\n  1,2,3\n",
            "row has more cells than the grid's 2 columns at line 5, column 6",
        ),
        (
            "a: [1,\n  2\n",
            "expected ',' or ']' but found end of input at line 2, column 4",
        ),
    ];
    for (text, msg) in cases {
        let e = trio::from_str(text).expect_err(text);
        assert!(matches!(e, Error::Parse(_)), "{text:?}: {e:?}");
        assert_eq!(e.to_string(), msg, "{text:?}");
    }
}
