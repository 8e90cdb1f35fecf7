//! The generated unit table against the database text, conversions and errors.

use haystack_core::Error;
use haystack_core::units::{self, Unit, convert, lookup, unit};

/// One unit line of `data/units.txt`, parsed independently of `build.rs`.
struct Line {
    quantity: String,
    ids: Vec<String>,
    dimension: String,
    scale: f64,
    offset: f64,
}

fn database() -> (Vec<String>, Vec<Line>) {
    let text = include_str!("../data/units.txt");
    let mut quantities = Vec::new();
    let mut lines = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("-- ") {
            let (name, _) = rest.split_once(" (").expect("header has a dimension");
            quantities.push(name.to_string());
            continue;
        }
        let fields: Vec<&str> = line.split(';').map(str::trim).collect();
        let number = |i: usize, default: f64| match fields.get(i) {
            Some(s) if !s.is_empty() => s.parse::<f64>().expect("number"),
            _ => default,
        };
        lines.push(Line {
            quantity: quantities.last().expect("quantity first").clone(),
            ids: fields[0].split(',').map(|s| s.trim().to_string()).collect(),
            dimension: fields.get(1).copied().unwrap_or("").to_string(),
            scale: number(2, 1.0),
            offset: number(3, 0.0),
        });
    }
    (quantities, lines)
}

#[test]
fn the_table_holds_every_quantity_in_order() {
    let (quantities, lines) = database();
    let names: Vec<&str> = units::quantities().iter().map(|q| q.name()).collect();
    assert_eq!(names, quantities);
    assert_eq!(names.len(), 60, "the spec's count of quantities");
    assert_eq!(units::all().count(), lines.len());
    for q in units::quantities() {
        assert!(!q.units().is_empty(), "{q} has no units");
        assert!(q.units().iter().all(|u| u.quantity() == q));
        assert_eq!(units::quantity(q.name()), Some(q));
    }
}

#[test]
fn every_unit_is_found_by_name_and_by_each_symbol() {
    let (_, lines) = database();
    let mut ids = 0;
    for line in &lines {
        let by_name = unit(&line.ids[0]).unwrap_or_else(|| panic!("{} not found", line.ids[0]));
        assert_eq!(by_name.name(), line.ids[0]);
        assert_eq!(by_name.symbols(), &line.ids[1..]);
        assert_eq!(by_name.quantity().name(), line.quantity);
        assert_eq!(by_name.scale(), line.scale, "{}", line.ids[0]);
        assert_eq!(by_name.offset(), line.offset, "{}", line.ids[0]);
        assert_eq!(
            by_name.dimension().to_string(),
            line.dimension,
            "{}",
            line.ids[0]
        );
        for id in &line.ids {
            ids += 1;
            assert!(std::ptr::eq(lookup(id).unwrap(), by_name), "{id}");
            assert!(units::is_unit_id(id), "{id}");
        }
        assert!(by_name.ids().eq(line.ids.iter().map(String::as_str)));
    }
    assert_eq!(units::identifiers().len(), ids);
}

#[test]
fn preferred_symbol_is_the_last_one() {
    for (id, symbol) in [
        ("hour", "hr"),
        ("h", "hr"),
        ("second", "sec"),
        ("day", "day"),
        ("kWh", "kWh"),
        ("megabtu", "MMBTU"),
        ("volt", "V"),
        ("percent", "%"),
        ("celsius", "°C"),
    ] {
        let u = lookup(id).unwrap();
        assert_eq!(u.symbol(), symbol, "{id}");
        assert_eq!(u.to_string(), symbol, "{id}");
    }
}

#[test]
fn lookup_is_exact_and_case_sensitive() {
    assert_eq!(lookup("MW").unwrap().name(), "megawatt");
    assert_eq!(lookup("mW").unwrap().name(), "milliwatt");
    for missing in ["", "kwh", "KWH", " kWh", "kWh ", "furlong", "m²x", "\u{0}"] {
        assert!(unit(missing).is_none(), "{missing:?}");
        assert!(matches!(lookup(missing), Err(Error::UnknownUnit(ref s)) if s == missing));
    }
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0)
}

