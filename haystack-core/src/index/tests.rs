//! The planner's shapes, and the property that an indexed selection is exactly the scan's.

use proptest::prelude::*;

use super::{Index, Plan};
use crate::filter::{CmpOp, Filter, GridIndex};
use crate::{Dict, Grid, Number, Ref, Value};

fn r(id: &str) -> Value {
    Value::Ref(Ref::new(id).unwrap())
}

fn d(pairs: Vec<(&str, Value)>) -> Dict {
    Dict::from_pairs(pairs).unwrap()
}

/// Two sites, three equips, points; one point has a list of site refs, one a nested dict.
fn site_grid() -> Grid {
    let f = |v: f64| Value::Number(Number::with_unit(v, "°F"));
    let rows = vec![
        d(vec![
            ("id", r("s1")),
            ("site", Value::Marker),
            ("geoCity", "Paris".into()),
        ]),
        d(vec![
            ("id", r("s2")),
            ("site", Value::Marker),
            ("geoCity", "Tokyo".into()),
        ]),
        d(vec![
            ("id", r("e1")),
            ("equip", Value::Marker),
            ("siteRef", r("s1")),
        ]),
        d(vec![
            ("id", r("e2")),
            ("ahu", Value::Marker),
            ("siteRef", r("s2")),
        ]),
        d(vec![
            ("id", r("e3")),
            ("equip", Value::Marker),
            ("siteRef", r("s2")),
        ]),
        d(vec![
            ("id", r("p1")),
            ("point", Value::Marker),
            ("siteRef", r("s1")),
            ("equipRef", r("e1")),
            ("curVal", f(90.0)),
        ]),
        d(vec![
            ("id", r("p2")),
            ("point", Value::Marker),
            ("siteRef", r("s2")),
            ("equipRef", r("e2")),
            ("curVal", f(70.0)),
        ]),
        d(vec![
            ("id", r("p3")),
            ("point", Value::Marker),
            ("siteRef", Value::List(vec![r("s9"), r("s1")])),
            ("curVal", Value::List(vec![f(95.0)])),
        ]),
        d(vec![
            ("id", r("p4")),
            ("point", Value::Marker),
            ("siteRef", Value::Dict(d(vec![("geoCity", "Tokyo".into())]))),
            ("curVal", Value::from(99.0)),
        ]),
        d(vec![
            ("id", r("p5")),
            ("point", Value::Marker),
            ("siteRef", r("s2")),
            ("curVal", f(89.5)),
        ]),
    ];
    Grid::from_dicts(&rows)
}

fn scan(grid: &Grid, filter: &Filter) -> Vec<usize> {
    filter.select(grid, &GridIndex::new(grid))
}

/// Checks the plan shape and that the indexed result is the scan's.
fn check(text: &str, plan: Plan, expected: &[usize]) {
    let grid = site_grid();
    let index = Index::new(&grid);
    let db = index.on(&grid);
    let filter: Filter = text.parse().unwrap();
    assert_eq!(db.plan(&filter), plan, "{text}");
    assert_eq!(db.select(&filter, usize::MAX), expected, "{text}");
    assert_eq!(scan(&grid, &filter), expected, "{text}: the scan agrees");
}

fn tag(t: &str) -> Plan {
    Plan::Tag(t.into())
}

fn text(t: &str, value: &str) -> Plan {
    Plan::Str {
        tag: t.into(),
        value: value.into(),
    }
}

#[test]
fn a_tag_term_narrows_to_its_rows() {
    check("site", tag("site"), &[0, 1]);
    check("geoCity == \"Tokyo\"", text("geoCity", "Tokyo"), &[1]);
    check("geoCity == \"Lyon\"", text("geoCity", "Lyon"), &[]);
    check("nope", Plan::Nothing, &[]);
    check("nope == 1", Plan::Nothing, &[]);
}

#[test]
fn ref_equality_uses_reverse_refs_and_keeps_lists_and_dicts() {
    let plan = Plan::Ref {
        tag: "siteRef".into(),
        id: "s1".into(),
    };
    check("siteRef == @s1", plan, &[2, 5, 7]);
    check(
        "id == @p2",
        Plan::Ref {
            tag: "id".into(),
            id: "p2".into(),
        },
        &[6],
    );
}

