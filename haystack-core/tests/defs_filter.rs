//! Filters with defs: spec terms (`ph::Ahu`), def-aware marker terms in a namespace, and
//! `^symbol` comparisons on def dicts.

use haystack_core::defs::Namespace;
use haystack_core::filter::{Filter, NoResolver, Node};
use haystack_core::{Dict, Grid, Value};

fn markers(tags: &str) -> Dict {
    Dict::from_pairs(tags.split_whitespace().map(|t| (t, Value::Marker))).unwrap()
}

fn f(text: &str) -> Filter {
    Filter::parse(text).unwrap()
}

#[test]
fn spec_terms_parse_and_print() {
    for text in [
        "Ahu",
        "ph::Ahu",
        "ph.points::OutsideAirTempSensor",
        "equip and ph::Ahu",
        "(Meter or site) and dis == \"x\"",
    ] {
        let filter = f(text);
        assert_eq!(filter.to_string(), text);
        assert_eq!(Filter::parse(&filter.to_string()).unwrap(), filter);
    }
    let Node::Spec(spec) = f("ph::Ahu").node().clone() else {
        panic!("a spec node")
    };
    assert_eq!((spec.lib(), spec.name()), (Some("ph"), "Ahu"));
    // A lib without a spec name, and a spec name in a path, are errors with a position.
    let err = Filter::parse("ph::ahu").unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected a spec name (such as Ahu) after '::' at line 1, column 5"
    );
    assert!(Filter::parse("siteRef->Ahu").is_err());
    assert!(Filter::parse("Ahu == 1").is_err());
}

#[test]
fn spec_terms_match_by_reflection() {
    // Without a namespace given, spec terms use the standard libraries.
    let ahu = f("ph::Ahu");
    assert!(ahu.matches(&markers("ahu equip")));
    assert!(ahu.matches(&markers("rtu ahu equip")), "a subtype fits");
    assert!(!ahu.matches(&markers("equip")));
    assert!(f("HotWaterPlant").matches(&markers("hot water plant equip")));
    assert!(!f("HotWaterPlant").matches(&markers("chilled water plant equip")));
    assert!(f("AirHandlingEquip").matches(&markers("ahu equip")));
    assert!(f("Equip and not ahu").matches(&markers("vav equip")));
    // The grammar's `not` takes a path, not a spec.
    assert!(Filter::parse("not Ahu").is_err());
    // A spec naming no def matches nothing (NamespaceFilter reports it instead).
    assert!(!f("Nonesuch").matches(&markers("ahu equip")));
    assert!(!f("acme::Ahu").matches(&markers("ahu equip")));
    // Over a grid (compiled against its columns), rows are reflected the same way.
    let rows = [
        markers("ahu equip"),
        markers("vav equip"),
        markers("rtu ahu equip"),
        markers("site"),
    ];
    let grid = Grid::from_dicts(&rows);
    assert_eq!(f("Ahu").select(&grid, &NoResolver), [0, 2]);
    assert_eq!(f("Equip and not ahu").select(&grid, &NoResolver), [1]);
    let compiled = f("Ahu").compile_for(&grid);
    let cells: Vec<Value> = grid.row(2).unwrap().to_cells();
    assert!(compiled.matches_cells(&cells, &NoResolver));
}

#[test]
fn marker_terms_are_def_aware_in_a_namespace() {
    let ns = Namespace::standard();
    let ahu_only = markers("ahu");
    // Plain: the tag must be there. In the namespace: ahu implies equip.
    assert!(!f("equip").matches(&ahu_only));
    let equip = f("equip").in_namespace(ns).unwrap();
    assert!(equip.matches(&ahu_only));
    assert!(!f("not equip").in_namespace(ns).unwrap().matches(&ahu_only));
    assert!(
        f("not equip")
            .in_namespace(ns)
            .unwrap()
            .matches(&markers("site"))
    );
    // Subtyping through the substance taxonomy: water is a liquid; hot-water is water.
    let liquid = f("liquid and point").in_namespace(ns).unwrap();
    assert!(liquid.matches(&markers("chilled water temp sensor point")));
    assert!(!liquid.matches(&markers("air temp sensor point")));
    // Value tags and comparisons are as in a plain filter.
    let mut d = markers("ahu");
    d.insert("dis", "AHU-1").unwrap();
    assert!(
        f("dis == \"AHU-1\" and equip")
            .in_namespace(ns)
            .unwrap()
            .matches(&d)
    );
    assert!(
        !f("str").in_namespace(ns).unwrap().matches(&d),
        "str is not a marker def"
    );
    // Unknown specs are an error when bound to a namespace.
    let err = f("ph::Nonesuch or site").in_namespace(ns).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec ph::Nonesuch names no def of the namespace"
    );
    // Over a grid.
    let rows = [markers("ahu"), markers("site"), markers("vav equip")];
    let grid = Grid::from_dicts(&rows);
    assert_eq!(equip.select(&grid, &NoResolver).collect::<Vec<_>>(), [0, 2]);
}

#[test]
fn symbol_comparisons_on_defs() {
    let ns = Namespace::standard();
    // The Ops chapter's example: def==^point.
    let point = f("def==^point");
    let hits: Vec<&str> = ns
        .defs()
        .filter(|d| point.matches(d.dict()))
        .map(|d| d.symbol())
        .collect();
    assert_eq!(hits, ["point"]);
    // A list on the left matches when any element does: direct subtypes of equip.
    let subs = f("is == ^equip");
    let hits: Vec<&str> = ns
        .defs()
        .filter(|d| subs.matches(d.dict()))
        .map(|d| d.symbol())
        .collect();
    assert!(
        hits.contains(&"airHandlingEquip") && !hits.contains(&"ahu"),
        "{hits:?}"
    );
    assert!(f("lib == ^lib:phIoT and mandatory").matches(ns.def("equip").unwrap().dict()));
}

#[test]
fn spec_terms_of_project_libs() {
    let lib = vec![
        Dict::from_pairs([
            ("def", Value::Symbol("lib:acme".into())),
            ("doc", Value::from("Acme")),
            ("version", Value::from("1")),
            (
                "depends",
                Value::List(vec![
                    Value::Symbol("lib:ph".into()),
                    Value::Symbol("lib:phIoT".into()),
                ]),
            ),
        ])
        .unwrap(),
        Dict::from_pairs([
            ("def", Value::Symbol("acmeWidget".into())),
            ("is", Value::Symbol("ahu".into())),
        ])
        .unwrap(),
    ];
    let ns = Namespace::builder().lib(lib).build().unwrap();
    let widget = f("acme::AcmeWidget").in_namespace(&ns).unwrap();
    assert!(widget.matches(&markers("acmeWidget")));
    assert!(!widget.matches(&markers("ahu equip")));
    // The def is not in the ph libraries.
    assert!(f("ph::AcmeWidget").in_namespace(&ns).is_err());
    // A marker of the project lib implies its supertypes.
    assert!(
        f("ahu")
            .in_namespace(&ns)
            .unwrap()
            .matches(&markers("acmeWidget"))
    );
}