#[test]
fn known_conversions() {
    let cases: &[(f64, &str, &str, f64)] = &[
        (1.0, "kWh", "MJ", 3.6),
        (1.0, "kilowatt_hour", "J", 3.6e6),
        (1.0, "MWh", "kWh", 1000.0),
        (212.0, "°F", "°C", 100.0),
        (32.0, "fahrenheit", "celsius", 0.0),
        (-40.0, "°C", "°F", -40.0),
        (0.0, "°C", "K", 273.15),
        (100.0, "K", "°C", -173.15),
        (1.0, "Δ°C", "Δ°F", 1.8),
        (1.0, "ft", "m", 0.3048),
        (1.0, "m", "ft", 1.0 / 0.3048),
        (1.0, "mile", "km", 1.609344),
        (12.0, "in", "ft", 1.0),
        (1.0, "h", "min", 60.0),
        (1.0, "day", "sec", 86400.0),
        (1.0, "kW", "W", 1000.0),
        (1.0, "ft²", "m²", 0.092903),
        (1000.0, "L", "m³", 1.0),
        (1.0, "L/s", "m³/h", 3.6),
        (1.0, "kPa", "Pa", 1000.0),
        (50.0, "%", "ppm", 500_000.0),
        (1.0, "kB", "byte", 1024.0),
        (3.0, "COP", "COP", 3.0),
        (1.0, "USD", "$", 1.0),
    ];
    for &(value, from, to, expected) in cases {
        let actual = convert(value, from, to).unwrap();
        assert!(
            close(actual, expected),
            "{value} {from} -> {to}: {actual} != {expected}"
        );
    }
}

#[test]
fn conversions_round_trip_within_every_quantity() {
    for q in units::quantities() {
        for a in q.units() {
            for b in q.units().iter().filter(|b| a.is_convertible_to(b)) {
                let there = a.convert_to(12.5, b).unwrap();
                let back = b.convert_to(there, a).unwrap();
                assert!(close(back, 12.5), "{a} -> {b} -> {a}: {back}");
            }
        }
    }
}

#[test]
fn same_unit_converts_exactly() {
    for u in units::all() {
        for v in [0.1, f64::INFINITY, -0.0] {
            assert_eq!(u.convert_to(v, u).unwrap().to_bits(), v.to_bits(), "{u}");
        }
        assert!(u.convert_to(f64::NAN, u).unwrap().is_nan());
    }
}

#[test]
fn incompatible_units_error() {
    let cases = [
        ("kWh", "kW"),     // energy vs power
        ("kWh", "kVARh"),  // same dimension, different quantity
        ("°F", "Δ°F"),     // temperature vs temperature differential
        ("m", "sec"),      // length vs time
        ("USD", "EUR"),    // no exchange rates
        ("kW/ton", "COP"), // no scale relation in the database
        ("COP", "kW/ton"),
    ];
    for (from, to) in cases {
        match convert(1.0, from, to) {
            Err(Error::IncompatibleUnits { from: f, to: t }) => {
                assert_eq!(f, lookup(from).unwrap().name());
                assert_eq!(t, lookup(to).unwrap().name());
            }
            other => panic!("{from} -> {to}: {other:?}"),
        }
        assert!(!lookup(from).unwrap().is_convertible_to(lookup(to).unwrap()));
    }
}

#[test]
fn unknown_units_error() {
    assert!(
        matches!(convert(1.0, "kWh", "parsec"), Err(Error::UnknownUnit(ref s)) if s == "parsec")
    );
    assert!(
        matches!(convert(1.0, "parsec", "kWh"), Err(Error::UnknownUnit(ref s)) if s == "parsec")
    );
    let err = convert(1.0, "x", "kWh").unwrap_err();
    assert_eq!(err.to_string(), "unknown unit \"x\"");
}

#[test]
fn unit_id_characters() {
    for ok in ["kWh", "%", "$", "m²", "Δ°F", "kW/ton", "fl_oz"] {
        assert!(units::is_unit_id(ok), "{ok}");
    }
    for bad in ["", "k W", "m2", "a-b", "a.b", "a\u{7f}"] {
        assert!(!units::is_unit_id(bad), "{bad:?}");
    }
}

#[test]
fn units_are_values_with_identity() {
    let a: &Unit = lookup("h").unwrap();
    let b: &Unit = lookup("hour").unwrap();
    assert_eq!(a, b);
    assert_ne!(a, lookup("min").unwrap());
    let mut set = std::collections::HashSet::new();
    assert!(set.insert(a));
    assert!(!set.insert(b));
    assert!(lookup("%").unwrap().dimension().is_dimensionless());
    assert!(!lookup("m").unwrap().dimension().is_dimensionless());
}