#[test]
fn number_ranges_by_unit() {
    let range = |op, v| Plan::Range {
        tag: "curVal".into(),
        op,
        value: Number::with_unit(v, "°F"),
    };
    check("curVal > 89.5°F", range(CmpOp::Gt, 89.5), &[5, 7]);
    check("curVal >= 89.5°F", range(CmpOp::Ge, 89.5), &[5, 7, 9]);
    check("curVal == 70°F", range(CmpOp::Eq, 70.0), &[6]);
    check("curVal < 80°F", range(CmpOp::Lt, 80.0), &[6]);
    check("curVal <= 70°F", range(CmpOp::Le, 70.0), &[6]);
    // Unitless 99 is not 99°F; `!=` matches every other value, so it cannot narrow by range.
    check(
        "curVal > 98",
        Plan::Range {
            tag: "curVal".into(),
            op: CmpOp::Gt,
            value: Number::new(98.0),
        },
        &[8],
    );
    check("curVal != 70°F", tag("curVal"), &[5, 7, 8, 9]);
}

#[test]
fn and_intersects_and_or_unites() {
    check(
        "point and siteRef == @s2",
        Plan::And(vec![
            tag("point"),
            Plan::Ref {
                tag: "siteRef".into(),
                id: "s2".into(),
            },
        ]),
        &[6, 9],
    );
    check(
        "site or equip",
        Plan::Or(vec![tag("site"), tag("equip")]),
        &[0, 1, 2, 4],
    );
    check("site or not equip", Plan::Scan, &[0, 1, 3, 5, 6, 7, 8, 9]);
    check("not point", Plan::Scan, &[0, 1, 2, 3, 4]);
    check("point and not equipRef", tag("point"), &[7, 8, 9]);
    check("point and nope", Plan::Nothing, &[]);
    check("nope or site", tag("site"), &[0, 1]);
}

#[test]
fn paths_go_through_reverse_refs_when_the_target_side_is_smaller() {
    // 2 rows have geoCity, 7 have siteRef: through the reverse index.
    check(
        "siteRef->geoCity == \"Tokyo\"",
        Plan::Through {
            tag: "siteRef".into(),
            target: Box::new(text("geoCity", "Tokyo")),
        },
        &[3, 4, 6, 8, 9],
    );
    check(
        "equip and siteRef->geoCity == \"Tokyo\"",
        // One site in Tokyo (string postings), fewer than the two equips: through it.
        Plan::And(vec![
            tag("equip"),
            Plan::Through {
                tag: "siteRef".into(),
                target: Box::new(text("geoCity", "Tokyo")),
            },
        ]),
        &[4],
    );
    check(
        "equip and siteRef->geoCity != \"Tokyo\"",
        // Two equips already: not worth going through the 2 rows with geoCity.
        Plan::And(vec![tag("equip"), tag("siteRef")]),
        &[2],
    );
    // Two levels: equipRef -> siteRef -> geoCity.
    check(
        "equipRef->siteRef->geoCity == \"Paris\"",
        tag("equipRef"),
        &[5],
    );
    // A sibling term already narrower than the target side: no reverse lookup.
    check(
        "id == @p1 and siteRef->geoCity == \"Paris\"",
        Plan::And(vec![
            Plan::Ref {
                tag: "id".into(),
                id: "p1".into(),
            },
            tag("siteRef"),
        ]),
        &[5],
    );
}

/// The site grid without the rows whose `siteRef` and `curVal` are a list or a dict.
fn flat_grid() -> Grid {
    let mut grid = site_grid();
    grid.retain_rows(|r| r.index() != 7 && r.index() != 8);
    grid
}

/// What the indexed selection of `text` still evaluates on its candidates.
fn residual(grid: &Grid, text: &str) -> Option<String> {
    let index = Index::new(grid);
    let f: Filter = text.parse().unwrap();
    let db = index.on(grid);
    let out = db.residual(&f).map(|r| r.to_string());
    assert_eq!(db.select(&f, usize::MAX), scan(grid, &f), "{text}");
    out
}

