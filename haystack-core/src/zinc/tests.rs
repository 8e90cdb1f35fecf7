//! Table-driven tests of the scalar reader and writer.

use super::*;
use crate::Value;
use crate::value::{Coord, Number, Ref, XStr};
use time::macros::{date, datetime, time};

fn dt(odt: time::OffsetDateTime, tz: &str) -> Value {
    Value::DateTime(crate::DateTime::new(odt, tz).unwrap())
}

#[test]
fn reads_every_scalar() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("N", Value::Null, "N"),
        ("M", Value::Marker, "M"),
        ("R", Value::Remove, "R"),
        ("NA", Value::Na, "NA"),
        ("T", Value::Bool(true), "T"),
        ("F", Value::Bool(false), "F"),
        ("1", Value::from(1.0), "1"),
        ("-34", Value::from(-34.0), "-34"),
        ("10_000", Value::from(10000.0), "10000"),
        ("5.4e-45", Value::from(5.4e-45), "5.4e-45"),
        (
            "5.4E+8kW",
            Value::from(Number::with_unit(5.4e8, "kW")),
            "540000000kW",
        ),
        (
            "9.23kg",
            Value::from(Number::with_unit(9.23, "kg")),
            "9.23kg",
        ),
        (
            "74.2°F",
            Value::from(Number::with_unit(74.2, "°F")),
            "74.2°F",
        ),
        ("4min", Value::from(Number::with_unit(4.0, "min")), "4min"),
        (
            "-23.45m²",
            Value::from(Number::with_unit(-23.45, "m²")),
            "-23.45m²",
        ),
        (
            "12EUR",
            Value::from(Number::with_unit(12.0, "EUR")),
            "12EUR",
        ),
        ("3%RH", Value::from(Number::with_unit(3.0, "%RH")), "3%RH"),
        ("1_234.5_6", Value::from(1234.56), "1234.56"),
        (
            "123456789012345678",
            Value::from(123456789012345678.0),
            "1.2345678901234568e17",
        ),
        ("INF", Value::from(f64::INFINITY), "INF"),
        ("-INF", Value::from(f64::NEG_INFINITY), "-INF"),
        (
            "INF°F",
            Value::from(Number::with_unit(f64::INFINITY, "°F")),
            "INF°F",
        ),
        ("NaN", Value::from(f64::NAN), "NaN"),
        ("\"hello\"", Value::from("hello"), "\"hello\""),
        (
            r#""foo\nbar\"""#,
            Value::from("foo\nbar\""),
            r#""foo\nbar\"""#,
        ),
        (
            r#""\b\f\r\t\\\$\u00e9\u20AC""#,
            Value::from("\u{8}\u{c}\r\t\\$é€"),
            r#""\b\f\r\t\\\$é€""#,
        ),
        (r#""\ud83d\ude00""#, Value::from("😀"), "\"😀\""),
        ("\"\"", Value::from(""), "\"\""),
        (
            "`http://project-haystack.com/`",
            Value::Uri("http://project-haystack.com/".into()),
            "`http://project-haystack.com/`",
        ),
        (r"`file \#2`", Value::Uri(r"file \#2".into()), r"`file \#2`"),
        (
            r"`a\`b\\c\u0041`",
            Value::Uri(r"a`b\cA".into()),
            r"`a\`b\\cA`",
        ),
        (
            "@17eb0f3a-ad607713",
            Value::from(Ref::new("17eb0f3a-ad607713").unwrap()),
            "@17eb0f3a-ad607713",
        ),
        (
            "@xyz \"Display Name\"",
            Value::from(Ref::with_dis("xyz", "Display Name")),
            "@xyz \"Display Name\"",
        ),
        (
            "@p:a.b~c_d",
            Value::from(Ref::new("p:a.b~c_d").unwrap()),
            "@p:a.b~c_d",
        ),
        (
            "^hot-water",
            Value::Symbol("hot-water".into()),
            "^hot-water",
        ),
        (
            "2010-03-13",
            Value::Date(date!(2010 - 03 - 13)),
            "2010-03-13",
        ),
        ("08:12:05", Value::Time(time!(08:12:05)), "08:12:05"),
        ("08:12:05.5", Value::Time(time!(08:12:05.5)), "08:12:05.5"),
        ("08:12", Value::Time(time!(08:12)), "08:12:00"),
        (
            "23:59:59.123456789",
            Value::Time(time!(23:59:59.123456789)),
            "23:59:59.123456789",
        ),
        (
            "2010-03-11T23:55:00-05:00 New_York",
            dt(datetime!(2010-03-11 23:55 -05:00), "New_York"),
            "2010-03-11T23:55:00-05:00 New_York",
        ),
        (
            "2009-11-09T15:39:00Z",
            dt(datetime!(2009-11-09 15:39 UTC), "UTC"),
            "2009-11-09T15:39:00Z UTC",
        ),
        (
            "2010-11-28T07:23:02.773-08:00 Los_Angeles",
            dt(datetime!(2010-11-28 07:23:02.773 -08:00), "Los_Angeles"),
            "2010-11-28T07:23:02.773-08:00 Los_Angeles",
        ),
        (
            "2010-11-28T18:21:58+03:00 GMT-3",
            dt(datetime!(2010-11-28 18:21:58 +03:00), "GMT-3"),
            "2010-11-28T18:21:58+03:00 GMT-3",
        ),
        (
            "2010-11-28T12:22:27-03:00 GMT+3",
            dt(datetime!(2010-11-28 12:22:27 -03:00), "GMT+3"),
            "2010-11-28T12:22:27-03:00 GMT+3",
        ),
        (
            "2010-11-28T12:22:27-03:00",
            dt(datetime!(2010-11-28 12:22:27 -03:00), "GMT+3"),
            "2010-11-28T12:22:27-03:00 GMT+3",
        ),
        (
            "C(37.55,-77.45)",
            Value::from(Coord::new(37.55, -77.45).unwrap()),
            "C(37.55,-77.45)",
        ),
        (
            "C(-90,180)",
            Value::from(Coord::new(-90.0, 180.0).unwrap()),
            "C(-90,180)",
        ),
        (
            "Type(\"value\")",
            Value::from(XStr::new("Type", "value").unwrap()),
            "Type(\"value\")",
        ),
        (
            "Bin(text/plain)",
            Value::from(XStr::new("Bin", "text/plain").unwrap()),
            "Bin(\"text/plain\")",
        ),
    ];
    for (text, want, written) in cases {
        let got = read_scalar(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(got, want, "{text}");
        assert_eq!(got.to_string(), written, "{text}");
        assert_eq!(read_scalar(written).unwrap(), want, "{written}");
    }
}

