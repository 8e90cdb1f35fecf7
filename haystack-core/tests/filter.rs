//! Filters: parsing (with positioned errors), display round trips, and evaluation rule by rule on
//! dicts, grids and through resolvers.

use std::collections::HashMap;

use haystack_core::filter::{CmpOp, Filter, GridIndex, NoResolver, Path};
use haystack_core::{Dict, Error, Grid, Number, Ref, Value, dict};
use proptest::prelude::*;

fn r(id: &str) -> Value {
    Value::Ref(Ref::new(id).unwrap())
}

fn n(v: f64, unit: &str) -> Value {
    Value::Number(Number::with_unit(v, unit))
}

/// The records of the Filters chapter plus a site, equips and points.
fn records() -> Vec<Dict> {
    vec![
        dict! { "id" => r("site"), "dis" => "HQ", "site" => Value::Marker,
        "geoCity" => "Chicago", "area" => n(5000.0, "ft²") },
        dict! { "id" => r("ahu1"), "dis" => "AHU-1", "ahu" => Value::Marker,
        "equip" => Value::Marker, "siteRef" => r("site") },
        dict! { "id" => r("ahu2"), "dis" => "AHU-2", "ahu" => Value::Marker,
        "equip" => Value::Marker, "siteRef" => r("nowhere") },
        dict! { "id" => r("vav"), "airRef" => Value::List(vec![r("ahu1"), r("ahu2")]),
        "vav" => Value::Marker, "equip" => Value::Marker, "siteRef" => r("site") },
        dict! { "id" => r("p1"), "point" => Value::Marker, "curVal" => n(75.0, "°F"),
        "equipRef" => r("ahu1"), "siteRef" => r("site"), "enabled" => true,
        "installed" => Value::Date(time::macros::date!(2020 - 05 - 01)),
        "tags" => Value::List(vec![Value::from("a"), Value::from("b")]),
        "loc" => Value::Dict(dict! { "floor" => 3.0, "room" => "301" }) },
        dict! { "id" => r("p2"), "point" => Value::Marker, "curVal" => n(20.0, "°C"),
        "equipRef" => r("ahu2"), "enabled" => false, "note" => "a\"b$c" },
        dict! { "id" => r("p3"), "point" => Value::Marker, "curVal" => Value::from(75.0),
        "equipRef" => r("vav"), "uri" => Value::Uri("http://x/y".into()),
        "at" => Value::Time(time::macros::time!(12:30)) },
    ]
}

