//! Table-driven vectors for every Zinc grammar rule and every reader error.

use haystack_core::{Col, Coord, Dict, Grid, GridBuilder, Number, Ref, Value, XStr, dict};
use haystack_zinc::{Error, GridReader, Limits, from_str, to_string, value_from_str};

fn grid(cols: &[&str], rows: Vec<Vec<Value>>) -> Grid {
    let mut b = GridBuilder::new();
    for c in cols {
        b = b.col(*c);
    }
    b.rows(rows).build().unwrap()
}

fn n(v: f64) -> Value {
    Value::from(v)
}

fn s(v: &str) -> Value {
    Value::from(v)
}

/// Reads `zinc` both ways (whole and streaming, in tiny reads) and checks they agree.
fn read_both(zinc: &str) -> Result<Grid, String> {
    let whole = from_str(zinc).map_err(|e| e.to_string());
    let streamed = GridReader::new(Tiny(zinc.as_bytes()))
        .and_then(|r| r.into_grid())
        .map_err(|e| e.to_string());
    assert_eq!(
        whole, streamed,
        "whole and streaming readers disagree on {zinc:?}"
    );
    whole
}

/// A reader that returns at most 3 bytes per read, to exercise buffer refills.
struct Tiny<'a>(&'a [u8]);

impl std::io::Read for Tiny<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(3).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn grids() {
    let site_meta = dict! { "database" => "test", "dis" => "Site Energy Summary" };
    let cases: Vec<(&str, Grid)> = vec![
        // The spec's first example.
        (
            "ver:\"3.0\"\nfirstName,bday\n\"Jack\",1973-07-23\n\"Jill\",1975-11-15\n",
            grid(
                &["firstName", "bday"],
                vec![
                    vec![s("Jack"), Value::Date(time::macros::date!(1973 - 07 - 23))],
                    vec![s("Jill"), Value::Date(time::macros::date!(1975 - 11 - 15))],
                ],
            ),
        ),
        // Grid and column meta.
        (
            "ver:\"3.0\" database:\"test\" dis:\"Site Energy Summary\"\nsiteName dis:\"Sites\", val dis:\"Value\" unit:\"kW\"\n\"Site 1\", 356.214kW\n\"Site 2\", 463.028kW\n",
            Grid::from_parts(
                site_meta,
                vec![
                    Col::with_meta("siteName", dict! { "dis" => "Sites" }).unwrap(),
                    Col::with_meta("val", dict! { "dis" => "Value", "unit" => "kW" }).unwrap(),
                ],
                vec![
                    vec![s("Site 1"), Value::from(Number::with_unit(356.214, "kW"))],
                    vec![s("Site 2"), Value::from(Number::with_unit(463.028, "kW"))],
                ],
            )
            .unwrap(),
        ),
        // Empty cells and N are both null.
        (
            "ver:\"3.0\"\na,b,c,d,e,f\n\"a\",N,2,N,N,\"z\"\n\"a\",,2,,,\"z\"\n",
            grid(
                &["a", "b", "c", "d", "e", "f"],
                vec![vec![s("a"), Value::Null, n(2.0), Value::Null, Value::Null, s("z")]; 2],
            ),
        ),
        // Single column nulls are N.
        ("ver:\"3.0\"\nval\nN\n1\n", grid(&["val"], vec![vec![Value::Null], vec![n(1.0)]])),
        // Zinc 2.0, CRLF, no final newline, marker meta.
        (
            "ver:\"2.0\" hisMeta\r\na,b\r\n1,2\r\n3,4",
            Grid::from_parts(
                dict! { "hisMeta" => Value::Marker },
                vec![Col::new("a").unwrap(), Col::new("b").unwrap()],
                vec![vec![n(1.0), n(2.0)], vec![n(3.0), n(4.0)]],
            )
            .unwrap(),
        ),
        // Nested values, as in the spec.
        (
            "ver:\"3.0\"\ntype,val\n\"list\",[1,2,3]\n\"dict\",{dis:\"Dict!\" foo}\n\"grid\",<<\n  ver:\"2.0\"\n  a,b\n  1,2\n  3,4\n  >>\n\"scalar\",\"simple string\"\n",
            grid(
                &["type", "val"],
                vec![
                    vec![s("list"), Value::List(vec![n(1.0), n(2.0), n(3.0)])],
                    vec![s("dict"), Value::Dict(dict! { "dis" => "Dict!", "foo" => Value::Marker })],
                    vec![
                        s("grid"),
                        Value::from(grid(&["a", "b"], vec![vec![n(1.0), n(2.0)], vec![n(3.0), n(4.0)]])),
                    ],
                    vec![s("scalar"), s("simple string")],
                ],
            ),
        ),
        // Dicts with commas, trailing commas, whitespace; lists with trailing commas and nesting.
        (
            "ver:\"3.0\"\nv\n{a:1, b:2,}\n{ a : 1 }\n[1, [2, [3,],], {},]\n[]\n",
            grid(
                &["v"],
                vec![
                    vec![Value::Dict(dict! { "a" => 1.0, "b" => 2.0 })],
                    vec![Value::Dict(dict! { "a" => 1.0 })],
                    vec![Value::List(vec![
                        n(1.0),
                        Value::List(vec![n(2.0), Value::List(vec![n(3.0)])]),
                        Value::Dict(Dict::new()),
                    ])],
                    vec![Value::List(vec![])],
                ],
            ),
        ),
        // A list spanning lines inside a row, and a nested grid on one line.
        (
            "ver:\"3.0\"\na,b\n[1,\n 2],<<ver:\"3.0\"\nx\n\"]\\\"\"\n>>\n",
            grid(
                &["a", "b"],
                vec![vec![Value::List(vec![n(1.0), n(2.0)]), Value::from(grid(&["x"], vec![vec![s("]\"")]]))]],
            ),
        ),
        // Every scalar kind in cells.
        (
            "ver:\"3.0\"\nv\nM\nNA\nR\nT\nF\nINF\n-INF\n`http://x/\\#a`\n@a-b \"A B\"\n^hot-water\n08:12:05\nC(37.55,-77.45)\nColor(\"red\")\n2010-01-08T05:00:00Z UTC\n",
            grid(
                &["v"],
                vec![
                    vec![Value::Marker],
                    vec![Value::Na],
                    vec![Value::Remove],
                    vec![Value::Bool(true)],
                    vec![Value::Bool(false)],
                    vec![n(f64::INFINITY)],
                    vec![n(f64::NEG_INFINITY)],
                    vec![Value::Uri("http://x/\\#a".into())],
                    vec![Value::from(Ref::with_dis("a-b", "A B"))],
                    vec![Value::Symbol("hot-water".into())],
                    vec![Value::Time(time::macros::time!(08:12:05))],
                    vec![Value::from(Coord::new(37.55, -77.45).unwrap())],
                    vec![Value::from(XStr::new("Color", "red").unwrap())],
                    vec![Value::from(haystack_core::DateTime::utc(time::macros::datetime!(2010-01-08 05:00 UTC)))],
                ],
            ),
        ),
        // The empty grid; leading blank lines; a byte order mark; trailing blank lines.
        ("\u{feff}\n\nver:\"3.0\"\nempty\n\n\n", Grid::new()),
        // Column meta with nested values.
        (
            "ver:\"3.0\" tags:[^a,^b] g:<<\nver:\"3.0\"\nz\n>>\nid enum:{a:1} x:N\n",
            Grid::from_parts(
                dict! {
                    "tags" => Value::List(vec![Value::Symbol("a".into()), Value::Symbol("b".into())]),
                    "g" => Value::from(grid(&["z"], vec![])),
                },
                vec![Col::with_meta("id", dict! { "enum" => Value::Dict(dict! { "a" => 1.0 }), "x" => Value::Null }).unwrap()],
                vec![],
            )
            .unwrap(),
        ),
    ];
    for (zinc, want) in cases {
        let got = read_both(zinc).unwrap_or_else(|e| panic!("{zinc:?}: {e}"));
        assert_eq!(got, want, "{zinc:?}");
        // What we write reads back the same, and is stable.
        let written = to_string(&got);
        let again = read_both(&written).unwrap_or_else(|e| panic!("{written:?}: {e}"));
        assert_eq!(again, want, "{written:?}");
        assert_eq!(to_string(&again), written);
    }
}