#[test]
fn scalar_errors_say_where_and_what() {
    let cases = [
        (
            "",
            "expected value but found end of input at line 1, column 1",
        ),
        ("x", "expected value but found 'x' at line 1, column 1"),
        ("Foo", "unknown keyword 'Foo' at line 1, column 1"),
        (
            "\"abc",
            "expected '\"' but found end of input at line 1, column 5",
        ),
        (
            "\"ab\ncd\"",
            "expected '\"' but found newline at line 1, column 4",
        ),
        (r#""a\qb""#, r"invalid escape '\q' at line 1, column 3"),
        (r#""\u12""#, "invalid unicode escape at line 1, column 2"),
        (
            "`abc",
            "expected '`' but found end of input at line 1, column 5",
        ),
        (r"`a\nb`", r"invalid escape '\n' at line 1, column 3"),
        (
            "@",
            "expected ref id but found end of input at line 1, column 2",
        ),
        ("@ x", "expected ref id but found ' ' at line 1, column 2"),
        (
            "^",
            "expected symbol name but found end of input at line 1, column 2",
        ),
        (
            "2021-13-01",
            "invalid date '2021-13-01' at line 1, column 1",
        ),
        (
            "2021-02-30",
            "invalid date '2021-02-30' at line 1, column 1",
        ),
        (
            "2021-1-01",
            "expected digit but found '-' at line 1, column 7",
        ),
        ("25:00:00", "invalid time '25:00:00' at line 1, column 1"),
        (
            "2021-01-01T10:00:00",
            "expected timezone offset but found end of input at line 1, column 20",
        ),
        (
            "2021-01-01T10:00:00+05:30",
            "expected timezone name but found end of input at line 1, column 26",
        ),
        (
            "C(91,0)",
            "invalid Coord: latitude 91 outside -90..90 at line 1, column 1",
        ),
        ("C(1;2)", "expected ',' but found ';' at line 1, column 4"),
        ("Foo(1)", "expected '\"' but found '1' at line 1, column 5"),
        ("-x", "expected digit but found 'x' at line 1, column 2"),
        (
            "1 2",
            "expected end of input but found '2' at line 1, column 3",
        ),
        (
            "12.",
            "expected end of input but found '.' at line 1, column 3",
        ),
    ];
    for (text, msg) in cases {
        let err = read_scalar(text).expect_err(text);
        assert_eq!(err.to_string(), msg, "{text:?}");
    }
}

#[test]
fn uri_backslashes_round_trip() {
    for raw in [
        r"a\b",
        r"\",
        r"\\#",
        r"x\u0041",
        "a`b",
        r"\`",
        r"file \#2 \[x\]",
    ] {
        let v = Value::Uri(raw.into());
        let text = v.to_string();
        assert_eq!(read_scalar(&text).unwrap(), v, "{raw} -> {text}");
    }
}

#[test]
fn strings_round_trip() {
    for raw in [
        "",
        "$x",
        "\u{0}\u{1f}\u{7f}",
        "tab\there",
        "\"q\"",
        "é😀",
        "\\u0041",
    ] {
        let v = Value::from(raw);
        assert_eq!(read_scalar(&v.to_string()).unwrap(), v, "{raw:?}");
    }
}

#[test]
fn numbers_round_trip() {
    for x in [
        0.1,
        1.0 / 3.0,
        1e-300,
        1e300,
        f64::MAX,
        f64::MIN_POSITIVE,
        9007199254740993.0,
        -1.5e-7,
        123456.789,
    ] {
        let v = Value::from(x);
        assert_eq!(read_scalar(&v.to_string()).unwrap(), v, "{x}");
        let u = Value::from(Number::with_unit(x, "EUR"));
        assert_eq!(read_scalar(&u.to_string()).unwrap(), u, "{x} EUR");
    }
}

#[test]
fn scanner_reads_in_context() {
    let mut s = Scanner::new("{a:@x \"X\" b:2021-01-01T00:00:00Z c}");
    s.expect(b'{').unwrap();
    assert_eq!(s.read_id().unwrap(), "a");
    s.expect(b':').unwrap();
    assert_eq!(
        s.read_scalar().unwrap(),
        Value::from(Ref::with_dis("x", "X"))
    );
    s.skip_spaces();
    assert_eq!(s.read_id().unwrap(), "b");
    s.expect(b':').unwrap();
    assert!(matches!(s.read_scalar().unwrap(), Value::DateTime(_)));
    s.skip_spaces();
    assert_eq!(s.read_id().unwrap(), "c");
    assert_eq!(s.peek(), Some(b'}'));
}

#[test]
fn underscore_is_a_digit_separator_only_before_a_digit() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "72.5_custom",
            Value::from(Number::with_unit(72.5, "_custom")),
            "72.5_custom",
        ),
        (
            "35_5_7e6__",
            Value::from(Number::with_unit(3557e6, "__")),
            "3557000000__",
        ),
        ("1_", Value::from(Number::with_unit(1.0, "_")), "1_"),
        (
            "1_000_x",
            Value::from(Number::with_unit(1000.0, "_x")),
            "1000_x",
        ),
        ("2.5_0", Value::from(2.5), "2.5"),
    ];
    for (text, want, written) in cases {
        let got = read_scalar(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(got, want, "{text}");
        assert_eq!(got.to_string(), written, "{text}");
        assert_eq!(read_scalar(written).unwrap(), want, "{written}");
    }
}