fn ids_of(grid: &Grid, hits: &[usize]) -> Vec<String> {
    hits.iter()
        .map(|&i| {
            grid.row(i)
                .and_then(|r| r.id())
                .map(|r| r.id().to_owned())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn evaluation_rules_table() {
    let grid = Grid::from_dicts(records().iter());
    let index = GridIndex::new(&grid);
    let dicts = records();
    let by_id: HashMap<String, Dict> = dicts
        .iter()
        .map(|d| (d.id().unwrap().id().to_owned(), d.clone()))
        .collect();
    let table: &[(&str, &[&str])] = &[
        // has / missing
        ("site", &["site"]),
        ("ahu", &["ahu1", "ahu2"]),
        ("not equip", &["site", "p1", "p2", "p3"]),
        ("nosuchtag", &[]),
        (
            "not nosuchtag",
            &["site", "ahu1", "ahu2", "vav", "p1", "p2", "p3"],
        ),
        // and / or / parens / precedence
        ("equip and not ahu", &["vav"]),
        ("site or vav", &["site", "vav"]),
        ("point and curVal == 75°F or site", &["site", "p1"]),
        (
            "point and (curVal == 75°F or curVal == 20°C)",
            &["p1", "p2"],
        ),
        ("(ahu or vav) and equip", &["ahu1", "ahu2", "vav"]),
        // number comparisons require equal units
        ("curVal == 75°F", &["p1"]),
        ("curVal == 75", &["p3"]),
        ("curVal == 75°C", &[]),
        ("curVal != 75°F", &["p2", "p3"]),
        ("curVal > 70°F", &["p1"]),
        ("curVal >= 75", &["p3"]),
        ("curVal < 100°F", &["p1"]),
        ("curVal <= 20°C", &["p2"]),
        ("curVal > 4", &["p3"]),
        ("area > 1000ft²", &["site"]),
        // other kinds
        ("dis == \"AHU-1\"", &["ahu1"]),
        ("dis > \"AHU-1\"", &["ahu2", "site"]),
        ("dis != \"HQ\"", &["ahu1", "ahu2"]),
        ("note == \"a\\\"b\\$c\"", &["p2"]),
        ("enabled == true", &["p1"]),
        ("enabled == false", &["p2"]),
        ("enabled", &["p1", "p2"]),
        ("installed >= 2020-01-01", &["p1"]),
        ("installed < 2020-01-01", &[]),
        ("at < 13:00:00", &["p3"]),
        ("uri == `http://x/y`", &["p3"]),
        ("id == @p2", &["p2"]),
        ("siteRef == @site \"Headquarters\"", &["ahu1", "vav", "p1"]),
        // comparisons of a different kind are false, except !=
        ("dis == 1", &[]),
        ("dis < 1", &[]),
        // lists match when any element matches
        ("airRef == @ahu1", &["vav"]),
        ("airRef == @ahu2", &["vav"]),
        ("airRef == @ahu3", &[]),
        ("tags == \"b\"", &["p1"]),
        // -> paths through refs, ref lists and nested dicts
        ("equipRef->ahu", &["p1", "p2"]),
        ("equipRef->siteRef->geoCity == \"Chicago\"", &["p1", "p3"]),
        ("siteRef->geoCity == \"Chicago\"", &["ahu1", "vav", "p1"]),
        (
            "equip and siteRef->geoCity == \"Chicago\"",
            &["ahu1", "vav"],
        ),
        ("not siteRef->site", &["site", "ahu2", "p2", "p3"]),
        ("airRef->dis == \"AHU-1\"", &["vav"]),
        ("airRef->dis == \"AHU-2\"", &["vav"]),
        ("airRef->siteRef->site", &["vav"]),
        ("loc->floor == 3", &["p1"]),
        ("loc->room", &["p1"]),
        ("dis->x", &[]),
    ];
    for (text, want) in table {
        let f: Filter = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        // Over the grid, compiled, with the grid as resolver.
        let mut got = ids_of(&grid, &f.select(&grid, &index));
        got.sort();
        assert_eq!(got, want, "grid: {text}");
        // On each dict, with a map of dicts as resolver.
        let mut got: Vec<String> = dicts
            .iter()
            .filter(|d| f.matches_with(d, &by_id))
            .map(|d| d.id().unwrap().id().to_owned())
            .collect();
        got.sort();
        assert_eq!(got, want, "dicts: {text}");
        // And it prints to a text that parses back to the same filter.
        let back: Filter = f.to_string().parse().unwrap();
        assert_eq!(back, f, "{text} -> {f}");
    }
}

#[test]
fn without_resolver_refs_do_not_resolve() {
    let d = &records()[4];
    assert!(!Filter::parse("equipRef->ahu").unwrap().matches(d));
    assert!(Filter::parse("loc->floor == 3").unwrap().matches(d));
    assert!(
        Filter::parse("not equipRef->ahu")
            .unwrap()
            .matches_with(d, &NoResolver)
    );
}

#[test]
fn compiled_filter_counts_and_filters_grids() {
    let grid = Grid::from_dicts(records().iter());
    let index = GridIndex::new(&grid);
    let f = Filter::parse("point and equipRef->ahu").unwrap();
    let compiled = f.compile_for(&grid);
    assert_eq!(compiled.count(&grid, &index), 2);
    let out = f.filter_grid(&grid, &index);
    assert_eq!(out.len(), 2);
    // Only the columns the matching rows use, in the grid's order.
    let used: Vec<&str> = grid
        .cols()
        .iter()
        .map(|c| c.name())
        .filter(|n| out.rows().any(|r| r.has(n)))
        .collect();
    assert_eq!(
        out.cols().iter().map(|c| c.name()).collect::<Vec<_>>(),
        used
    );
    assert!(!out.has_col("site") && out.has_col("equipRef"));
    assert_eq!(
        out.to_dicts(),
        grid.rows()
            .filter(|r| compiled.matches_row(r, &index))
            .map(|r| r.to_dict())
            .collect::<Vec<_>>()
    );
    // A tag that is no column compiles to a constant.
    assert_eq!(
        Filter::parse("zzz or point")
            .unwrap()
            .compile_for(&grid)
            .count(&grid, &index),
        3
    );
    assert_eq!(
        Filter::parse("not zzz")
            .unwrap()
            .compile_for(&grid)
            .count(&grid, &index),
        7
    );
    assert_eq!(
        Filter::parse("zzz == 1")
            .unwrap()
            .compile_for(&grid)
            .count(&grid, &index),
        0
    );
}

#[test]
fn display_normalizes_and_round_trips() {
    let table = [
        ("a", "a"),
        ("  a   and b ", "a and b"),
        ("a and (b and c)", "a and b and c"),
        ("(a or b) or c", "a or b or c"),
        ("(a or b) and c", "(a or b) and c"),
        ("a or b and c", "a or b and c"),
        ("not a->b->c", "not a->b->c"),
        ("x==1", "x == 1"),
        ("x != -1.5e3kW", "x != -1500kW"),
        ("x>=2024-02-29", "x >= 2024-02-29"),
        ("s == \"a\\nb\"", "s == \"a\\nb\""),
        ("r == @a:b-c.d~e", "r == @a:b-c.d~e"),
        ("y == ^hot-water", "y == ^hot-water"),
        ("t < 23:59:59.5", "t < 23:59:59.5"),
        (
            "ts > 2020-07-17T16:55:42.977-04:00 New_York",
            "ts > 2020-07-17T16:55:42.977-04:00 New_York",
        ),
        ("b == true or b == false", "b == true or b == false"),
        ("((((a))))", "a"),
    ];
    for (input, shown) in table {
        let f = Filter::parse(input).unwrap();
        assert_eq!(f.to_string(), shown, "{input}");
        assert_eq!(Filter::parse(shown).unwrap(), f);
    }
}

#[test]
fn parse_errors_say_where_and_what() {
    let table = [
        (
            "",
            "expected tag name but found end of input at line 1, column 1",
        ),
        (
            "a and",
            "expected tag name but found end of input at line 1, column 6",
        ),
        (
            "a b",
            "expected 'and', 'or' or end of input but found 'b' at line 1, column 3",
        ),
        (
            "(a or b",
            "expected ')' but found end of input at line 1, column 8",
        ),
        (
            "a)",
            "expected 'and', 'or' or end of input but found ')' at line 1, column 2",
        ),
        (
            "a ==",
            "expected value after '==' but found end of input at line 1, column 5",
        ),
        ("a == and", "expected value after '=='"),
        (
            "a->",
            "expected tag name but found end of input at line 1, column 4",
        ),
        // `Site` alone is a spec term (the grammar's isSpec); a digit starts nothing.
        (
            "1site",
            "expected tag name but found '1' at line 1, column 1",
        ),
        (
            "Site->dis",
            "expected 'and', 'or' or end of input but found '->' at line 1, column 5",
        ),
        (
            "a and\n  or",
            "expected tag name but found keyword 'or' at line 2, column 3",
        ),
        (
            "a == M",
            "expected value after '==' but found M at line 1, column 6",
        ),
        (
            "a == NaN",
            "expected value after '==' but found NaN at line 1, column 6",
        ),
        ("a == 2021-13-01", "expected value after '==': invalid date"),
        (
            "a = 1",
            "expected 'and', 'or' or end of input but found '=' at line 1, column 3",
        ),
    ];
    for (input, want) in table {
        let e = Filter::parse(input).unwrap_err();
        assert!(matches!(e, Error::Parse(_)), "{input}: {e:?}");
        assert!(
            e.to_string().starts_with(want),
            "{input:?}: got {e}, want {want}"
        );
    }
    let deep = "(".repeat(200) + "a" + &")".repeat(200);
    let e = Filter::parse(&deep).unwrap_err();
    assert!(e.to_string().contains("nested deeper than 128"), "{e}");
    assert_eq!(e.position().map(|p| p.column), Some(129));
}

#[test]
fn builders_validate() {
    let p = Path::new(["siteRef", "geoCity"]).unwrap();
    let f = Filter::cmp(p, CmpOp::Eq, Value::from("Chicago"))
        .unwrap()
        .and(
            Filter::has(Path::new(["equip"]).unwrap())
                .or(Filter::missing(Path::new(["x"]).unwrap())),
        );
    assert_eq!(
        f.to_string(),
        "siteRef->geoCity == \"Chicago\" and (equip or not x)"
    );
    assert!(Path::new(["and"]).is_err());
    assert!(Path::new(["Bad"]).is_err());
    assert!(Path::new(Vec::<String>::new()).is_err());
    assert!(Filter::cmp(Path::new(["a"]).unwrap(), CmpOp::Eq, Value::Marker).is_err());
    assert!(Filter::cmp(Path::new(["a"]).unwrap(), CmpOp::Eq, Value::List(vec![])).is_err());
}

fn arb_name() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        Just("a".to_string()),
        Just("siteRef".to_string()),
        Just("true".to_string()),
        Just("curVal".to_string()),
        "[a-z][a-zA-Z0-9_]{0,6}"
            .prop_filter("keyword", |s| !matches!(s.as_str(), "and" | "or" | "not")),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        (
            -1.0e9f64..1.0e9,
            prop_oneof![Just(""), Just("°F"), Just("kW"), Just("m²"), Just("%")]
        )
            .prop_map(|(v, u)| Value::Number(Number::with_unit(v, u))),
        any::<i32>().prop_map(|v| Value::from(f64::from(v))),
        ".{0,8}".prop_map(|s| Value::Str(s.into())),
        "[a-zA-Z0-9_:.~-]{1,10}".prop_map(|id| Value::Ref(Ref::new(id).unwrap())),
        "[a-z/:.]{0,10}".prop_map(|s| Value::Uri(s.into())),
        "[a-z][a-z-]{0,6}".prop_map(|s| Value::Symbol(s.into())),
        (1900i32..2100, 1u16..366)
            .prop_map(|(y, d)| Value::Date(time::Date::from_ordinal_date(y, d).unwrap())),
        (0u8..24, 0u8..60, 0u8..60, 0u32..1000).prop_map(|(h, m, s, ms)| Value::Time(
            time::Time::from_hms_milli(h, m, s, ms as u16).unwrap()
        )),
    ]
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    let path = || prop::collection::vec(arb_name(), 1..4).prop_map(|n| Path::new(n).unwrap());
    let leaf = prop_oneof![
        path().prop_map(Filter::has),
        path().prop_map(Filter::missing),
        (
            path(),
            prop_oneof![
                Just(CmpOp::Eq),
                Just(CmpOp::Ne),
                Just(CmpOp::Lt),
                Just(CmpOp::Le),
                Just(CmpOp::Gt),
                Just(CmpOp::Ge)
            ],
            arb_value()
        )
            .prop_map(|(p, op, v)| Filter::cmp(p, op, v).unwrap()),
    ];
    leaf.prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
            (inner.clone(), inner).prop_map(|(a, b)| a.or(b)),
        ]
    })
}

