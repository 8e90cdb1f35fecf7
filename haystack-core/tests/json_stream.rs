//! The streaming Hayson grid reader (`json::GridReader`): the same grids as the whole-document
//! reader whatever the chunking of the input, errors with line and column, limits, and lenient
//! reading of the draft Hayson that shaystack writes.

use std::io::Read;

use haystack_core::json::{self, GridReader, ReadOptions};
use haystack_core::testing::realistic_grid;
use haystack_core::{Coord, Error, Grid, Number, Ref, Value};
use time::macros::time;

/// A reader that hands out at most `chunk` bytes per read.
struct Chunked<'a> {
    bytes: &'a [u8],
    chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

fn stream(text: &str, chunk: usize, opts: ReadOptions) -> Result<Grid, Error> {
    let src = Chunked {
        bytes: text.as_bytes(),
        chunk,
    };
    GridReader::with_options(src, opts)?.into_grid()
}

fn whole(text: &str) -> Grid {
    json::from_str(text).unwrap().as_grid().unwrap().clone()
}

fn zinc_rows(g: &Grid) -> Vec<String> {
    g.rows()
        .map(|r| haystack_core::zinc::to_zinc_string(&Value::Dict(r.to_dict())))
        .collect()
}

fn assert_same(a: &Grid, b: &Grid) {
    assert_eq!(a.meta(), b.meta());
    assert_eq!(a.cols(), b.cols());
    assert_eq!(zinc_rows(a), zinc_rows(b));
}

fn pretty(text: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn streamed_grids_equal_whole_documents_in_any_chunking() {
    let compact = json::to_string(&Value::Grid(Box::new(realistic_grid(300))));
    let points = include_str!("../benches/data/points.json");
    let nested = r#"{"_kind":"grid","meta":{"ver":"3.0","dis":"n"},"cols":[{"name":"a","meta":{"unit":"m"}},{"name":"b"}],
        "rows":[{"a":{"_kind":"grid","meta":{},"cols":[{"name":"x"}],"rows":[{"x":[1,{"y":"}]\"{"}]}]}},
        {"b":"\u00b0F \\\" ]}"},{},{"a":null,"b":{"_kind":"number","val":"INF"}}]}"#;
    for doc in [
        compact.clone(),
        pretty(&compact),
        points.to_owned(),
        nested.to_owned(),
    ] {
        let expected = whole(&doc);
        assert!(!expected.is_empty());
        for chunk in [1, 7, 4096, usize::MAX] {
            let got = stream(&doc, chunk, ReadOptions::default()).unwrap();
            assert_same(&got, &expected);
        }
    }
    // A tiny buffer limit still reads every row that fits.
    let opts = ReadOptions {
        max_value_bytes: 16 << 10,
        ..Default::default()
    };
    let doc = json::to_string(&Value::Grid(Box::new(realistic_grid(50))));
    assert_same(&stream(&doc, 100, opts).unwrap(), &whole(&doc));
}

#[test]
fn rows_before_cols_and_unusual_shapes() {
    let docs = [
        r#"{"rows":[{"a":1},{"b":"x"}],"_kind":"grid","cols":[{"name":"a"},{"name":"b"}],"meta":{"ver":"3.0"}}"#,
        r#"{"_kind":"grid","ver":"3.0","cols":[{"name":"a"},{"name":"b"}],"rows":[{"a":1},{"b":"x"}],"meta":{"ver":"3.0"}}"#,
        "\u{feff} \r\n{ \"_kind\" : \"grid\" ,\r\n \"meta\" : { } , \"cols\" : [ {\"name\":\"a\"},{\"name\":\"b\"} ] ,\r\n \"rows\" : [ {\"a\":1} ,\r\n {\"b\":\"x\"} ] }\r\n ",
        r#"{"_kind":"grid","meta":{},"cols":[{"name":"a"},{"name":"b"}],"rows":[{"a":1,"a":1},{"b":"x","not a tag":2}]}"#,
    ];
    for doc in docs {
        for chunk in [1, 3, usize::MAX] {
            let g =
                stream(doc, chunk, ReadOptions::default()).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(g.len(), 2, "{doc}");
            assert_eq!(g.row(0).unwrap().get("a"), Some(&Value::from(1.0)));
            assert_eq!(g.row(1).unwrap().get("b"), Some(&Value::from("x")));
            assert!(g.meta().is_empty());
        }
    }
    let empty = stream(
        r#"{"_kind":"grid","meta":{},"cols":[],"rows":[]}"#,
        1,
        Default::default(),
    )
    .unwrap();
    assert!(empty.cols().is_empty() && empty.is_empty());
    let no_rows = stream(
        r#"{"_kind":"grid","cols":[{"name":"a"}]}"#,
        1,
        Default::default(),
    )
    .unwrap();
    assert_eq!((no_rows.cols().len(), no_rows.len()), (1, 0));
}

