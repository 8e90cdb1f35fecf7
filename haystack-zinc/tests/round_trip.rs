//! Property tests: any value written as Zinc or Trio reads back equal.

use haystack_core::{Col, Coord, DateTime, Dict, Grid, Number, Ref, Value, XStr};
use proptest::prelude::*;
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

fn tag_name() -> impl Strategy<Value = String> {
    "[a-z][a-zA-Z0-9_]{0,6}".prop_filter("reserved", |s| s != "ver" && s != "empty")
}

fn number() -> impl Strategy<Value = Number> {
    let unit = prop::option::of(prop::sample::select(vec![
        "kW", "°F", "m²", "%", "EUR", "ft³/min", "$", "e", "Ω", "kWh/m²",
    ]));
    prop_oneof![
        8 => (any::<f64>().prop_filter("finite", |f| f.is_finite()), unit.clone())
            .prop_map(|(v, u)| Number::with_shared_unit(v, u.map(Into::into))),
        4 => (-1_000_000i64..1_000_000, unit.clone()).prop_map(|(v, u)| Number::with_shared_unit(v as f64, u.map(Into::into))),
        // After INF only units that cannot be read as the rest of the word (the writer
        // leaves the others out).
        1 => (
            prop::sample::select(vec![f64::INFINITY, f64::NEG_INFINITY]),
            prop::option::of(prop::sample::select(vec!["°F", "%", "$", "Ω"])),
        )
            .prop_map(|(v, u)| Number::with_shared_unit(v, u.map(Into::into))),
        1 => Just(Number::new(f64::NAN)),
    ]
}

fn date() -> impl Strategy<Value = Date> {
    (0i32..=9999, 1u8..=12, 1u8..=28)
        .prop_map(|(y, m, d)| Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap())
}

fn time_of_day() -> impl Strategy<Value = Time> {
    (
        0u8..24,
        0u8..60,
        0u8..60,
        prop_oneof![
            Just(0u32),
            0u32..1_000_000_000,
            (0u32..1000).prop_map(|ms| ms * 1_000_000)
        ],
    )
        .prop_map(|(h, m, s, n)| Time::from_hms_nano(h, m, s, n).unwrap())
}

fn datetime() -> impl Strategy<Value = DateTime> {
    let tz = prop::sample::select(vec![
        "New_York",
        "Los_Angeles",
        "UTC",
        "GMT+3",
        "GMT-10",
        "London",
        "Taipei",
    ]);
    (
        date().prop_filter("in range", |d| d.year() > 0 && d.year() < 9999),
        time_of_day(),
        -12 * 60i32..=14 * 60,
        tz,
    )
        .prop_map(|(d, t, off_min, tz)| {
            let off = UtcOffset::from_whole_seconds(off_min * 60).unwrap();
            DateTime::new(PrimitiveDateTime::new(d, t).assume_offset(off), tz).unwrap()
        })
}

fn scalar() -> impl Strategy<Value = Value> {
    let id = "[a-zA-Z0-9_:.~-]{1,12}";
    prop_oneof![
        Just(Value::Null),
        Just(Value::Marker),
        Just(Value::Na),
        Just(Value::Remove),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        any::<String>().prop_map(|s| Value::Str(s.into())),
        "[ -~]{0,12}".prop_map(|s| Value::Str(s.into())),
        any::<String>().prop_map(|s| Value::Uri(s.into())),
        r"[a-z:/\\#`?@ ]{0,12}".prop_map(|s| Value::Uri(s.into())),
        (id, prop::option::of(any::<String>()))
            .prop_map(|(i, d)| Value::Ref(Ref::from_parts(i, d.map(Into::into)))),
        id.prop_map(|s| Value::Symbol(s.into())),
        date().prop_map(Value::Date),
        time_of_day().prop_map(Value::Time),
        datetime().prop_map(Value::DateTime),
        (-90.0f64..=90.0, -180.0f64..=180.0)
            .prop_map(|(a, b)| Value::Coord(Coord::new(a, b).unwrap())),
        ("[A-Z][a-zA-Z0-9_]{0,6}", any::<String>())
            .prop_map(|(t, v)| Value::XStr(XStr::new(t, v).unwrap())),
    ]
}

fn dict_of(inner: impl Strategy<Value = Value>) -> impl Strategy<Value = Dict> {
    prop::collection::vec((tag_name(), inner), 0..5).prop_map(|tags| {
        let mut d = Dict::new();
        for (k, v) in tags {
            d.insert(k, v).unwrap();
        }
        d
    })
}

fn grid_of(inner: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Grid> {
    let cols = prop::collection::vec((tag_name(), dict_of(inner.clone())), 0..4);
    (
        dict_of(inner.clone()),
        cols,
        prop::collection::vec(prop::collection::vec(inner, 4), 0..4),
    )
        .prop_map(|(meta, cols, rows)| {
            let mut seen = std::collections::HashSet::new();
            let cols: Vec<Col> = cols
                .into_iter()
                .filter(|(n, _)| seen.insert(n.clone()))
                .map(|(n, m)| Col::with_meta(n, m).unwrap())
                .collect();
            let w = cols.len();
            let rows = if w == 0 {
                vec![]
            } else {
                rows.into_iter()
                    .map(|r| r.into_iter().take(w).collect())
                    .collect()
            };
            Grid::from_parts(meta, cols, rows).unwrap()
        })
}

fn value() -> impl Strategy<Value = Value> + Clone {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            dict_of(inner.clone()).prop_map(Value::Dict),
            grid_of(inner).prop_map(|g| Value::Grid(Box::new(g))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn zinc_value_round_trip(v in value()) {
        let text = haystack_zinc::value_to_string(&v);
        let back = haystack_zinc::value_from_str(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&back, &v, "{}", text);
        prop_assert_eq!(haystack_zinc::value_to_string(&back), text);
    }

    #[test]
    fn zinc_grid_round_trip(g in grid_of(value())) {
        let text = haystack_zinc::to_string(&g);
        let back = haystack_zinc::from_str(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&back, &g, "{}", text);
        let streamed = haystack_zinc::GridReader::new(text.as_bytes()).and_then(|r| r.into_grid())
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&streamed, &g, "{}", text);
        // Row by row: the tag views of `next_row` and the cells of `read_row` are the grid's rows.
        let mut by_tags = haystack_zinc::GridReader::new(text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let mut by_cells = haystack_zinc::GridReader::new(text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let mut cells = Vec::new();
        for row in g.rows() {
            let tags = by_tags.next_row().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let tags: Vec<(usize, Value)> = tags
                .map(|r| r.entries().map(|(c, v)| (c, v.clone())).collect())
                .unwrap_or_default();
            let expected: Vec<(usize, Value)> = row.entries().map(|(c, v)| (c, v.clone())).collect();
            prop_assert_eq!(tags, expected);
            prop_assert!(by_cells.read_row(&mut cells).map_err(|e| TestCaseError::fail(e.to_string()))?);
            prop_assert_eq!(&cells, &row.to_cells());
        }
        if !g.cols().is_empty() {
            prop_assert!(by_tags.next_row().map_err(|e| TestCaseError::fail(e.to_string()))?.is_none());
            prop_assert!(!by_cells.read_row(&mut cells).map_err(|e| TestCaseError::fail(e.to_string()))?);
        }
    }

    #[test]
    fn trio_round_trip(recs in prop::collection::vec(dict_of(value()).prop_filter("non-empty", |d| !d.is_empty()), 0..4)) {
        let text = haystack_zinc::trio::to_string(&recs);
        let back = haystack_zinc::trio::from_str(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&back, &recs, "{}", text);
    }
}