#[test]
fn writes_canonical_zinc() {
    let g =
        from_str("ver:\"3.0\" dis:\"x\"\na, b  dis:\"B\" , c\n1 , , M\nN,5.4e-45,\"$\"\n").unwrap();
    assert_eq!(
        to_string(&g),
        "ver:\"3.0\" dis:\"x\"\na,b dis:\"B\",c\n1,,M\n,5.4e-45,\"\\$\"\n"
    );
    assert_eq!(to_string(&Grid::new()), "ver:\"3.0\"\nempty\n");
}

#[test]
fn values() {
    let cases: Vec<(&str, Value)> = vec![
        (
            "[1, \"two\", 3]",
            Value::List(vec![n(1.0), s("two"), n(3.0)]),
        ),
        (
            "{dis:\"Building\" site area:35000ft²}",
            Value::Dict(dict! {
                "dis" => "Building", "site" => Value::Marker, "area" => Number::with_unit(35000.0, "ft²")
            }),
        ),
        ("  @x  ", Value::from(Ref::new("x").unwrap())),
        (
            "<<\nver:\"3.0\"\na\n1\n>>",
            Value::from(grid(&["a"], vec![vec![n(1.0)]])),
        ),
        (
            "ver:\"3.0\"\na\n1\n",
            Value::from(grid(&["a"], vec![vec![n(1.0)]])),
        ),
        (
            "{a:{b:{c:[{}]}}}",
            Value::Dict(
                dict! { "a" => Value::Dict(dict! { "b" => Value::Dict(dict! {
                    "c" => Value::List(vec![Value::Dict(Dict::new())])
                }) }) },
            ),
        ),
    ];
    for (zinc, want) in cases {
        assert_eq!(
            value_from_str(zinc).unwrap_or_else(|e| panic!("{zinc:?}: {e}")),
            want,
            "{zinc:?}"
        );
    }
}

