//! The byte-level reader ([`super::read`]) held to the serde-based one ([`super::de`]) it
//! replaced: on random Hayson and v3 documents, and on random mutations and truncations of
//! them, both give the same value or both fail.

use proptest::prelude::*;

use super::{
    Version, from_slice, from_str, from_str_lenient, from_str_v3, serde_from_slice, serde_from_str,
};

/// The three text readers, each with its serde-based reference.
fn check(doc: &str) -> std::result::Result<(), TestCaseError> {
    let ours = [from_str(doc), from_str_lenient(doc), from_str_v3(doc)];
    let theirs = [
        serde_from_str(doc, Version::V4, false),
        serde_from_str(doc, Version::V4, true),
        serde_from_str(doc, Version::V3, false),
    ];
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        match (a, b) {
            // Debug output tells -0.0 from 0.0 and shows NaN, unlike `==`.
            (Ok(a), Ok(b)) => prop_assert_eq!(format!("{a:?}"), format!("{b:?}"), "{} {}", i, doc),
            (Err(_), Err(_)) => {}
            _ => prop_assert!(
                false,
                "reader {i} disagrees on {doc:?}: ours {a:?}, serde {b:?}"
            ),
        }
    }
    let bytes = from_slice(doc.as_bytes(), Version::V4);
    prop_assert_eq!(format!("{bytes:?}"), format!("{:?}", ours[0]));
    Ok(())
}

fn ws() -> impl Strategy<Value = &'static str> {
    prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("\n  "), 1 => Just("\t\r\n")]
}

/// A JSON string literal with escapes, surrogate pairs, lone surrogates and bad escapes.
fn jstr() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        8 => "[a-zA-Z0-9 _:/°é-]{1,6}",
        1 => Just("\\n".to_owned()),
        1 => Just("\\\"".to_owned()),
        1 => Just("\\\\".to_owned()),
        1 => Just("\\/\\b\\f\\r\\t".to_owned()),
        1 => Just("\\u00e9".to_owned()),
        1 => Just("\\u0041\\u00".to_owned()),
        1 => Just("\\ud83d\\ude00".to_owned()),
        1 => Just("\\uD83D\\uDE00".to_owned()),
        1 => Just("\\ud800".to_owned()),
        1 => Just("\\ud800\\n".to_owned()),
        1 => Just("\\ud800\\u0041".to_owned()),
        1 => Just("\\udc00".to_owned()),
        1 => Just("\\x".to_owned()),
        1 => Just("\u{1}".to_owned()),
        1 => Just("\u{7f}".to_owned()),
        1 => Just("😀".to_owned()),
    ];
    prop_oneof![
        6 => prop::collection::vec(part, 0..5).prop_map(|p| format!("\"{}\"", p.concat())),
        1 => prop::sample::select(vec![
            "m:", "-:", "z:", "n:12 °F", "n:1.5", "n:INF", "n:x", "n:1 m 2", "r:abc Dis", "r:b@d",
            "s:a:b", "d:2021-02-03", "d:2021-02-30", "h:10:20:30", "t:2021-01-01T00:00:00Z UTC",
            "c:1.5,2.5", "c:1", "u:http://x", "y:sym", "y:a b", "x:Color:red", "x:lower:v",
            "INF", "-INF", "NaN", "2021-02-03", "10:20", "2021-01-01T00:00:00-05:00 New_York",
            "New_York", "°F", "kW", "m 2", "grid", "_kind",
        ])
        .prop_map(|s| format!("\"{s}\"")),
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<i64>().prop_map(|n| n.to_string()),
        3 => any::<f64>().prop_map(|f| format!("{f:?}")),
        2 => any::<f64>().prop_map(|f| format!("{f:e}")),
        3 => "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,22})?([eE][+-]?[0-9]{1,4})?",
        2 => prop::sample::select(vec![
            "-0", "0", "-0.0", "1e400", "-1e400", "1e-400", "0e99999999999999999999",
            "1e99999999999999999999", "18446744073709551615", "18446744073709551616",
            "-9223372036854775808", "-9223372036854775809", "9007199254740993",
            "0.30000000000000004", "2.2250738585072014e-308", "4.9e-324", "1.7976931348623157e308",
            "1.7976931348623159e308", "01", "1.", "-", "1e", "1e+", ".5", "+1", "0x10", "NaN",
        ])
        .prop_map(str::to_owned),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "_kind", "val", "unit", "dis", "tz", "lat", "lng", "type", "meta", "cols", "rows",
            "name", "id", "a", "b", "curVal", "ver", "Bad", "_x", "9a",
        ])
        .prop_map(|k| format!("\"{k}\"")),
        1 => jstr(),
    ]
}