/// The position of a streaming error, and that of the whole-document reader (from serde_json's
/// `at line L column C`).
fn positions(doc: &str) -> ((usize, usize), Option<(usize, usize)>) {
    let err = stream(doc, 5, ReadOptions::default()).expect_err(doc);
    let p = err
        .position()
        .unwrap_or_else(|| panic!("{doc}: no position in {err}"));
    let whole = json::from_str(doc).expect_err(doc).to_string();
    let w = whole.rsplit_once(" at line ").and_then(|(_, lc)| {
        let (l, c) = lc.split_once(" column ")?;
        Some((l.parse().ok()?, c.parse().ok()?))
    });
    ((p.line, p.column), w)
}

#[test]
fn errors_carry_line_and_column() {
    let head = "{\"_kind\":\"grid\",\n\"meta\":{},\n\"cols\":[{\"name\":\"a\"}],\n\"rows\":[\n";
    // Syntax errors inside rows: the same place as the whole-document reader names.
    for (rows, at) in [
        ("{\"a\":1},\n{\"a\":tru}\n]}", (6, 9)),
        ("{\"a\":1},\n  {\"a\" 2}\n]}", (6, 8)),
        ("{\"a\":1},\n{\"a\":[1,2}\n]}", (6, 10)),
        (
            "{\"a\":{\"_kind\":\"number\",\"val\":1,\"unit\":\"m 2\"}}]}",
            (5, 44),
        ),
    ] {
        let doc = format!("{head}{rows}");
        let (ours, theirs) = positions(&doc);
        assert_eq!(Some(ours), theirs, "{doc}");
        assert_eq!(ours, at, "{doc}");
    }
    // After a byte order mark (not a column), and past many refills of the buffer.
    let doc = format!("\u{feff}{head}{{\"a\":1}},\n{{\"a\":tru}}\n]}}");
    assert_eq!(positions(&doc).0, (6, 9), "{doc}");
    let doc = "\u{feff}{\"_kind\":\"grid\",\"cols\":[{\"name\":\"a\"}],\"rows\":[{\"a\":tru}]}";
    assert_eq!(positions(doc).0, (1, 55), "{doc}");
    let many = "{\"a\":\"é\"},\n".repeat(70_000);
    let doc = format!("{head}{many}{{\"a\":tru}}\n]}}");
    let (ours, theirs) = positions(&doc);
    assert_eq!((Some(ours), ours), (theirs, (70_005, 9)));
    // Framing errors the reader finds itself.
    for (doc, at, says) in [
        (
            format!("{head}{{\"a\":1}} {{\"a\":2}}]}}"),
            (5, 9),
            "expected ',' or ']'",
        ),
        (format!("{head}{{\"a\":1}}]}} x"), (5, 11), "end of input"),
        (format!("{head}{{\"a\":1}},"), (5, 9), "found end of input"),
        (format!("{head}{{\"b\":1}}]}}"), (5, 7), "has no column"),
        (format!("{head}1]}}"), (5, 1), "expected a grid row object"),
        ("[1,2]".to_owned(), (1, 1), "grid object"),
        (
            r#"{"_kind":"dict","a":1}"#.to_owned(),
            (1, 10),
            "expected a grid",
        ),
        (
            r#"{"meta":{},"cols":[],"rows":[]}"#.to_owned(),
            (1, 32),
            "_kind",
        ),
        (
            r#"{"_kind":"grid","cols":[{"name":"a"}],"rows":[],"meta":{"dis":"x"}}"#.to_owned(),
            (1, 56),
            "after 'rows'",
        ),
        (
            r#"{"_kind":"grid","cols":[{"name":"a"},{"name":"a"}],"rows":[]}"#.to_owned(),
            (1, 24),
            "a",
        ),
    ] {
        let err = stream(&doc, 3, ReadOptions::default()).expect_err(&doc);
        let p = err.position().unwrap_or_else(|| panic!("{doc}: {err}"));
        assert_eq!((p.line, p.column), at, "{doc}: {err}");
        assert!(err.to_string().contains(says), "{doc}: {err}");
    }
    // Columns count characters, not bytes.
    let doc = format!("{head}{{\"a\":\"°°°\",\"a\":x}}]}}");
    let err = stream(&doc, 2, ReadOptions::default()).unwrap_err();
    assert_eq!(
        err.position().map(|p| (p.line, p.column)),
        Some((5, 16)),
        "{err}"
    );
    // After an error the reader stops.
    let doc = format!("{head}{{\"a\":1}},{{\"a\":x}},{{\"a\":3}}]}}");
    let mut r = GridReader::new(doc.as_bytes()).unwrap();
    let mut row = Vec::new();
    assert!(r.read_row(&mut row).unwrap());
    assert!(r.read_row(&mut row).is_err());
    assert!(!r.read_row(&mut row).unwrap());
}