#[test]
fn errors_say_where_and_what() {
    let cases = [
        (
            "",
            "expected 'ver:' but found end of input at line 1, column 1",
        ),
        ("a,b\n", "expected 'ver:' but found 'a' at line 1, column 1"),
        (
            "ver:\"4.0\"\na\n",
            "unsupported Zinc version \"4.0\" at line 1, column 5",
        ),
        (
            "ver:3.0\na\n",
            "expected '\"' but found '3' at line 1, column 5",
        ),
        (
            "ver:\"3.0\",x\na\n",
            "expected newline but found ',' at line 1, column 10",
        ),
        (
            "ver:\"3.0\"\n\n",
            "expected tag name but found newline at line 2, column 1",
        ),
        (
            "ver:\"3.0\"\nA\n",
            "expected tag name but found 'A' at line 2, column 1",
        ),
        (
            "ver:\"3.0\"\na,a\n",
            "duplicate column 'a' at line 2, column 3",
        ),
        (
            "ver:\"3.0\"\na,\n",
            "expected tag name but found newline at line 2, column 3",
        ),
        (
            "ver:\"3.0\"\na,b\n1,2,3\n",
            "row has more cells than the grid's 2 columns at line 3, column 4",
        ),
        (
            "ver:\"3.0\"\na,b\n1\n",
            "row has 1 cell but the grid has 2 columns at line 3, column 2",
        ),
        (
            "ver:\"3.0\"\na,b,c\n1,2\n",
            "row has 2 cells but the grid has 3 columns at line 3, column 4",
        ),
        (
            "ver:\"3.0\"\na,b\n1 2,3\n",
            "expected ',' but found '2' at line 3, column 3",
        ),
        (
            "ver:\"3.0\"\na\n\"abc\n",
            "expected '\"' but found newline at line 3, column 5",
        ),
        (
            "ver:\"3.0\"\na\n[1 2]\n",
            "expected ',' or ']' but found '2' at line 3, column 4",
        ),
        (
            "ver:\"3.0\"\na\n{a:1;}\n",
            "expected ',' or '}' but found ';' at line 3, column 5",
        ),
        (
            "ver:\"3.0\"\na\n{A}\n",
            "expected tag name or '}' but found 'A' at line 3, column 2",
        ),
        (
            "ver:\"3.0\"\na\n<<ver:\"3.0\"\nb\n1\n",
            "expected '>>' but found end of input at line 6, column 1",
        ),
        (
            "ver:\"3.0\"\na\n1\n\n2\n",
            "expected end of input but found '2' at line 5, column 1",
        ),
        (
            "ver:\"3.0\"\na\n2021-02-30\n",
            "invalid date '2021-02-30' at line 3, column 1",
        ),
        (
            "ver:\"3.0\"\na\n@\n",
            "expected ref id but found newline at line 3, column 2",
        ),
        (
            "ver:\"3.0\"\na\nélan\n",
            "expected value but found 'é' at line 3, column 1",
        ),
        (
            "ver:\"3.0\"\na\nC(1,2\n",
            "expected ')' but found newline at line 3, column 6",
        ),
        (
            "ver:\"3.0\" x:\na\n",
            "expected value but found newline at line 1, column 13",
        ),
    ];
    for (zinc, msg) in cases {
        let whole = from_str(zinc).expect_err(zinc);
        assert!(matches!(whole, Error::Parse(_)), "{zinc:?}: {whole:?}");
        assert_eq!(whole.to_string(), msg, "{zinc:?}");
        let streamed = GridReader::new(Tiny(zinc.as_bytes()))
            .and_then(|r| r.into_grid())
            .expect_err(zinc);
        assert_eq!(streamed.to_string(), msg, "streaming {zinc:?}");
        assert_eq!(streamed.position(), whole.position(), "{zinc:?}");
    }
}