proptest! {
    #[test]
    fn filter_text_filter_round_trip(f in arb_filter()) {
        let text = f.to_string();
        let back = Filter::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&back, &f, "{}", text);
        prop_assert_eq!(back.to_string(), text);
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,40}") {
        let _ = Filter::parse(&s);
    }

    #[test]
    fn compiled_and_dict_evaluation_agree(f in arb_filter()) {
        let dicts = records();
        let grid = Grid::from_dicts(dicts.iter());
        let index = GridIndex::new(&grid);
        let hits = f.select(&grid, &index);
        let by_id: HashMap<String, Dict> =
            dicts.iter().map(|d| (d.id().unwrap().id().to_owned(), d.clone())).collect();
        let expect: Vec<usize> = (0..dicts.len()).filter(|&i| f.matches_with(&dicts[i], &by_id)).collect();
        prop_assert_eq!(hits, expect);
    }
}

/// `->` paths have a documented maximum length, checked by the parser and by `Path::new`, and
/// are walked without recursion: a path of the maximum length through a cycle of refs, on a
/// thread with a small stack, and an 800 KB `id->id->...` filter is a parse error.
#[test]
fn long_paths_are_bounded_and_walked_iteratively() {
    use haystack_core::filter::MAX_PATH_LEN;
    let long = vec!["id"; 200_000].join("->");
    let err = Filter::parse(&long).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("longer than {MAX_PATH_LEN}")),
        "{err}"
    );
    assert!(Path::new(vec!["a"; MAX_PATH_LEN + 1]).is_err());
    assert!(Path::new(vec!["a"; MAX_PATH_LEN]).is_ok());

    // Two entities that refer to each other: a->b->a->b... as long as allowed.
    let records = [
        dict! { "id" => r("a"), "next" => r("b"), "dis" => "A" },
        dict! { "id" => r("b"), "next" => r("a"), "dis" => "B" },
    ];
    let grid = Grid::from_dicts(records.iter());
    let mut path = vec!["next"; MAX_PATH_LEN - 1];
    path.push("dis");
    let text = format!("{} == \"B\"", path.join("->"));
    let filter = Filter::parse(&text).unwrap();
    let hits = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            let index = GridIndex::new(&grid);
            filter.select(&grid, &index)
        })
        .unwrap()
        .join()
        .unwrap();
    // 63 hops from `a` land on `b` (odd), from `b` on `a`.
    assert_eq!(hits, vec![0]);
}

