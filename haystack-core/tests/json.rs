//! Haystack JSON v4 (Hayson) and v3: every kind both ways, nested grids, decoding rules,
//! errors, and property round trips over arbitrary nested values.

use haystack_core::json::{self, V3, Version};
use haystack_core::{Col, Coord, DateTime, Dict, Error, Grid, Number, Ref, Value, XStr, dict};
use proptest::prelude::*;
use time::macros::{date, datetime, time};

fn dt() -> Value {
    Value::DateTime(DateTime::new(datetime!(2021-03-22 13:57:00.381 -04:00), "New_York").unwrap())
}

/// (value, Hayson, v3) for every kind.
fn kinds() -> Vec<(Value, &'static str, &'static str)> {
    vec![
        (Value::Null, "null", "null"),
        (Value::Marker, r#"{"_kind":"marker"}"#, r#""m:""#),
        (Value::Na, r#"{"_kind":"na"}"#, r#""z:""#),
        (Value::Remove, r#"{"_kind":"remove"}"#, r#""-:""#),
        (Value::Bool(true), "true", "true"),
        (Value::Bool(false), "false", "false"),
        (Value::from(123.45), "123.45", r#""n:123.45""#),
        (Value::from(42.0), "42", r#""n:42""#),
        (Value::from(-0.5), "-0.5", r#""n:-0.5""#),
        (
            Value::Number(Number::with_unit(123.0, "m")),
            r#"{"_kind":"number","val":123,"unit":"m"}"#,
            r#""n:123 m""#,
        ),
        (
            Value::Number(Number::with_unit(73.2, "°F")),
            r#"{"_kind":"number","val":73.2,"unit":"°F"}"#,
            r#""n:73.2 °F""#,
        ),
        (
            Value::from(f64::INFINITY),
            r#"{"_kind":"number","val":"INF"}"#,
            r#""n:INF""#,
        ),
        (
            Value::from(f64::NEG_INFINITY),
            r#"{"_kind":"number","val":"-INF"}"#,
            r#""n:-INF""#,
        ),
        (
            Value::from(f64::NAN),
            r#"{"_kind":"number","val":"NaN"}"#,
            r#""n:NaN""#,
        ),
        (Value::from("hello"), r#""hello""#, r#""hello""#),
        (Value::from("a:b"), r#""a:b""#, r#""s:a:b""#),
        (
            Value::from("line\n\"q\""),
            r#""line\n\"q\"""#,
            r#""line\n\"q\"""#,
        ),
        (
            Value::Uri("https://project-haystack.org".into()),
            r#"{"_kind":"uri","val":"https://project-haystack.org"}"#,
            r#""u:https://project-haystack.org""#,
        ),
        (
            Value::Ref(Ref::new("abc-def").unwrap()),
            r#"{"_kind":"ref","val":"abc-def"}"#,
            r#""r:abc-def""#,
        ),
        (
            Value::Ref(Ref::with_dis("abc-def", "Main Elec Meter")),
            r#"{"_kind":"ref","val":"abc-def","dis":"Main Elec Meter"}"#,
            r#""r:abc-def Main Elec Meter""#,
        ),
        (
            Value::Symbol("elec-meter".into()),
            r#"{"_kind":"symbol","val":"elec-meter"}"#,
            r#""y:elec-meter""#,
        ),
        (
            Value::Date(date!(2021 - 03 - 22)),
            r#"{"_kind":"date","val":"2021-03-22"}"#,
            r#""d:2021-03-22""#,
        ),
        (
            Value::Time(time!(17:19:23)),
            r#"{"_kind":"time","val":"17:19:23"}"#,
            r#""h:17:19:23""#,
        ),
        (
            dt(),
            r#"{"_kind":"dateTime","val":"2021-03-22T13:57:00.381-04:00","tz":"New_York"}"#,
            r#""t:2021-03-22T13:57:00.381-04:00 New_York""#,
        ),
        (
            Value::Coord(Coord::new(50.979603, 10.318789).unwrap()),
            r#"{"_kind":"coord","lat":50.979603,"lng":10.318789}"#,
            r#""c:50.979603,10.318789""#,
        ),
        (
            Value::XStr(XStr::new("Span", "today").unwrap()),
            r#"{"_kind":"xstr","type":"Span","val":"today"}"#,
            r#""x:Span:today""#,
        ),
        (Value::List(vec![]), "[]", "[]"),
        (
            Value::List(vec![
                Value::Bool(true),
                Value::from(123.0),
                Value::from("a string"),
            ]),
            r#"[true,123,"a string"]"#,
            r#"[true,"n:123","a string"]"#,
        ),
        (Value::Dict(Dict::new()), "{}", "{}"),
        (
            Value::Dict(dict! {"site" => Value::Marker, "dis" => "Carnegie Hall"}),
            r#"{"site":{"_kind":"marker"},"dis":"Carnegie Hall"}"#,
            r#"{"site":"m:","dis":"Carnegie Hall"}"#,
        ),
    ]
}

/// Haystack equality (NaN equals NaN), so NaN round trips can be checked.
fn same(a: &Value, b: &Value) -> bool {
    a == b
}

#[test]
fn every_kind_both_ways_v4_and_v3() {
    for (v, v4, v3) in kinds() {
        assert_eq!(json::to_string(&v), v4, "{v}");
        assert!(same(&json::from_str(v4).unwrap(), &v), "{v4}");
        assert_eq!(json::to_string_v3(&v), v3, "{v}");
        assert!(same(&json::from_str_v3(v3).unwrap(), &v), "{v3}");
        // serde integration: Value is Serialize/Deserialize as Hayson.
        assert_eq!(serde_json::to_string(&v).unwrap(), v4);
        assert!(same(&serde_json::from_str::<Value>(v4).unwrap(), &v));
        assert_eq!(serde_json::to_string(&V3(&v)).unwrap(), v3);
        // Bytes and readers give the same result.
        assert!(same(
            &json::from_slice(v4.as_bytes(), Version::V4).unwrap(),
            &v
        ));
        assert!(same(
            &json::from_reader(v3.as_bytes(), Version::V3).unwrap(),
            &v
        ));
        assert_eq!(json::to_vec(&v, Version::V3), v3.as_bytes());
    }
}

fn spec_grid() -> Grid {
    let mut meta = Dict::new();
    // No `ver`: that is the document's (the writers add it, the readers drop it).
    meta.insert("projName", "test").unwrap();
    let cols = vec![
        Col::with_meta("dis", dict! {"dis" => "Equip Name"}).unwrap(),
        Col::new("equip").unwrap(),
        Col::new("siteRef").unwrap(),
        Col::new("installed").unwrap(),
    ];
    let rows = vec![
        vec![
            Value::from("RTU-1"),
            Value::Marker,
            Value::Ref(Ref::with_dis("153c-699a", "HQ")),
            Value::Date(date!(2005 - 06 - 01)),
        ],
        vec![
            Value::from("RTU-2"),
            Value::Marker,
            Value::Ref(Ref::with_dis("153c-699b", "Library")),
            Value::Null,
        ],
    ];
    Grid::from_parts(meta, cols, rows).unwrap()
}

#[test]
fn grids_v4_and_v3() {
    let g = Value::Grid(Box::new(spec_grid()));
    let v4 = json::to_string(&g);
    assert_eq!(
        v4,
        concat!(
            r#"{"_kind":"grid","meta":{"ver":"3.0","projName":"test"},"#,
            r#""cols":[{"name":"dis","meta":{"dis":"Equip Name"}},{"name":"equip"},{"name":"siteRef"},{"name":"installed"}],"#,
            r#""rows":[{"dis":"RTU-1","equip":{"_kind":"marker"},"siteRef":{"_kind":"ref","val":"153c-699a","dis":"HQ"},"installed":{"_kind":"date","val":"2005-06-01"}},"#,
            r#"{"dis":"RTU-2","equip":{"_kind":"marker"},"siteRef":{"_kind":"ref","val":"153c-699b","dis":"Library"}}]}"#
        )
    );
    assert_eq!(json::from_str(&v4).unwrap(), g);
    let v3 = json::to_string_v3(&g);
    assert_eq!(
        v3,
        concat!(
            r#"{"meta":{"ver":"3.0","projName":"test"},"#,
            r#""cols":[{"name":"dis","dis":"Equip Name"},{"name":"equip"},{"name":"siteRef"},{"name":"installed"}],"#,
            r#""rows":[{"dis":"RTU-1","equip":"m:","siteRef":"r:153c-699a HQ","installed":"d:2005-06-01"},"#,
            r#"{"dis":"RTU-2","equip":"m:","siteRef":"r:153c-699b Library"}]}"#
        )
    );
    assert_eq!(json::from_str_v3(&v3).unwrap(), g);
}

#[test]
fn nested_grids_lists_dicts() {
    // The nested example of the Json chapter (its missing ':' after "rows" fixed).
    let text = r#"{
      "_kind": "grid", "meta": { "ver": "3.0" },
      "cols": [ { "name": "type" }, { "name": "val" } ],
      "rows": [
        { "type": "list", "val": [1, 2, 3] },
        { "type": "dict", "val": { "dis": "Dict!", "foo": { "_kind": "marker" } } },
        { "type": "grid", "val": { "_kind": "grid", "meta": { "ver": "3.0" },
            "cols": [ { "name": "a" }, { "name": "b" } ],
            "rows": [ { "a": 1, "b": 2 }, { "a": 3, "b": 4 } ] } },
        { "type": "scalar", "val": "simple string" }
      ]
    }"#;
    let v = json::from_str(text).unwrap();
    let g = v.as_grid().unwrap();
    assert_eq!(g.len(), 4);
    let inner = g.row(2).unwrap().get("val").unwrap().as_grid().unwrap();
    assert_eq!(inner.cell(1, 1), Some(&Value::from(4.0)));
    assert_eq!(
        g.row(0).unwrap().get("val"),
        Some(&Value::List(vec![1.0.into(), 2.0.into(), 3.0.into()]))
    );
    assert_eq!(json::from_str(&json::to_string(&v)).unwrap(), v);
    assert_eq!(json::from_str_v3(&json::to_string_v3(&v)).unwrap(), v);
}

#[test]
fn decoding_rules() {
    let table: &[(&str, Value)] = &[
        // _kind anywhere in the object
        (
            r#"{"val":"x","_kind":"ref","dis":"X"}"#,
            Value::Ref(Ref::with_dis("x", "X")),
        ),
        (
            r#"{"unit":"kW","val":5,"_kind":"number"}"#,
            Value::Number(Number::with_unit(5.0, "kW")),
        ),
        (
            r#"{"lng":2,"lat":1,"_kind":"coord"}"#,
            Value::Coord(Coord::new(1.0, 2.0).unwrap()),
        ),
        (r#"{"a":1,"_kind":"dict"}"#, Value::Dict(dict! {"a" => 1.0})),
        // dicts: verbose kind, invalid tag names skipped
        (
            r#"{"_kind":"dict","a":"b"}"#,
            Value::Dict(dict! {"a" => "b"}),
        ),
        (
            r#"{"site":{"_kind":"marker"},"dis":"Kennedy Center","Ignore":"x","_x":1}"#,
            Value::Dict(dict! {"site" => Value::Marker, "dis" => "Kennedy Center"}),
        ),
        // verbose unitless number, extra keys ignored
        (
            r#"{"_kind":"number","val":123.45,"extra":[1,{}]}"#,
            Value::from(123.45),
        ),
        (r#"{"_kind":"marker","val":1}"#, Value::Marker),
        // dateTime without tz is GMT; "Z" datetimes
        (
            r#"{"_kind":"dateTime","val":"2021-03-22T17:56:05.411Z"}"#,
            Value::DateTime(DateTime::new(datetime!(2021-03-22 17:56:05.411 UTC), "GMT").unwrap()),
        ),
        // escaped keys and strings
        (
            r#"{"d\u0069s":"\u00e9"}"#,
            Value::Dict(dict! {"dis" => "é"}),
        ),
        // plain JSON numbers of every shape
        ("1e3", Value::from(1000.0)),
        ("-0", Value::from(0.0)),
        ("18446744073709551615", Value::from(18446744073709551615.0)),
    ];
    for (text, want) in table {
        assert_eq!(&json::from_str(text).unwrap(), want, "{text}");
    }
    let v3: &[(&str, Value)] = &[
        (r#""abc""#, Value::from("abc")),
        (r#""x""#, Value::from("x")),
        (r#""""#, Value::from("")),
        (r#""é:x""#, Value::from("é:x")),
        (r#""q:unknown""#, Value::from("q:unknown")),
        (r#""s:""#, Value::from("")),
        ("12.5", Value::from(12.5)),
        (
            r#""n:5000 ft²""#,
            Value::Number(Number::with_unit(5000.0, "ft²")),
        ),
        (
            r#"{"dis":"Site-A","site":"m:","built":"d:1992-01-23"}"#,
            Value::Dict(
                dict! {"dis" => "Site-A", "site" => Value::Marker, "built" => Value::Date(date!(1992 - 01 - 23))},
            ),
        ),
        (r#"{"_kind":"marker"}"#, Value::Dict(Dict::new())),
    ];
    for (text, want) in v3 {
        assert_eq!(&json::from_str_v3(text).unwrap(), want, "{text}");
    }
}

#[test]
fn grid_rows_in_any_order_and_shape() {
    let want = json::from_str(
        r#"{"_kind":"grid","meta":{"ver":"3.0"},"cols":[{"name":"a"},{"name":"b"},{"name":"c"}],
            "rows":[{"a":1,"b":2},{"c":3,"a":4},{"b":5,"b":6},{"d":7,"Bad":8}]}"#,
    )
    .unwrap();
    let g = want.as_grid().unwrap();
    // Out-of-order tags, repeated tags (the last wins), a tag without a column (added), an
    // invalid tag name (skipped).
    assert_eq!(
        g.cols().iter().map(|c| c.name()).collect::<Vec<_>>(),
        ["a", "b", "c", "d"]
    );
    let cells: Vec<Value> = g.rows().flat_map(|r| r.to_cells()).collect();
    let n = |v: f64| Value::from(v);
    assert_eq!(
        cells,
        [
            n(1.0),
            n(2.0),
            Value::Null,
            Value::Null,
            n(4.0),
            Value::Null,
            n(3.0),
            Value::Null,
            Value::Null,
            n(6.0),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            n(7.0),
        ]
    );
    // Rows before cols and meta last decode to the same grid (the slow path).
    let reordered = json::from_str(
        r#"{"rows":[{"a":1,"b":2},{"c":3,"a":4},{"b":5,"b":6},{"d":7,"Bad":8}],
            "cols":[{"name":"a"},{"name":"b"},{"name":"c"}],"_kind":"grid","meta":{"ver":"3.0"}}"#,
    )
    .unwrap();
    assert_eq!(reordered, want);
    let kind_first_rows_first = json::from_str(
        r#"{"_kind":"grid","rows":[{"a":1,"b":2},{"c":3,"a":4},{"b":5,"b":6},{"d":7,"Bad":8}],
            "cols":[{"name":"a"},{"name":"b"},{"name":"c"}],"meta":{"ver":"3.0"}}"#,
    )
    .unwrap();
    assert_eq!(kind_first_rows_first, want);
    let meta_last = json::from_str(
        r#"{"_kind":"grid","cols":[{"name":"a"}],"rows":[{"a":1}],"meta":{"ver":"3.0","x":"y"}}"#,
    )
    .unwrap();
    assert_eq!(
        meta_last.as_grid().unwrap().meta().get("x"),
        Some(&Value::from("y"))
    );
    assert!(
        json::from_str(r#"{"_kind":"grid","cols":[{"name":"a"}],"rows":[],"rows":[]}"#).is_err()
    );
}

#[test]
fn malformed_input_is_an_error() {
    let v4 = [
        "",
        "{",
        "[1,",
        "nul",
        r#"{"a":1}x"#,
        r#"{"_kind":"nope"}"#,
        r#"{"_kind":1}"#,
        r#"{"_kind":"ref"}"#,
        r#"{"_kind":"ref","val":"bad id"}"#,
        r#"{"_kind":"ref","val":1}"#,
        r#"{"_kind":"number"}"#,
        r#"{"_kind":"number","val":"1"}"#,
        r#"{"_kind":"number","val":1,"unit":2}"#,
        r#"{"_kind":"coord","lat":91,"lng":0}"#,
        r#"{"_kind":"coord","lat":"1","lng":0}"#,
        r#"{"_kind":"xstr","type":"lower","val":"x"}"#,
        r#"{"_kind":"date","val":"2021-13-01"}"#,
        r#"{"_kind":"time","val":"25:00:00"}"#,
        r#"{"_kind":"dateTime","val":"2021-01-01"}"#,
        r#"{"_kind":"symbol","val":"a b"}"#,
        r#"{"_kind":"grid","cols":[{"meta":{}}]}"#,
        r#"{"_kind":"grid","cols":[{"name":"Bad"}]}"#,
        r#"{"_kind":"grid","cols":[{"name":"a"},{"name":"a"}]}"#,
        r#"{"_kind":"grid","rows":[1]}"#,
        r#"{"_kind":"grid","meta":[]}"#,
        r#"{"val":"x","_kind":"bogus"}"#,
    ];
    for text in v4 {
        let e = json::from_str(text).unwrap_err();
        assert!(matches!(e, Error::Json(_)), "{text}: {e:?}");
    }
    let v3 = [
        r#""n:abc""#,
        r#""r:b@d""#,
        r#""d:2021-02-30""#,
        r#""c:1""#,
        r#""c:100,0""#,
        r#""x:lower:v""#,
        r#""y:a b""#,
        r#""t:2021-01-01""#,
        r#""h:x""#,
        r#""m:x""#,
    ];
    for text in v3 {
        assert!(json::from_str_v3(text).is_err(), "{text}");
    }
    // Nesting deeper than serde_json's limit is refused, not a stack overflow.
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    assert!(json::from_str(&deep).is_err());
}

fn arb_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(Value::Marker),
        Just(Value::Na),
        Just(Value::Remove),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(Value::from),
        (
            any::<f64>(),
            prop_oneof![
                Just("°F"),
                Just("kW"),
                Just("m²"),
                Just("%RH"),
                Just("$"),
                Just("_custom")
            ]
        )
            .prop_map(|(v, u)| Value::Number(Number::with_unit(v, u))),
        any::<i64>().prop_map(|v| Value::from(v as f64)),
        "\\PC{0,12}".prop_map(|s| Value::Str(s.into())),
        "[a-z]{0,3}:[a-z]{0,3}".prop_map(|s| Value::Str(s.into())),
        "[a-zA-Z0-9/:.?#=&_-]{0,16}".prop_map(|s| Value::Uri(s.into())),
        (
            "[a-zA-Z0-9_:.~-]{1,12}",
            proptest::option::of("[^\\x00-\\x1f]{0,10}")
        )
            .prop_map(|(id, dis)| Value::Ref(Ref::from_parts(id, dis.map(Into::into)))),
        "[a-zA-Z0-9_:.~-]{1,10}".prop_map(|s| Value::Symbol(s.into())),
        (1i32..9999, 1u16..366)
            .prop_map(|(y, d)| Value::Date(time::Date::from_ordinal_date(y, d).unwrap())),
        (0u8..24, 0u8..60, 0u8..60, 0u32..1_000_000_000)
            .prop_map(|(h, m, s, ns)| Value::Time(time::Time::from_hms_nano(h, m, s, ns).unwrap())),
        (
            0i64..4_000_000_000,
            0u32..1000,
            -12i8..14,
            prop_oneof![
                Just("New_York"),
                Just("UTC"),
                Just("GMT+5"),
                Just("Los_Angeles")
            ]
        )
            .prop_map(|(secs, ms, off, tz)| {
                let odt = time::OffsetDateTime::from_unix_timestamp(secs).unwrap()
                    + time::Duration::milliseconds(i64::from(ms));
                let odt = odt.to_offset(time::UtcOffset::from_hms(off, 0, 0).unwrap());
                Value::DateTime(DateTime::new(odt, tz).unwrap())
            }),
        (-90.0f64..=90.0, -180.0f64..=180.0)
            .prop_map(|(a, b)| Value::Coord(Coord::new(a, b).unwrap())),
        ("[A-Z][a-zA-Z0-9_]{0,6}", "\\PC{0,10}")
            .prop_map(|(t, v)| Value::XStr(XStr::new(t, v).unwrap())),
    ]
}

fn arb_tag() -> impl Strategy<Value = String> {
    // "cols"/"rows"/"meta" would make a v3 dict look like a grid; "name" is a v3 column's name.
    "[a-z][a-zA-Z0-9_]{0,5}".prop_filter("reserved", |s| {
        !matches!(s.as_str(), "cols" | "rows" | "meta" | "name")
    })
}

fn arb_dict(inner: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Dict> {
    prop::collection::vec((arb_tag(), inner), 0..5).prop_map(|pairs| {
        let mut d = Dict::new();
        for (k, v) in pairs {
            if !v.is_null() {
                d.insert(k, v).unwrap();
            }
        }
        d
    })
}

fn arb_value() -> impl Strategy<Value = Value> {
    arb_scalar().prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            arb_dict(inner.clone()).prop_map(Value::Dict),
            (
                arb_dict(inner.clone()),
                prop::collection::vec((arb_tag(), arb_dict(inner.clone())), 0..4),
                prop::collection::vec(inner, 0..8)
            )
                .prop_map(|(mut meta, cols, cells)| {
                    // `ver` is the document's, never read into the meta.
                    meta.remove("ver");
                    let mut names: Vec<String> = Vec::new();
                    let mut cs = Vec::new();
                    for (n, m) in cols {
                        if !names.contains(&n) {
                            names.push(n.clone());
                            cs.push(Col::with_meta(n, m).unwrap());
                        }
                    }
                    let width = cs.len();
                    let rows: Vec<Vec<Value>> = if width == 0 {
                        Vec::new()
                    } else {
                        cells
                            .chunks(width)
                            .filter(|c| c.len() == width)
                            .map(|c| c.to_vec())
                            .collect()
                    };
                    Value::Grid(Box::new(Grid::from_parts(meta, cs, rows).unwrap()))
                }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn value_json_v4_value(v in arb_value()) {
        let text = json::to_string(&v);
        let back = json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&back, &v, "{}", text);
    }

    #[test]
    fn value_json_v3_value(v in arb_value()) {
        let text = json::to_string_v3(&v);
        let back = json::from_str_v3(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&back, &v, "{}", text);
    }

    #[test]
    fn fast_writer_matches_serde(v in arb_value()) {
        prop_assert_eq!(json::to_string(&v), serde_json::to_string(&v).unwrap());
        prop_assert_eq!(json::to_string_v3(&v), serde_json::to_string(&V3(&v)).unwrap());
    }

    #[test]
    fn decoder_never_panics(s in "\\PC{0,60}") {
        let _ = json::from_str(&s);
        let _ = json::from_str_v3(&s);
    }
}

#[test]
fn units_are_checked_when_read() {
    for bad in ["m 2", "m2", "1/h", "é é"] {
        let text = format!(r#"{{"_kind":"number","val":1,"unit":"{bad}"}}"#);
        let err = json::from_str(&text).expect_err(bad).to_string();
        assert!(err.contains("unit"), "{bad:?}: {err}");
    }
    let v3 = json::from_str_v3(r#""n:1 m 2""#).map(|v| v.to_string());
    assert!(v3.is_err(), "{v3:?}");
    assert_eq!(
        json::from_str(r#"{"_kind":"number","val":72.5,"unit":"_custom"}"#).unwrap(),
        Value::from(Number::with_unit(72.5, "_custom"))
    );
}

#[test]
fn grid_meta_ver_is_the_format_not_the_data() {
    // Zinc and JSON readers agree: `ver` belongs to the document, not to the grid meta.
    let g = json::from_str(
        r#"{"_kind":"grid","meta":{"ver":"3.0","dis":"x"},"cols":[{"name":"a"}],"rows":[{"a":1}]}"#,
    )
    .unwrap();
    let g = g.as_grid().unwrap();
    assert_eq!(g.meta(), &haystack_core::dict! { "dis" => "x" });
    let late =
        json::from_str(r#"{"_kind":"grid","cols":[{"name":"a"}],"rows":[],"meta":{"ver":"3.0"}}"#)
            .unwrap();
    assert!(late.as_grid().unwrap().meta().is_empty());
    let v3 =
        json::from_str_v3(r#"{"meta":{"ver":"2.0"},"cols":[{"name":"a"}],"rows":[{"a":"n:1"}]}"#)
            .unwrap();
    assert!(v3.as_grid().unwrap().meta().is_empty());
    // Written again, the version is there.
    assert!(json::to_string(&Value::Grid(Box::new(g.clone()))).contains(r#""ver":"3.0""#));
}

#[test]
fn draft_kind_names_are_read_only_when_lenient() {
    let draft = r#"{"id":{"_kind":"Ref","val":"p1","dis":"Point"},"point":{"_kind":"Marker"},
        "curVal":{"_kind":"Num","val":72.5,"unit":"°F"},"geo":{"_kind":"Coord","lat":37.5,"lng":-77.4},
        "start":{"_kind":"Time","val":"08:30:00"},"day":{"unit":"x","_kind":"Date","val":"2021-01-02"},
        "grid":{"_kind":"Grid","cols":[{"name":"a"}],"rows":[{"a":{"_kind":"NA"}}]}}"#;
    let strict = json::from_str(draft);
    assert!(strict.is_err(), "{strict:?}");
    let v = json::from_str_lenient(draft).unwrap();
    let d = v.as_dict().unwrap();
    assert_eq!(
        d.get("id"),
        Some(&Value::from(Ref::with_dis("p1", "Point")))
    );
    assert_eq!(d.get("point"), Some(&Value::Marker));
    assert_eq!(
        d.get("curVal"),
        Some(&Value::from(Number::with_unit(72.5, "°F")))
    );
    assert_eq!(
        d.get("geo"),
        Some(&Value::from(Coord::new(37.5, -77.4).unwrap()))
    );
    assert_eq!(d.get("start"), Some(&Value::Time(time!(08:30:00))));
    assert_eq!(d.get("day"), Some(&Value::Date(date!(2021 - 01 - 02))));
    let g = d.get("grid").and_then(Value::as_grid).unwrap();
    assert_eq!(g.row(0).unwrap().get("a"), Some(&Value::Na));
    assert_eq!(json::from_slice_lenient(draft.as_bytes()).unwrap(), v);
    // Unknown kinds stay errors, lenient or not.
    assert!(json::from_str_lenient(r#"{"_kind":"Nope"}"#).is_err());
}
