//! Cross-check with libhaystack: its namespace, built from its normalized `defs.zinc`, against
//! this crate's, compiled from the Trio sources of the standard libraries.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use haystack_core::defs::{Def, Namespace};
use haystack_core::{Value, json};
use libhaystack::defs::namespace::{DefDict, Namespace as LhNamespace};
use libhaystack::val::Symbol as LhSymbol;

fn lh_namespace() -> LhNamespace {
    LhNamespace::make(common::libhaystack_data::defs_grid())
}

/// Defs added to the standard libraries after the 3.9.15 build that libhaystack ships.
const NEW_SINCE_3_9_15: [&str; 5] = ["splitPhase", "twoPhase", "pfStandard", "pfIec", "pfIeee"];

fn names<'a>(defs: impl IntoIterator<Item = &'a libhaystack::val::Dict>) -> BTreeSet<String> {
    defs.into_iter().map(|d| d.def_name().to_owned()).collect()
}

/// Our defs' names, leaving out the defs that libhaystack's older copy does not have.
fn our_names<'a>(defs: impl IntoIterator<Item = &'a Def>) -> BTreeSet<String> {
    defs.into_iter()
        .map(|d| d.symbol().to_owned())
        .filter(|s| !NEW_SINCE_3_9_15.contains(&s.as_str()))
        .collect()
}

#[test]
fn inheritance_agrees_with_libhaystack() {
    let lh = lh_namespace();
    let ns = Namespace::standard();
    let mut agree = [0usize; 4];
    let mut differ = Vec::new();
    for sym in lh.defs.keys() {
        let name = sym.value();
        assert!(ns.has(name), "{name} missing");

        let pairs = [
            (
                "inheritance",
                names(lh.inheritance(sym)),
                our_names(ns.inheritance(name)),
            ),
            ("is", names(lh.supertypes_of(sym)), our_names(ns.is(name))),
            (
                "subtypes",
                names(lh.subtypes_of(sym)),
                our_names(ns.subtypes(name)),
            ),
            ("tags", names(lh.tags(sym)), our_names(ns.tags(name))),
        ];
        for (n, (what, theirs, ours)) in pairs.into_iter().enumerate() {
            if theirs == ours {
                agree[n] += 1;
            } else {
                differ.push(format!(
                    "{what} of {name}: libhaystack {theirs:?}, ours {ours:?}"
                ));
            }
        }
    }
    let extra: Vec<&str> = ns
        .defs()
        .map(|d| d.symbol())
        .filter(|s| !lh.defs.contains_key(&LhSymbol::from(*s)))
        .collect();
    println!(
        "{} defs in libhaystack's defs.zinc, {} here; same inheritance {}, is {}, subtypes {}, \
         tags {}; defs only here: {extra:?}",
        lh.defs.len(),
        ns.len(),
        agree[0],
        agree[1],
        agree[2],
        agree[3]
    );
    for d in &differ {
        println!("  {d}");
    }
    assert_eq!(lh.defs.len(), 714);
    assert_eq!(extra, NEW_SINCE_3_9_15);
    // Leaving out the five new defs (subtypes of `phaseCount` and `pfScope`), everything agrees.
    assert_eq!(agree, [714; 4], "{differ:#?}");
}

/// Tags whose values changed between libhaystack's copy of the defs (3.9.15) and ours (4.0.0):
/// reworded docs and enum texts, Wikipedia links added, and the lib versions.
const CHANGED_SINCE_3_9_15: [&str; 4] = ["doc", "enum", "wikipedia", "version"];

#[test]
fn effective_defs_agree_with_defs_zinc() {
    let lh = lh_namespace();
    let ns = Namespace::standard();
    let mut agree = 0;
    let mut differ: BTreeMap<String, usize> = BTreeMap::new();
    for (sym, theirs) in &lh.defs {
        let ours = ns
            .def(sym.value())
            .expect("every def of defs.zinc is defined");
        let ours: serde_json::Value =
            serde_json::from_str(&json::to_string(&Value::Dict(ours.dict().clone()))).unwrap();
        let theirs = serde_json::to_value(theirs).unwrap();
        if ours == theirs {
            agree += 1;
            continue;
        }
        let (o, t) = (ours.as_object().unwrap(), theirs.as_object().unwrap());
        for k in o.keys().chain(t.keys()).collect::<BTreeSet<_>>() {
            if o.get(k) != t.get(k) {
                *differ.entry(k.clone()).or_default() += 1;
            }
        }
    }
    println!(
        "effective defs equal to defs.zinc: {agree} of {}; tags that differ: {differ:?}",
        lh.defs.len()
    );
    // Everything but the text that changed between the versions is the same, including every
    // inherited tag and the deduplicated accumulated children.
    for tag in differ.keys() {
        assert!(
            CHANGED_SINCE_3_9_15.contains(&tag.as_str()),
            "{tag} differs: {differ:?}"
        );
    }
    assert!(agree >= 650, "{agree}");
}

#[test]
fn reflection_of_points_agrees_with_libhaystack() {
    let lh = lh_namespace();
    let ns = Namespace::standard();
    let (theirs, ours) = common::libhaystack_data::points();
    assert_eq!(ours.len(), 1194);
    let mut agree = 0;
    let mut entity_among_ours = 0;
    let mut differ = Vec::new();
    for (t, o) in theirs.iter().zip(&ours) {
        let lr = lh.reflect(t);
        let r = ns.reflect(o);
        let a = names(lr.defs.iter().copied());
        let b = our_names(r.defs());
        if a == b {
            agree += 1;
        } else {
            differ.push(format!(
                "{}: only libhaystack {:?}, only ours {:?}",
                o.get("id").map(|v| v.to_string()).unwrap_or_default(),
                a.difference(&b).collect::<Vec<_>>(),
                b.difference(&a).collect::<Vec<_>>()
            ));
        }
        // libhaystack picks one entity type; where a point has several most specific ones
        // (`cur-point`, `his-point`, `writable-point`) it takes the first by name. Ours lists
        // them all, and its pick is among them.
        if r.entity_types()
            .iter()
            .any(|d| d.symbol() == lr.entity_type.def_name())
        {
            entity_among_ours += 1;
        }
    }
    println!(
        "reflection of {} points: same defs {agree}, libhaystack's entity type among ours \
         {entity_among_ours}",
        ours.len()
    );
    assert_eq!(agree, ours.len(), "{differ:#?}");
    assert_eq!(entity_among_ours, ours.len());
}

#[test]
fn def_aware_filters_agree_with_reflection_on_points() {
    // A namespace filter works out each term's implementing tags and conjuncts once; on every
    // point record it must say what reflection says.
    let ns = Namespace::standard();
    let (_, points) = common::libhaystack_data::points();
    let terms = [
        "point",
        "sensor",
        "temp",
        "air",
        "water",
        "liquid",
        "fluid",
        "his",
        "writable",
        "cmd",
        "elec",
        "phenomenon",
        "output",
    ];
    let mut checked = 0;
    for term in terms {
        let filter = haystack_core::filter::Filter::parse(term)
            .unwrap()
            .in_namespace(ns)
            .unwrap();
        for p in &points {
            assert_eq!(filter.matches(p), ns.reflect(p).fits(term), "{term} on {p}");
            checked += 1;
        }
    }
    assert_eq!(checked, terms.len() * points.len());
}