#[test]
fn datetime_comparisons_compare_instants() {
    let rec = haystack_core::dict! {
        "at" => haystack_core::zinc::read_scalar("2020-01-01T00:00:00-05:00 New_York").unwrap(),
    };
    let grid = Grid::from_dicts([&rec]);
    let index = GridIndex::new(&grid);
    for (text, want) in [
        ("at == 2020-01-01T05:00:00Z UTC", true),
        ("at != 2020-01-01T05:00:00Z UTC", false),
        ("at == 2020-01-01T06:00:00+01:00 GMT-1", true),
        ("at < 2020-01-01T05:00:01Z UTC", true),
        ("at > 2020-01-01T04:59:59Z UTC", true),
        ("at >= 2020-01-01T05:00:00Z UTC", true),
        ("at < 2020-01-01T05:00:00Z UTC", false),
    ] {
        let f = Filter::parse(text).unwrap();
        assert_eq!(f.matches(&rec), want, "{text}");
        assert_eq!(f.select(&grid, &index).len(), usize::from(want), "{text}");
    }
}

/// Whole-grid evaluation (`select`, `count`: term by term over the grid's column view) agrees
/// with row-by-row evaluation on a realistic grid, and the column view follows changes to the
/// grid.
#[test]
fn whole_grid_and_row_by_row_evaluation_agree() {
    let mut grid = haystack_core::testing::realistic_grid(700);
    let filters = [
        "point and his",
        "point and not writable and not disabled",
        "curVal > 70°F",
        "curVal >= 50°F and curVal < 60°F or curVal > 1000kW",
        "curStatus == \"fault\" or curStatus == \"down\" or navName == \"OA-T\"",
        "siteRef->geoCity == \"Chicago\"",
        "point and equipRef->ahu and equipRef->siteRef->area > 100000ft²",
        "not siteRef->geoCity",
        "equip or site and not point",
        "nothing or id",
    ];
    for text in filters {
        let f = Filter::parse(text).unwrap();
        let index = GridIndex::new(&grid);
        let compiled = f.compile_for(&grid);
        let expect: Vec<usize> = grid
            .rows()
            .filter(|r| compiled.matches_row(r, &index))
            .map(|r| r.index())
            .collect();
        assert_eq!(f.select(&grid, &index), expect, "{text}");
        assert_eq!(compiled.count(&grid, &index), expect.len(), "{text}");
    }
    let f = Filter::parse("point and his").unwrap();
    let before = f.select(&grid, &NoResolver).len();
    assert!(before > 0);
    grid.retain_rows(|r| !r.has("his"));
    assert_eq!(f.select(&grid, &NoResolver), Vec::<usize>::new());
    let his = grid.col_index("his").unwrap();
    let point = grid.col_index("point").unwrap();
    grid.push_tags([(his, Value::Marker), (point, Value::Marker)])
        .unwrap();
    assert_eq!(f.select(&grid, &NoResolver), vec![grid.len() - 1]);
}