#[test]
fn words_that_start_like_special_numbers_are_not_numbers() {
    assert_eq!(
        read_scalar("INFO(\"x\")").unwrap(),
        Value::from(XStr::new("INFO", "x").unwrap())
    );
    assert_eq!(
        read_scalar("NaNa(\"x\")").unwrap(),
        Value::from(XStr::new("NaNa", "x").unwrap())
    );
    for (text, msg) in [
        ("INFINITY", "unknown keyword 'INFINITY' at line 1, column 1"),
        (
            "-INFINITY",
            "unknown keyword 'INFINITY' at line 1, column 2",
        ),
        ("INF_x", "unknown keyword 'INF_x' at line 1, column 1"),
    ] {
        assert_eq!(
            read_scalar(text).expect_err(text).to_string(),
            msg,
            "{text}"
        );
    }
    // Units that cannot be mistaken for the rest of the word still follow INF.
    assert_eq!(
        read_scalar("INF°F").unwrap(),
        Value::from(Number::with_unit(f64::INFINITY, "°F"))
    );
    assert_eq!(
        read_scalar("-INF%").unwrap(),
        Value::from(Number::with_unit(f64::NEG_INFINITY, "%"))
    );
}

#[test]
fn the_writer_emits_only_units_the_reader_reads_back() {
    // (number, its Zinc, whether the unit survives)
    for (n, written, kept) in [
        (Number::with_unit(f64::INFINITY, "ft"), "INF", false),
        (Number::with_unit(f64::NEG_INFINITY, "_x"), "-INF", false),
        (Number::with_unit(f64::INFINITY, "°F"), "INF°F", true),
        (Number::with_unit(1.0, "m 2"), "1", false),
        (Number::with_unit(1.0, "m2"), "1", false),
        (Number::with_unit(1.0, "kW/ft²"), "1kW/ft²", true),
        (Number::with_unit(2.0, "_x"), "2_x", true),
    ] {
        let v = Value::from(n.clone());
        assert_eq!(v.to_string(), written, "{n:?}");
        let back = read_scalar(written).unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(back.to_string(), written);
        assert_eq!(back == v, kept, "{written}");
    }
    assert!(crate::value::is_unit_symbol("kW/ft²"));
    assert!(!crate::value::is_unit_symbol("m2"));
    assert!(!crate::value::is_unit_symbol(""));
}

#[test]
fn coords_allow_spaces_inside() {
    for text in [
        "C( 37.55 , -77.45 )",
        "C(37.55, -77.45)",
        "C(37.55 ,-77.45)",
    ] {
        assert_eq!(
            read_scalar(text).unwrap_or_else(|e| panic!("{text}: {e}")),
            Value::from(Coord::new(37.55, -77.45).unwrap()),
            "{text}"
        );
    }
}