#[test]
fn a_value_larger_than_the_limit_is_refused_before_it_is_buffered() {
    let opts = ReadOptions {
        max_value_bytes: 1000,
        ..Default::default()
    };
    let big = "x".repeat(5000);
    let doc =
        format!(r#"{{"_kind":"grid","cols":[{{"name":"a"}}],"rows":[{{"a":1}},{{"a":"{big}"}}]}}"#);
    let mut r = GridReader::with_options(doc.as_bytes(), opts).unwrap();
    let mut row = Vec::new();
    assert!(r.read_row(&mut row).unwrap());
    let err = r.read_row(&mut row).unwrap_err();
    assert!(matches!(err, Error::LimitExceeded(_)), "{err}");
    // An input error is reported, not hidden.
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let err = GridReader::new(Broken).unwrap_err();
    assert!(err.to_string().contains("disk on fire"), "{err}");
}

/// A grid as shaystack writes it (the shape of its `sample/carytown.hayson.json`): no `_kind`,
/// `ver` in the meta, column meta beside `name`, draft kind names.
const SHAYSTACK: &str = r#"{"meta": {"ver": "3.0", "dis": "Site"}, "cols": [{"name": "dis"}, {"name": "id"},
  {"name": "area", "doc": "floor area"}, {"name": "geoCoord"}, {"name": "occupiedStart"}, {"name": "site"},
  {"name": "curVal"}, {"name": "day"}, {"name": "mod"}, {"name": "link"}, {"name": "na"}, {"name": "x"}],
  "rows": [{"dis": "Carytown", "id": {"_kind": "Ref", "val": "p_demo_r_23a44701-a89a6c66", "dis": "Carytown"},
  "area": {"_kind": "Num", "val": 3149.0, "unit": "ft\u00b2"}, "geoCoord": {"_kind": "Coord", "lat": 37.555385, "lng": -77.486903},
  "occupiedStart": {"_kind": "Time", "val": "10:00:00"}, "site": {"_kind": "Marker"}, "curVal": 13.0},
  {"day": {"_kind": "Date", "val": "2021-11-01"}, "mod": {"_kind": "DateTime", "val": "2021-11-01T16:30:00+00:00", "tz": "UTC"},
   "link": {"_kind": "Uri", "val": "http://x/"}, "na": {"_kind": "NA"}, "x": {"_kind": "XStr", "type": "Color", "val": "red"}}]}"#;