/// Tests of one tag joined into one pass over its column (`a > 1 and a < 5`, `a == "x" or a ==
/// "y"`, `a and a > 1`) and decided from compact keys: units, kinds, NaN, lists on the left
/// (each comparison of an `and` matches on any element by itself), long strings that share
/// their first 8 bytes, and refs followed by `->` once per id.
#[test]
fn tests_of_one_tag_are_decided_in_one_pass_as_term_by_term() {
    let rows = [
        dict! { "id" => r("r0"), "v" => n(75.0, "°F") },
        dict! { "id" => r("r1"), "v" => Value::from(75.0) },
        dict! { "id" => r("r2"), "v" => n(24.0, "°C") },
        dict! { "id" => r("r3"), "v" => "abcdefghij" },
        dict! { "id" => r("r4"), "v" => "abcdefghiX" },
        dict! { "id" => r("r5"), "v" => Value::List(vec![n(60.0, "°F"), n(90.0, "°F")]) },
        dict! { "id" => r("r6"), "v" => n(f64::NAN, "°F") },
        dict! { "id" => r("r7"), "v" => r("r0") },
        dict! { "id" => r("r8"), "w" => "fault" },
        dict! { "id" => r("r9"), "v" => r("r0"), "w" => "down" },
    ];
    let grid = Grid::from_dicts(rows.iter());
    let index = GridIndex::new(&grid);
    let by_id: HashMap<String, Dict> = rows
        .iter()
        .map(|d| (d.id().unwrap().id().to_owned(), d.clone()))
        .collect();
    let all_v = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r9"];
    let cases: &[(&str, &[&str])] = &[
        ("v > 70°F", &["r0", "r5"]),
        (
            "v != 75°F",
            &["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r9"],
        ),
        ("v == 75", &["r1"]),
        ("v == \"abcdefghij\"", &["r3"]),
        ("v == \"abcdefghi\"", &[]),
        (
            "v != \"abcdefghij\"",
            &["r0", "r1", "r2", "r4", "r5", "r6", "r7", "r9"],
        ),
        ("v >= 70°F and v < 80°F", &["r0", "r5"]),
        ("v and v > 70°F", &["r0", "r5"]),
        ("v > 70°F and v <= 75°F or v == 75", &["r0", "r1", "r5"]),
        ("v >= 75°F and v < 75°F", &["r5"]),
        ("v == 75°F and v == 75", &[]),
        ("v > 100kW or v < 0°F", &[]),
        (
            "(v > 0°F or v > 0°C) and (v < 30°C or v < 80°F)",
            &["r0", "r2", "r5"],
        ),
        ("v or v > 70°F", &all_v),
        ("v < 80 or v == \"abcdefghiX\"", &["r1", "r4"]),
        ("v == @r0", &["r7", "r9"]),
        ("v->v == 75°F", &["r7", "r9"]),
        ("v->v->v", &[]),
        (
            "not v->v",
            &["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r8"],
        ),
        (
            "w == \"fault\" or w == \"down\" or v == 75",
            &["r1", "r8", "r9"],
        ),
        (
            "(w == \"down\" or v > 80°F) and (v->v == 75°F or w)",
            &["r9"],
        ),
    ];
    for (text, want) in cases {
        let f = Filter::parse(text).unwrap();
        let hits = f.select(&grid, &index);
        assert_eq!(ids_of(&grid, &hits), *want, "{text}");
        let compiled = f.compile_for(&grid);
        let by_row: Vec<usize> = grid
            .rows()
            .filter(|r| compiled.matches_row(r, &index))
            .map(|r| r.index())
            .collect();
        assert_eq!(by_row, hits, "{text}: row by row");
        let by_dict: Vec<usize> = (0..rows.len())
            .filter(|&i| f.matches_with(&rows[i], &by_id))
            .collect();
        assert_eq!(by_dict, hits, "{text}: dicts");
        assert_eq!(compiled.count(&grid, &index), want.len(), "{text}: count");
    }
}