#[test]
fn error_positions_carry_byte_offsets() {
    let e = from_str("ver:\"3.0\"\nname\n\"é\",\n").unwrap_err();
    let p = e.position().unwrap();
    assert_eq!((p.line, p.column, p.offset), (3, 4, 19));
    let e = haystack_zinc::from_slice(b"ver:\"3.0\"\na\n\"\xff\"\n").unwrap_err();
    assert_eq!(e.to_string(), "invalid UTF-8 at line 3, column 2");
}

#[test]
fn limits_are_enforced_and_configurable() {
    let deep = format!("ver:\"3.0\"\na\n{}{}\n", "[".repeat(200), "]".repeat(200));
    let e = from_str(&deep).unwrap_err();
    assert!(matches!(e, Error::LimitExceeded { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "limit exceeded: nesting deeper than 128 at line 3, column 129"
    );
    let roomy = Limits {
        max_depth: 256,
        ..Limits::default()
    };
    assert!(haystack_zinc::from_str_with(&deep, &roomy).is_ok());

    let few = Limits {
        max_columns: 2,
        max_rows: 1,
        max_line_bytes: 64,
        ..Limits::default()
    };
    let e = haystack_zinc::from_str_with("ver:\"3.0\"\na,b,c\n", &few).unwrap_err();
    assert_eq!(
        e.to_string(),
        "limit exceeded: more than 2 columns at line 2, column 5"
    );
    let e = haystack_zinc::from_str_with("ver:\"3.0\"\na\n1\n2\n", &few).unwrap_err();
    assert_eq!(
        e.to_string(),
        "limit exceeded: more than 1 rows at line 4, column 1"
    );
    let long = format!("ver:\"3.0\"\na\n\"{}\"\n", "x".repeat(1000));
    let e = GridReader::with_limits(long.as_bytes(), few)
        .and_then(|r| r.into_grid())
        .unwrap_err();
    assert!(matches!(e, Error::LimitExceeded { .. }), "{e}");
}

#[test]
fn streaming_reads_rows_one_at_a_time() {
    let mut zinc = String::from("ver:\"3.0\" dis:\"big\"\nid,v,n\n");
    for i in 0..5000 {
        zinc.push_str(&format!(
            "@r{i} \"Row {i}\",{i}kW,[{{a:{i}}}, <<\nver:\"3.0\"\nx\n{i}\n>>]\n"
        ));
    }
    let mut r = GridReader::new(Tiny(zinc.as_bytes())).unwrap();
    assert_eq!(r.meta().get("dis"), Some(&s("big")));
    let mut row = Vec::new();
    let mut count = 0;
    while r.read_row(&mut row).unwrap() {
        assert_eq!(row[1], Value::from(Number::with_unit(count as f64, "kW")));
        count += 1;
    }
    assert_eq!(count, 5000);
    assert_eq!(r.rows_read(), 5000);
    assert!(!r.read_row(&mut row).unwrap());
    assert_eq!(
        from_str(&zinc).unwrap(),
        GridReader::new(zinc.as_bytes())
            .unwrap()
            .into_grid()
            .unwrap()
    );
}

#[test]
fn grid_writer_streams() {
    let g = from_str("ver:\"3.0\" x\na,b dis:\"B\"\n1,\"é\"\nN,[1,2]\n").unwrap();
    let mut out = Vec::new();
    haystack_zinc::to_writer(&mut out, &g).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), to_string(&g));
    let mut w = haystack_zinc::GridWriter::new(Vec::new(), g.meta(), g.cols()).unwrap();
    w.write_dict(&dict! { "b" => 2.0 }).unwrap();
    assert!(w.write_dict(&dict! { "zz" => 2.0 }).is_err());
    assert!(w.write_row(&[Value::Null]).is_err());
    assert_eq!(w.rows_written(), 1);
    assert_eq!(
        String::from_utf8(w.finish().unwrap()).unwrap(),
        "ver:\"3.0\" x\na,b dis:\"B\"\n,2\n"
    );
}