#[test]
fn exact_terms_are_not_evaluated_again() {
    let flat = flat_grid();
    for text in [
        "site",
        "point and siteRef == @s2",
        "point and curVal > 89.5°F",
        "point and curVal <= 70°F and siteRef == @s2",
        "site or equip",
        "id == @e3",
    ] {
        assert_eq!(residual(&flat, text), None, "{text}");
    }
    // Only the terms the indexes narrow but do not answer are left.
    assert_eq!(residual(&flat, "site and geoCity == \"Paris\""), None);
    assert_eq!(
        residual(&flat, "site and geoCity != \"Paris\"").as_deref(),
        Some("geoCity != \"Paris\"")
    );
    assert_eq!(
        residual(&flat, "point and not equipRef and siteRef == @s2").as_deref(),
        Some("not equipRef")
    );
    assert_eq!(
        residual(&flat, "point and curVal != 70°F").as_deref(),
        Some("curVal != 70°F")
    );
    // An `or` with an inexact part is evaluated whole.
    assert_eq!(
        residual(&flat, "point and (site or geoCity != \"Paris\")").as_deref(),
        Some("site or geoCity != \"Paris\"")
    );
    // Nothing narrows: the whole filter, scanned.
    assert_eq!(residual(&flat, "not site").as_deref(), Some("not site"));
    // Lists and dicts in the column: reverse refs and ranges only narrow.
    let nested = site_grid();
    assert_eq!(
        residual(&nested, "point and siteRef == @s1").as_deref(),
        Some("siteRef == @s1")
    );
    assert_eq!(
        residual(&nested, "point and curVal > 89.5°F").as_deref(),
        Some("curVal > 89.5°F")
    );
    assert_eq!(residual(&nested, "point").as_deref(), None);
}

#[cfg(feature = "defs")]
#[test]
fn namespace_markers_are_answered_by_tag_bitmaps() {
    let grid = flat_grid();
    let index = Index::new(&grid);
    let db = index.on(&grid);
    let ns = crate::defs::Namespace::standard();
    let residual = |text: &str| {
        let f: Filter = text.parse().unwrap();
        db.residual_in(&f, ns).map(|r| r.to_string())
    };
    // `equip` is the rows with equip or ahu (a subtype): one union of bitmaps, exact.
    assert_eq!(residual("equip"), None);
    assert_eq!(residual("Ahu"), None);
    assert_eq!(
        residual("equip and siteRef->geoCity == \"Tokyo\"").as_deref(),
        Some("siteRef->geoCity == \"Tokyo\"")
    );
    assert_eq!(residual("site and geoCity == \"Paris\""), None);
    assert_eq!(
        residual("site and geoCity != \"Paris\"").as_deref(),
        Some("geoCity != \"Paris\"")
    );
    let f: Filter = "equip and siteRef == @s2".parse().unwrap();
    assert_eq!(db.residual_in(&f, ns), None);
    assert_eq!(db.select_in(&f, ns, usize::MAX).unwrap(), [3, 4]);
    // A spec naming no def is an error even when the rest answers the filter.
    let f: Filter = "nope and Zzz".parse().unwrap();
    assert!(db.select_in(&f, ns, usize::MAX).is_err());
    let f: Filter = "site and Zzz".parse().unwrap();
    assert!(db.select_in(&f, ns, usize::MAX).is_err());
}

#[cfg(feature = "defs")]
#[test]
fn conjunct_rows_are_checked_for_markers() {
    // `chiller-absorption` is a conjunct that implements `chillerMechanism`, which neither
    // part does alone; a row implements it only when both parts are markers.
    let rows = vec![
        d(vec![
            ("id", r("a")),
            ("chiller", Value::Marker),
            ("absorption", Value::Marker),
        ]),
        d(vec![
            ("id", r("b")),
            ("chiller", Value::Marker),
            ("absorption", "x".into()),
        ]),
        d(vec![("id", r("c")), ("chiller", Value::Marker)]),
    ];
    let grid = Grid::from_dicts(&rows);
    let index = Index::new(&grid);
    let db = index.on(&grid);
    let ns = crate::defs::Namespace::standard();
    let f: Filter = "chillerMechanism".parse().unwrap();
    let bound = f.in_namespace(ns).unwrap();
    let expected: Vec<usize> = bound.select(&grid, &GridIndex::new(&grid)).collect();
    assert_eq!(expected, [0]);
    assert_eq!(db.select_in(&f, ns, usize::MAX).unwrap(), expected);
    assert!(db.residual_in(&f, ns).is_some(), "the markers are checked");
    // Rows a tag already implies need no check: `equip` (chiller is one) is exact.
    let f: Filter = "equip".parse().unwrap();
    assert_eq!(db.residual_in(&f, ns), None);
    assert_eq!(db.select_in(&f, ns, usize::MAX).unwrap(), [0, 1, 2]);
}