/// A value for a cell of the generated tables: any filter value, and the cases keys decide
/// on their own (shared long prefixes, NaN, units, lists, refs to rows of the table).
fn arb_cell() -> impl Strategy<Value = Value> {
    prop_oneof![
        arb_value(),
        prop_oneof![
            Just("abcdefgh"),
            Just("abcdefghi"),
            Just("abcdefghij"),
            Just("abcdefgX"),
            Just("fault"),
            Just(""),
        ]
        .prop_map(Value::from),
        Just(n(f64::NAN, "°F")),
        (60.0f64..80.0).prop_map(|v| n(v.round(), "°F")),
        prop::collection::vec(arb_value(), 0..3).prop_map(Value::List),
        Just(Value::Marker),
        (0u8..6).prop_map(|i| r(&format!("r{i}"))),
    ]
}

/// Tables of up to 30 rows with ids `r0`.., over the tags `a`, `b`, `curVal` and `ref`.
fn arb_table() -> impl Strategy<Value = Vec<Dict>> {
    let row = prop::collection::vec(proptest::option::of(arb_cell()), 4);
    prop::collection::vec(row, 1..30).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, cells)| {
                let mut pairs = vec![("id".to_string(), r(&format!("r{i}")))];
                for (name, v) in ["a", "b", "curVal", "ref"].iter().zip(cells) {
                    if let Some(v) = v {
                        pairs.push((name.to_string(), v));
                    }
                }
                Dict::from_pairs(pairs).unwrap()
            })
            .collect()
    })
}