fn check_shaystack(g: &Grid) {
    assert_eq!(g.len(), 2);
    assert_eq!(g.meta().get("dis"), Some(&Value::from("Site")));
    assert_eq!(g.meta().get("ver"), None);
    assert_eq!(
        g.col("area").unwrap().meta().get("doc"),
        Some(&Value::from("floor area"))
    );
    let r = g.row(0).unwrap();
    assert_eq!(
        r.get("id"),
        Some(&Value::from(Ref::with_dis(
            "p_demo_r_23a44701-a89a6c66",
            "Carytown"
        )))
    );
    assert_eq!(
        r.get("area"),
        Some(&Value::from(Number::with_unit(3149.0, "ft²")))
    );
    assert_eq!(
        r.get("geoCoord"),
        Some(&Value::from(Coord::new(37.555385, -77.486903).unwrap()))
    );
    assert_eq!(r.get("occupiedStart"), Some(&Value::Time(time!(10:00:00))));
    assert_eq!(r.get("site"), Some(&Value::Marker));
    let r = g.row(1).unwrap();
    assert!(matches!(r.get("day"), Some(Value::Date(_))));
    assert!(matches!(r.get("mod"), Some(Value::DateTime(_))));
    assert!(matches!(r.get("link"), Some(Value::Uri(_))));
    assert_eq!(r.get("na"), Some(&Value::Na));
    assert!(matches!(r.get("x"), Some(Value::XStr(_))));
}