#[test]
fn limit_stops_early() {
    let grid = site_grid();
    let index = Index::new(&grid);
    let f: Filter = "point".parse().unwrap();
    assert_eq!(index.on(&grid).select(&f, 2), [5, 6]);
    assert_eq!(index.on(&grid).select(&f, 0), Vec::<usize>::new());
}

#[test]
fn lookups() {
    let grid = site_grid();
    let index = Index::new(&grid);
    let db = index.on(&grid);
    assert_eq!(db.row_of("e2"), Some(3));
    assert_eq!(db.row_of("zz"), None);
    assert_eq!(
        db.referrers("siteRef", "s2").collect::<Vec<_>>(),
        [3, 4, 6, 9]
    );
    assert_eq!(db.referrers("equipRef", "s2").count(), 0);
    assert_eq!(db.tag_rows("site").map(|b| b.len()), Some(2));
    assert!(index.heap_bytes() > 0);
}

#[test]
fn another_grid_is_scanned_not_misread() {
    let grid = site_grid();
    let index = Index::new(&grid);
    let mut other = site_grid();
    other.retain_rows(|r| r.index() != 0);
    let db = index.on(&other);
    let f: Filter = "siteRef == @s1".parse().unwrap();
    assert_eq!(db.plan(&f), Plan::Scan);
    assert_eq!(db.select(&f, usize::MAX), scan(&other, &f));
    assert_eq!(db.row_of("e1"), Some(1));
}

#[cfg(feature = "defs")]
#[test]
fn namespace_markers_and_specs_use_what_implies_them() {
    let grid = site_grid();
    let index = Index::new(&grid);
    let db = index.on(&grid);
    let ns = crate::defs::Namespace::standard();
    for (text, rows) in [
        ("equip", vec![2, 3, 4]),
        ("equip and siteRef->geoCity == \"Tokyo\"", vec![3, 4]),
        ("Ahu", vec![3]),
        ("not equip", vec![0, 1, 5, 6, 7, 8, 9]),
    ] {
        let f: Filter = text.parse().unwrap();
        let bound = f.in_namespace(ns).unwrap();
        let expected: Vec<usize> = bound.select(&grid, &GridIndex::new(&grid)).collect();
        assert_eq!(
            db.select_in(&f, ns, usize::MAX).unwrap(),
            expected,
            "{text}"
        );
        assert_eq!(expected, rows, "{text}");
    }
    let f: Filter = "equip".parse().unwrap();
    assert_eq!(db.plan_in(&f, ns), Plan::Implied("equip".into()));
}

// Random grids and filters: the indexed result is the scan's, in the same order.

const IDS: [&str; 6] = ["a", "b", "c", "d", "e", "zz"];

/// A scalar value (what a column without lists or dicts holds).
fn leaf() -> impl Strategy<Value = Value> + Clone {
    let unit = prop_oneof![Just(None), Just(Some("°F")), Just(Some("kW"))];
    let num = (
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(1.5),
            Just(50.0),
            Just(89.5),
            Just(f64::NAN),
            -100.0..100.0f64
        ],
        unit,
    )
        .prop_map(|(v, u)| match u {
            Some(u) => Value::Number(Number::with_unit(v, u)),
            None => Value::Number(Number::new(v)),
        });
    let reference = prop::sample::select(&IDS[..]).prop_map(r);
    prop_oneof![
        3 => reference,
        3 => num,
        1 => Just(Value::Marker),
        2 => prop::sample::select(&["Paris", "Tokyo", "x"][..]).prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
    ]
}

/// A value: a scalar, or a list or dict of them.
fn value() -> impl Strategy<Value = Value> {
    let leaf = leaf();
    let reference = prop::sample::select(&IDS[..]).prop_map(r);
    prop_oneof![
        6 => leaf.clone(),
        1 => prop::collection::vec(leaf.clone(), 0..3).prop_map(Value::List),
        1 => (leaf, reference).prop_map(|(v, rf)| Value::Dict(d(vec![("geoCity", v), ("siteRef", rf)]))),
    ]
}