/// Filters over the tags of [`arb_table`], so that terms of one tag meet in `and`s and `or`s.
fn arb_table_filter() -> impl Strategy<Value = Filter> {
    let name = prop_oneof![
        Just("a"),
        Just("b"),
        Just("curVal"),
        Just("ref"),
        Just("id")
    ];
    let path = prop::collection::vec(name, 1..3).prop_map(|n| Path::new(n).unwrap());
    let operand = prop_oneof![
        arb_value(),
        prop_oneof![Just("abcdefgh"), Just("abcdefghij"), Just("fault")].prop_map(Value::from),
        (60.0f64..80.0).prop_map(|v| n(v.round(), "°F")),
        (0u8..6).prop_map(|i| r(&format!("r{i}"))),
    ];
    let op = prop_oneof![
        Just(CmpOp::Eq),
        Just(CmpOp::Ne),
        Just(CmpOp::Lt),
        Just(CmpOp::Le),
        Just(CmpOp::Gt),
        Just(CmpOp::Ge)
    ];
    let leaf = prop_oneof![
        path.clone().prop_map(Filter::has),
        path.clone().prop_map(Filter::missing),
        (path, op, operand).prop_map(|(p, op, v)| Filter::cmp(p, op, v).unwrap()),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
            (inner.clone(), inner).prop_map(|(a, b)| a.or(b)),
        ]
    })
}