fn kind() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "marker", "na", "remove", "number", "ref", "str", "uri", "symbol", "bool", "date", "time",
        "dateTime", "coord", "xstr", "dict", "grid", "Ref", "Num", "Marker", "Grid", "NA", "bogus",
    ])
    .prop_map(|k| format!("\"{k}\""))
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => number(),
        3 => jstr(),
        2 => kind(),
        1 => prop::sample::select(vec!["true", "false", "null", "tru", "nul"]).prop_map(str::to_owned),
    ]
}

/// `{` members `}` with whitespace around the punctuation.
fn object(members: Vec<(String, String)>, w: &[&str]) -> String {
    let w = |i: usize| w.get(i % w.len().max(1)).copied().unwrap_or("");
    let body: Vec<String> = members
        .iter()
        .enumerate()
        .map(|(i, (k, v))| format!("{}{k}{}:{}{v}", w(i), w(i + 1), w(i + 2)))
        .collect();
    format!("{{{}{}}}", body.join(","), w(7))
}

fn doc() -> impl Strategy<Value = String> {
    leaf().prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            // Arrays.
            (prop::collection::vec(inner.clone(), 0..5), ws())
                .prop_map(|(items, w)| format!("[{w}{}]", items.join(&format!("{w},")))),
            // Dicts and objects whose `_kind` may come anywhere.
            (
                prop::collection::vec((key(), inner.clone()), 0..5),
                prop::collection::vec(ws(), 6)
            )
                .prop_map(|(m, w)| object(m, &w)),
            // Kinded objects: `_kind` first, then fields.
            (
                kind(),
                prop::collection::vec((key(), inner.clone()), 0..4),
                prop::collection::vec(ws(), 6)
            )
                .prop_map(|(k, mut m, w)| {
                    m.insert(0, ("\"_kind\"".to_owned(), k));
                    object(m, &w)
                }),
            // Grids: meta, cols and rows in some order, perhaps without `_kind`.
            (
                prop::collection::vec((key(), inner.clone()), 0..3),
                prop::collection::vec(
                    prop::sample::select(vec!["\"id\"", "\"a\"", "\"b\"", "\"Bad\"", "1"]),
                    0..4
                ),
                prop::collection::vec(prop::collection::vec((key(), inner.clone()), 0..4), 0..4),
                0..4usize,
                any::<bool>(),
                prop::collection::vec(ws(), 6),
            )
                .prop_map(|(meta, cols, rows, order, kinded, w)| {
                    let cols: Vec<String> =
                        cols.iter().map(|n| format!("{{\"name\":{n}}}")).collect();
                    let rows: Vec<String> = rows.into_iter().map(|r| object(r, &w)).collect();
                    let mut parts = vec![
                        ("\"meta\"".to_owned(), object(meta, &w)),
                        ("\"cols\"".to_owned(), format!("[{}]", cols.join(","))),
                        ("\"rows\"".to_owned(), format!("[{}]", rows.join(","))),
                    ];
                    parts.rotate_left(order % 3);
                    if order == 3 {
                        parts.swap(0, 1);
                    }
                    if kinded {
                        parts.insert(order.min(1), ("\"_kind\"".to_owned(), "\"grid\"".into()));
                    }
                    object(parts, &w)
                }),
        ]
    })
}