const TAGS: [&str; 10] = [
    "site",
    "equip",
    "ahu",
    "siteRef",
    "equipRef",
    "curVal",
    "geoCity",
    "point",
    "chiller",
    "absorption",
];

/// Random grids: with lists and dicts in their columns, or (`nested` false) only scalars,
/// where reverse refs and ranges answer terms exactly.
fn grid_of(nested: bool) -> impl Strategy<Value = Grid> {
    let cell = if nested {
        value().boxed()
    } else {
        leaf().boxed()
    };
    let row = (
        prop::option::of(prop::sample::select(&IDS[..])),
        prop::collection::vec((prop::sample::select(&TAGS[..]), cell), 0..6),
    );
    prop::collection::vec(row, 0..40).prop_map(|rows| {
        let dicts: Vec<Dict> = rows
            .into_iter()
            .map(|(id, tags)| {
                let mut dict = Dict::new();
                if let Some(id) = id {
                    dict.insert("id", r(id)).unwrap();
                }
                for (t, v) in tags {
                    dict.insert(t, v).unwrap();
                }
                dict
            })
            .collect();
        Grid::from_dicts(&dicts)
    })
}

fn term() -> impl Strategy<Value = String> {
    let path = prop::sample::select(
        &[
            "site",
            "equip",
            "ahu",
            "point",
            "curVal",
            "geoCity",
            "siteRef",
            "id",
            "siteRef->geoCity",
            "equipRef->siteRef",
            "equipRef->siteRef->geoCity",
            "siteRef->siteRef->curVal",
            "equipRef->curVal",
            "nope",
        ][..],
    );
    let operand = prop_oneof![
        prop::sample::select(&IDS[..]).prop_map(|i| format!("@{i}")),
        prop::sample::select(
            &[
                "0",
                "-0",
                "1.5",
                "50°F",
                "89.5°F",
                "0kW",
                "\"Paris\"",
                "\"Tokyo\"",
                "T"
            ][..]
        )
        .prop_map(str::to_owned),
    ];
    let op = prop::sample::select(&["==", "!=", "<", "<=", ">", ">="][..]);
    prop_oneof![
        2 => path.clone().prop_map(str::to_owned),
        1 => path.clone().prop_map(|p| format!("not {p}")),
        4 => (path, op, operand).prop_map(|(p, o, v)| format!("{p} {o} {v}")),
        1 => Just("Ahu".to_owned()),
        1 => Just("chillerMechanism".to_owned()),
    ]
}

fn filter() -> impl Strategy<Value = String> {
    term().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| format!("({})", v.join(" and "))),
            prop::collection::vec(inner, 2..4).prop_map(|v| format!("({})", v.join(" or "))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn indexed_selection_is_the_scan(grid in prop_oneof![grid_of(true), grid_of(false)], text in filter(), limit in prop_oneof![Just(usize::MAX), 0..5usize]) {
        let f: Filter = text.parse().unwrap();
        let index = Index::new(&grid);
        let db = index.on(&grid);
        let mut expected = scan(&grid, &f);
        expected.truncate(limit);
        prop_assert_eq!(db.select(&f, limit), expected, "{}", text);
        #[cfg(feature = "defs")]
        {
            let ns = crate::defs::Namespace::standard();
            let bound = f.in_namespace(ns).unwrap();
            let expected: Vec<usize> =
                bound.select(&grid, &GridIndex::new(&grid)).take(limit).collect();
            prop_assert_eq!(&db.select_in(&f, ns, limit).unwrap(), &expected, "in ns: {}", text);
            // Within a budget: the same rows, or nothing done when the work is over it (a
            // scan is over any budget below the grid's length).
            for budget in [0, 1, 3, grid.len()] {
                match db.select_in_within(&f, ns, limit, budget).unwrap() {
                    Some(rows) => {
                        prop_assert_eq!(&rows, &expected, "budget {}: {}", budget, text);
                        prop_assert!(rows.len() <= budget, "budget {}: {}", budget, text);
                    }
                    None => prop_assert!(budget < grid.len(), "budget {}: {}", budget, text),
                }
            }
        }
    }
}