proptest! {
    /// Whole-grid evaluation (joined tests, keys, refs remembered by id) gives what each
    /// dict gives on its own, and what row-by-row evaluation gives.
    #[test]
    fn whole_grid_evaluation_agrees_with_dicts_on_generated_tables(
        rows in arb_table(),
        f in arb_table_filter(),
    ) {
        let grid = Grid::from_dicts(rows.iter());
        let index = GridIndex::new(&grid);
        let by_id: HashMap<String, Dict> =
            rows.iter().map(|d| (d.id().unwrap().id().to_owned(), d.clone())).collect();
        let hits = f.select(&grid, &index);
        let expect: Vec<usize> =
            (0..rows.len()).filter(|&i| f.matches_with(&rows[i], &by_id)).collect();
        prop_assert_eq!(&hits, &expect, "{}", f);
        let compiled = f.compile_for(&grid);
        let by_row: Vec<usize> = grid
            .rows()
            .filter(|r| compiled.matches_row(r, &index))
            .map(|r| r.index())
            .collect();
        prop_assert_eq!(&by_row, &expect, "{}: row by row", f);
        prop_assert_eq!(compiled.count(&grid, &index), expect.len());
    }
}

/// A number for the tests of one tag: a few values in a few units (so that bounds meet).
fn arb_small_number() -> impl Strategy<Value = Value> {
    (0u8..6, prop_oneof![Just(""), Just("°F"), Just("kW")])
        .prop_map(|(v, u)| n(f64::from(v) * 10.0, u))
}

proptest! {
    /// `and`/`or` trees of comparisons of one tag (joined into one pass, number comparisons
    /// into intervals of one unit) give what term-by-term evaluation on each dict gives.
    #[test]
    fn tests_of_one_tag_agree_with_dicts(
        cells in prop::collection::vec(
            prop_oneof![
                arb_small_number(),
                Just(n(f64::NAN, "°F")),
                prop::collection::vec(arb_small_number(), 0..3).prop_map(Value::List),
                Just(Value::from("x")),
                Just(Value::Bool(true)),
            ],
            1..20,
        ),
        f in {
            let op = prop_oneof![
                Just(CmpOp::Eq),
                Just(CmpOp::Ne),
                Just(CmpOp::Lt),
                Just(CmpOp::Le),
                Just(CmpOp::Gt),
                Just(CmpOp::Ge)
            ];
            let leaf = prop_oneof![
                8 => (op, arb_small_number()).prop_map(|(op, v)| {
                    Filter::cmp(Path::new(["v"]).unwrap(), op, v).unwrap()
                }),
                1 => Just(Filter::has(Path::new(["v"]).unwrap())),
                1 => Just(Filter::missing(Path::new(["v"]).unwrap())),
            ];
            leaf.prop_recursive(4, 16, 3, |inner| {
                prop_oneof![
                    (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
                    (inner.clone(), inner).prop_map(|(a, b)| a.or(b)),
                ]
            })
        },
    ) {
        let rows: Vec<Dict> = cells
            .into_iter()
            .enumerate()
            .map(|(i, v)| dict! { "id" => r(&format!("r{i}")), "v" => v })
            .collect();
        let grid = Grid::from_dicts(rows.iter());
        let expect: Vec<usize> = (0..rows.len()).filter(|&i| f.matches(&rows[i])).collect();
        prop_assert_eq!(f.select(&grid, &NoResolver), expect, "{}", f);
    }
}