/// A change to a valid document: cut it, or drop, double or replace one byte.
fn mutate(doc: &str, at: usize, op: u8, with: u8) -> String {
    let mut b = doc.as_bytes().to_vec();
    let at = at % (b.len() + 1);
    match op % 4 {
        0 => b.truncate(at),
        1 if at < b.len() => {
            b.remove(at);
        }
        2 if at < b.len() => {
            let c = b[at];
            b.insert(at, c);
        }
        _ => {
            let c = b"{}[],:\"\\0-e.tn /"[usize::from(with) % 16];
            if at < b.len() {
                b[at] = c;
            } else {
                b.push(c);
            }
        }
    }
    // A cut inside a multi-byte character leaves a `&str` reader nothing to read.
    String::from_utf8_lossy(&b).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn agrees_with_serde_on_documents(doc in doc()) {
        check(&doc)?;
    }

    #[test]
    fn agrees_with_serde_on_mutations(doc in doc(), at: usize, op: u8, with: u8) {
        check(&mutate(&doc, at, op, with))?;
    }

    #[test]
    fn agrees_with_serde_on_bytes(doc in doc(), at: usize, with in prop::sample::select(vec![0xffu8, 0xc3, 0x80, 0xe2, 0xa9, b'"'])) {
        let mut b = doc.into_bytes();
        let at = at % (b.len() + 1);
        b.insert(at, with);
        for version in [Version::V4, Version::V3] {
            let ours = from_slice(&b, version);
            let theirs = serde_from_slice(&b, version);
            match (&ours, &theirs) {
                (Ok(a), Ok(t)) => prop_assert_eq!(format!("{a:?}"), format!("{t:?}")),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(false, "{b:?}: ours {ours:?}, serde {theirs:?}"),
            }
        }
    }

    #[test]
    fn word_at_a_time_helpers_agree_with_byte_loops(s in "\\PC{0,40}", from in 0..48usize) {
        let b = s.as_bytes();
        prop_assert_eq!(super::lex::chars(b), s.chars().count());
        let naive = b.get(from..).and_then(|r| r.iter().position(|&c| c == b'"' || c == b'\\')).map(|k| from + k);
        prop_assert_eq!(super::lex::find_quote_or_backslash(b, from), naive);
    }

    #[test]
    fn agrees_with_serde_on_any_text(doc in "\\PC{0,40}") {
        check(&doc)?;
    }

    #[test]
    fn agrees_with_serde_on_written_values(n in number(), s in jstr()) {
        let doc = format!(
            "{{\"_kind\":\"grid\",\"meta\":{{\"ver\":\"3.0\"}},\"cols\":[{{\"name\":\"a\"}},\
             {{\"name\":\"b\"}}],\"rows\":[{{\"a\":{n},\"b\":{s}}},{{\"b\":{{\"_kind\":\"number\",\
             \"val\":{n},\"unit\":\"kW\"}}}}]}}"
        );
        check(&doc)?;
    }
}

#[test]
fn depth_limit_is_serde_jsons() {
    for depth in [1, 100, 126, 127, 128, 129, 500] {
        let open = "[".repeat(depth);
        let close = "]".repeat(depth);
        let objs = "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth);
        for doc in [
            format!("{open}{close}"),
            objs.clone(),
            format!("{{\"_kind\":\"dict\",\"a\":{open}{close}}}"),
            format!(
                "{{\"_kind\":\"grid\",\"cols\":[{{\"name\":\"a\"}}],\"rows\":[{{\"a\":{open}{close}}}]}}"
            ),
            format!("{{\"_kind\":\"number\",\"val\":1,\"x\":{open}{close}}}"),
            format!("{{\"_kind\":\"marker\",\"x\":{objs}}}"),
        ] {
            check(&doc).unwrap_or_else(|e| panic!("depth {depth}: {e}"));
        }
    }
    // Skipped values have no depth limit, and no recursion.
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    assert!(from_str(&format!("{{\"_kind\":\"marker\",\"x\":{deep}}}")).is_ok());
    assert!(from_str(&deep).is_err());
}

#[test]
fn errors_name_line_and_column() {
    for (doc, says) in [
        ("[1,\n 2,]", "trailing comma at line 2 column 4"),
        ("{\"a\" 1}", "expected `:` at line 1 column 6"),
        ("\"\\ud800\"", "at line 1 column"),
        ("[1] x", "trailing characters at line 1 column 5"),
        ("\"a\u{1}\"", "control character"),
        ("1e400", "number out of range"),
        ("", "EOF while parsing a value"),
        ("{\"_kind\":\"ref\",\"val\":\"b@d\"}", "invalid ref"),
    ] {
        let err = from_str(doc).expect_err(doc).to_string();
        assert!(err.contains(says), "{doc:?}: {err}");
    }
    // Decoded strings are checked to be UTF-8; skipped ones are not (as serde_json skips).
    let bad = b"{\"_kind\":\"str\",\"val\":\"a\xff\"}";
    let err = from_slice(bad, Version::V4)
        .expect_err("not UTF-8")
        .to_string();
    assert!(
        err.contains("invalid unicode code point at line 1 column 24"),
        "{err}"
    );
    let skipped = b"{\"_kind\":\"marker\",\"x\":[\"\xff\"]}";
    assert!(from_slice(skipped, Version::V4).is_ok());
    assert!(super::from_reader(&skipped[..], Version::V4).is_ok());
}

#[test]
fn strings_decode_escapes_and_borrow_short_ones() {
    let v = from_str(r#"["\ud83d\ude00 \u00e9\n\"\\\/", "plain"]"#).unwrap();
    assert_eq!(
        format!("{v:?}"),
        format!(
            "{:?}",
            serde_from_str(r#"["😀 é\n\"\\/", "plain"]"#, Version::V4, false).unwrap()
        )
    );
}