#[test]
fn shaystack_hayson_is_read_leniently_and_refused_strictly() {
    let lenient = ReadOptions {
        lenient: true,
        ..Default::default()
    };
    for chunk in [1, 64, usize::MAX] {
        check_shaystack(&stream(SHAYSTACK, chunk, lenient.clone()).unwrap());
    }
    let v = json::from_str_lenient(SHAYSTACK).unwrap();
    check_shaystack(v.as_grid().expect("a grid"));
    // Nested, too.
    let nested =
        format!(r#"{{"_kind":"grid","cols":[{{"name":"g"}}],"rows":[{{"g":{SHAYSTACK}}}]}}"#);
    let g = stream(&nested, 100, lenient).unwrap();
    check_shaystack(g.row(0).unwrap().get("g").and_then(Value::as_grid).unwrap());
    // Strictly: not a grid (no `_kind`), and the draft kind names are errors.
    let err = stream(SHAYSTACK, 64, ReadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("_kind"), "{err}");
    let strict = json::from_str(SHAYSTACK);
    assert!(strict.is_err(), "{strict:?}");
    let with_kind = SHAYSTACK.replacen('{', r#"{"_kind":"grid","#, 1);
    let err = stream(&with_kind, 64, ReadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("unknown _kind \"Ref\""), "{err}");
    assert!(err.position().is_some(), "{err}");
}

/// A document of `rows` rows of the realistic grid, with rows of very different lengths (one
/// with a long string of multi-byte characters and escapes), so that rows straddle the
/// reader's buffer and UTF-8 windows everywhere.
fn uneven_doc(rows: usize) -> String {
    let mut g = realistic_grid(rows);
    let long: String = "°F \"é\" \\ 😀 ".repeat(700);
    g.push_tags([
        (0, Value::Ref(Ref::new("long").unwrap())),
        (1, Value::from(long)),
    ])
    .unwrap();
    json::to_string(&Value::Grid(Box::new(g)))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Rows decoded straight from the buffer: whatever the chunking, an intact document
    /// streams as the whole-document reader reads it; and whatever bytes are changed, a grid
    /// the streaming reader returns is the one the whole-document reader reads (a document it
    /// cannot read is an error, never a panic or a shorter grid).
    #[test]
    fn streamed_rows_agree_with_the_whole_document_reader(
        rows in 1usize..40,
        chunk in proptest::prop_oneof![1usize..16, 1000usize..5000, proptest::strategy::Just(usize::MAX)],
        edits in proptest::collection::vec((0.0f64..1.0, 0u8..=255, 0u8..3), 0..3),
    ) {
        let mut bytes = uneven_doc(rows).into_bytes();
        let intact = GridReader::new(Chunked { bytes: &bytes, chunk }).and_then(|r| r.into_grid());
        let intact = intact.expect("an intact document streams");
        proptest::prop_assert_eq!(intact.len(), rows + 1);
        assert_same(&intact, &whole(std::str::from_utf8(&bytes).unwrap()));
        for (at, byte, op) in edits {
            let i = ((bytes.len() as f64) * at) as usize;
            match op {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => { bytes.remove(i); }
                _ => if let Some(b) = bytes.get_mut(i) { *b = byte; },
            }
        }
        let src = Chunked { bytes: &bytes, chunk };
        let streamed = GridReader::new(src).and_then(|r| r.into_grid());
        let whole = json::from_slice(&bytes, json::Version::V4);
        if let Ok(got) = streamed {
            let whole = whole.expect("the whole-document reader accepts what the stream does");
            let expected = whole.as_grid().expect("a grid");
            proptest::prop_assert_eq!(got.len(), expected.len());
            assert_same(&got, expected);
        }
    }
}

/// Found by the `hayson_stream` fuzz target: a member the stream reader does not use was only
/// skipped, so text in it that is not UTF-8 passed there, but not in the whole-document reader
/// when the grid object's `_kind` does not come first (it then decodes every member).
#[test]
fn unused_members_are_read_as_strictly_as_the_whole_document_reader_reads_them() {
    for doc in [
        &b"{\"cols\":[{\"name\":\"a\"}],\"_kind\":\"grid\",\"x\":{\"k\xff\":\"v\"},\"rows\":[{\"a\":1}]}"[..],
        b"{\"cols\":[{\"name\":\"a\"}],\"_kind\":\"grid\",\"x\":{\"_kind\":\"bogus\"},\"rows\":[]}",
    ] {
        let whole = json::from_slice(doc, json::Version::V4);
        let streamed = GridReader::new(doc).and_then(|r| r.into_grid());
        assert!(whole.is_err(), "{whole:?}");
        assert!(streamed.is_err(), "{streamed:?}");
    }
    // After a leading `_kind`, both readers check an unused member only for syntax.
    let doc = b"{\"_kind\":\"grid\",\"cols\":[{\"name\":\"a\"}],\"x\":{\"k\xff\":{\"_kind\":\"bogus\"}},\"rows\":[{\"a\":1}]}";
    let whole = json::from_slice(doc, json::Version::V4).unwrap();
    let streamed = GridReader::new(&doc[..])
        .and_then(|r| r.into_grid())
        .unwrap();
    assert_eq!(Value::Grid(Box::new(streamed)), whole);
}

/// A long run of bytes that continue no UTF-8 character, across the reader's windows and
/// buffer refills: an error with a position, at any chunking, as the whole-document reader's.
#[test]
fn a_long_run_of_stray_continuation_bytes_is_an_error_at_any_chunking() {
    let mut doc = br#"{"_kind":"grid","cols":[{"name":"a"}],"rows":[{"a":"x"},{"a":""#.to_vec();
    let at = doc.len();
    doc.extend(std::iter::repeat_n(0x80u8, 5000));
    doc.extend_from_slice(br#""}]}"#);
    assert!(json::from_slice(&doc, json::Version::V4).is_err());
    for chunk in [1, 3, 1000, usize::MAX] {
        let err = GridReader::new(Chunked { bytes: &doc, chunk })
            .and_then(|r| r.into_grid())
            .expect_err("not UTF-8");
        let p = err.position().expect("a position");
        assert_eq!((p.line, p.offset), (1, at), "{err}");
    }
}