#[test]
fn realistic_grid_round_trips() {
    let mut g = haystack_core::testing::realistic_grid(600);
    // `ver` is Zinc syntax, not data: the reader does not put it in the meta.
    g.meta_mut().remove("ver");
    let text = to_string(&g);
    let back = from_str(&text).unwrap();
    assert_eq!(back.meta(), g.meta());
    assert_eq!(back.cols(), g.cols());
    for (a, b) in g.rows().zip(back.rows()) {
        for ((c, x), y) in g.cols().iter().zip(a.cells()).zip(b.cells()) {
            assert_eq!(
                x,
                y,
                "row {} col {}: {x} read back as {y}",
                a.index(),
                c.name()
            );
        }
    }
    assert_eq!(back, g);
}

#[test]
fn reads_what_libhaystack_writes() {
    let mut g = haystack_core::testing::realistic_grid(300);
    g.meta_mut().remove("ver");
    let ours = to_string(&g);
    let theirs_value = libhaystack::encoding::zinc::decode::from_str(&ours).unwrap();
    let theirs = libhaystack::encoding::zinc::encode::to_zinc_string(&theirs_value).unwrap();
    let back = from_str(&theirs).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.len(), g.len());
    for (a, b) in g.rows().zip(back.rows()) {
        for ((c, x), y) in g.cols().iter().zip(a.cells()).zip(b.cells()) {
            assert_eq!(
                x,
                y,
                "row {} col {}: {x} read back as {y}",
                a.index(),
                c.name()
            );
        }
    }
}

#[test]
fn spaces_after_colons_in_grid_and_column_meta() {
    let g =
        read_both("ver: \"3.0\" dis: \"Sites\" n:  2\nid dis: \"Id\", area unit: \"ft²\"\n@a,1\n")
            .unwrap();
    assert_eq!(g.meta(), &dict! { "dis" => "Sites", "n" => 2.0 });
    assert_eq!(g.cols()[0].meta(), &dict! { "dis" => "Id" });
    assert_eq!(g.cols()[1].meta(), &dict! { "unit" => "ft²" });
    let c = read_both("ver:\"3.0\"\nloc\nC( 37.55 , -77.45 )\n").unwrap();
    assert_eq!(
        c.row(0).unwrap().get("loc"),
        Some(&Value::from(Coord::new(37.55, -77.45).unwrap()))
    );
}

#[test]
fn streaming_reader_accepts_every_line_ending_of_the_whole_reader() {
    let want = grid(
        &["a", "b"],
        vec![vec![n(1.0), s("x\ry")], vec![Value::Null, n(2.0)]],
    );
    for doc in [
        "ver:\"3.0\"\na,b\n1,\"x\\ry\"\n,2\n",
        "ver:\"3.0\"\r\na,b\r\n1,\"x\\ry\"\r\n,2\r\n",
        "ver:\"3.0\"\ra,b\r1,\"x\\ry\"\r,2\r",
        "ver:\"3.0\"\ra,b\r\n1,\"x\\ry\"\n,2",
    ] {
        assert_eq!(read_both(doc).as_ref(), Ok(&want), "{doc:?}");
    }
}

#[test]
fn numbers_with_underscores_read_back_through_grids() {
    let g = grid(
        &["v"],
        vec![
            vec![Value::from(Number::with_unit(72.5, "_custom"))],
            vec![Value::from(Number::with_unit(3557e6, "__"))],
        ],
    );
    let text = to_string(&g);
    assert_eq!(read_both(&text).unwrap(), g, "{text}");
    assert_eq!(
        read_both("ver:\"3.0\"\nv\n35_5_7e6__\n").unwrap(),
        grid(
            &["v"],
            vec![vec![Value::from(Number::with_unit(3557e6, "__"))]]
        )
    );
}
