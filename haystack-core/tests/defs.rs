//! Namespaces from the chapters' own examples: the standard libraries, subtyping, reflection,
//! implementation, associations, protos, normalization and its errors.

use haystack_core::defs::{DefError, DefKind, Namespace};
use haystack_core::{Dict, Number, Value};

fn sym(s: &str) -> Value {
    Value::Symbol(s.into())
}

fn syms(list: &[&str]) -> Value {
    Value::List(list.iter().map(|s| sym(s)).collect())
}

/// A dict of the given tags; a name alone (no value) is a marker.
fn d(tags: &[(&str, Value)]) -> Dict {
    Dict::from_pairs(tags.iter().cloned()).unwrap()
}

/// A dict of markers, written like the chapters do: `"hot water plant equip"`.
fn markers(tags: &str) -> Dict {
    Dict::from_pairs(tags.split_whitespace().map(|t| (t, Value::Marker))).unwrap()
}

fn names<'a>(defs: impl IntoIterator<Item = &'a haystack_core::defs::Def>) -> Vec<&'a str> {
    defs.into_iter().map(|d| d.symbol()).collect()
}

fn sorted<'a>(defs: impl IntoIterator<Item = &'a haystack_core::defs::Def>) -> Vec<&'a str> {
    let mut v = names(defs);
    v.sort_unstable();
    v
}

/// A lib meta record depending on `depends`.
fn lib(name: &str, depends: &[&str]) -> Dict {
    let mut m = d(&[
        ("def", sym(&format!("lib:{name}"))),
        ("doc", Value::from("test lib")),
        ("version", Value::from("1.0")),
    ]);
    if !depends.is_empty() {
        m.insert("depends", syms(depends)).unwrap();
    }
    m
}

fn build(libs: Vec<Vec<Dict>>) -> Result<Namespace, DefError> {
    libs.into_iter()
        .fold(Namespace::builder(), |b, l| b.lib(l))
        .build()
}

#[test]
fn standard_libraries() {
    let ns = Namespace::standard();
    assert_eq!(
        names(ns.libs()),
        ["lib:ph", "lib:phScience", "lib:phIoT", "lib:phIct"]
    );
    // 719 def records in the four libraries (their 9 defx records extend existing defs).
    assert_eq!(ns.len(), 719);
    assert_eq!(ns.def("equip").and_then(|d| d.lib()), Some("lib:phIoT"));
    assert_eq!(ns.def("lib:ph").and_then(|d| d.lib()), Some("lib:ph"));
    assert_eq!(ns.def("hot-water").unwrap().kind(), DefKind::Conjunct);
    assert_eq!(ns.def("filetype:json").unwrap().kind(), DefKind::Key);
    assert_eq!(
        ns.def("filetype:json").unwrap().feature_key(),
        Some(("filetype", "json"))
    );
    assert!(ns.def("nonesuch").is_none());
    let deepest = ns.defs().map(|d| ns.inheritance(d.symbol()).len()).max();
    assert!(deepest.is_some_and(|n| n <= 20), "{deepest:?}");
    assert!(Namespace::standard_lib_names().eq(["ph", "phScience", "phIoT", "phIct"]));
}

#[test]
fn subtyping_is_transitive() {
    let ns = Namespace::standard();
    // Subtyping chapter: water is a liquid, a liquid is a fluid, so water is a fluid.
    assert!(ns.fits("water", "liquid") && ns.fits("liquid", "fluid"));
    assert!(ns.fits("water", "fluid"));
    assert!(!ns.fits("fluid", "water"));
    assert!(ns.fits("water", "water"));
    assert_eq!(names(ns.is("site")), ["entity", "geoPlace"]);
    // Reflection chapter: the inheritance of water.
    assert_eq!(
        names(ns.inheritance("water")),
        [
            "water",
            "liquid",
            "fluid",
            "substance",
            "phenomenon",
            "marker"
        ]
    );
    assert_eq!(
        names(ns.inheritance("ahu")),
        [
            "ahu",
            "airHandlingEquip",
            "equip",
            "entity",
            "marker",
            "air-output",
            "output",
            "elec-input",
            "input"
        ]
    );
    assert!(ns.fits("ahu", "equip") && ns.fits("rtu", "equip") && !ns.fits("ahu", "point"));
    assert!(ns.subtypes("ahu").iter().any(|d| d.symbol() == "rtu"));
    assert!(
        ns.all_subtypes("airHandlingEquip")
            .iter()
            .any(|d| d.symbol() == "rtu")
    );
    assert!(ns.inheritance("nonesuch").is_empty() && !ns.fits("nonesuch", "marker"));
    // Conjuncts have no implied subtyping: hot-water is water (declared), not hot.
    assert!(ns.fits("hot-water", "water") && !ns.fits("hot-water", "hot"));
    // Feature keys subtype their feature.
    assert_eq!(names(ns.is("lib:phIoT")), ["lib"]);
}

#[test]
fn reflection_of_the_chapters_hot_water_plant() {
    let ns = Namespace::standard();
    let mut rec = markers("hot water plant equip");
    rec.insert("id", Value::Ref(haystack_core::Ref::new("hwp").unwrap()))
        .unwrap();
    rec.insert("dis", "Hot Water Plant").unwrap();
    let r = ns.reflect(&rec);
    // Step 1 (tags) and step 2 (conjuncts).
    let direct = sorted(r.direct());
    assert_eq!(
        direct,
        [
            "dis",
            "equip",
            "hot",
            "hot-water",
            "hot-water-plant",
            "id",
            "plant",
            "water"
        ]
    );
    // Step 3: from hot-water-plant/equip entity and marker, from id/dis ref, str, scalar, val.
    for s in [
        "entity", "marker", "ref", "str", "scalar", "val", "liquid", "fluid",
    ] {
        assert!(r.fits(s), "{s}");
    }
    assert!(!r.fits("point") && !r.fits("chilled-water") && !r.fits("nonesuch"));
    assert_eq!(r.len(), r.defs().count());
    // Entity types: the dict is-a hot-water-plant (not a hot-water).
    assert_eq!(names(r.entity_types()), ["hot-water-plant"]);
}

#[test]
fn reflection_rules() {
    let ns = Namespace::standard();
    // A conjunct needs all its parts, as markers.
    assert!(!ns.reflect(&markers("hot plant equip")).fits("hot-water"));
    let mut rec = markers("hot equip");
    rec.insert("water", "yes").unwrap();
    assert!(!ns.reflect(&rec).fits("hot-water"));
    // Null tags are missing.
    let rec = d(&[("ahu", Value::Null), ("equip", Value::Marker)]);
    let r = ns.reflect(&rec);
    assert!(!r.fits("ahu") && r.fits("equip"));
    assert_eq!(names(r.entity_types()), ["equip"]);
    // Unknown tags reflect nothing; the empty dict implements nothing.
    assert!(ns.reflect(&markers("acmeThing")).is_empty());
    assert!(ns.reflect(&Dict::new()).entity_types().is_empty());
    // The most specific entity type wins over its supertypes.
    assert_eq!(
        names(ns.reflect(&markers("rtu ahu equip")).entity_types()),
        ["rtu"]
    );
    // Value tags reflect to their defs and kinds.
    let rec = d(&[
        ("area", Value::from(Number::with_unit(3702.0, "ft²"))),
        ("site", Value::Marker),
    ]);
    let r = ns.reflect(&rec);
    assert!(r.fits("area") && r.fits("number") && r.fits("site") && r.fits("geoPlace"));
}

#[test]
fn implementation_of_the_chapters_examples() {
    let ns = Namespace::standard();
    assert_eq!(names(ns.implementation("point")), ["point"]);
    assert_eq!(names(ns.implementation("rtu")), ["rtu", "ahu", "equip"]);
    assert_eq!(
        names(ns.implementation("hot-water-plant")),
        ["hot", "water", "plant", "equip"]
    );
    assert!(ns.implementation("filetype:json").is_empty());
    assert!(ns.implementation("nonesuch").is_empty());
}

#[test]
fn associations_tag_on_and_tags() {
    let ns = Namespace::standard();
    assert_eq!(names(ns.tag_on("geoCity")), ["geoPlace"]);
    // defx records in three libs accumulate onto tz's tagOn.
    let tz = sorted(ns.tag_on("tz"));
    for t in ["point", "site", "weatherStation"] {
        assert!(tz.contains(&t), "{tz:?}");
    }
    // tags is computed from tagOn, through inheritance: a site gets the geoPlace tags.
    let site_tags = names(ns.tags("site"));
    for t in [
        "area",
        "geoCity",
        "geoAddr",
        "tz",
        "dis",
        "weatherStationRef",
    ] {
        assert!(site_tags.contains(&t), "{t} not in {site_tags:?}");
    }
    assert!(!site_tags.contains(&"equipRef"));
    let ahu_tags = names(ns.tags("ahu"));
    assert!(
        ahu_tags.contains(&"siteRef") && ahu_tags.contains(&"dis"),
        "{ahu_tags:?}"
    );
    // quantities is computed from quantityOf.
    let air = names(ns.associations("air", "quantities"));
    assert!(
        air.contains(&"air-temp") && air.contains(&"air-velocity"),
        "{air:?}"
    );
    // Not an association, or undefined: nothing.
    assert!(ns.associations("site", "doc").is_empty());
    assert!(ns.associations("nonesuch", "tags").is_empty());
    assert_eq!(
        ns.kind_def(&Value::from("x")).map(|d| d.symbol()),
        Some("str")
    );
    assert!(ns.kind_def(&Value::Null).is_none());
}

#[test]
fn normalized_tags() {
    let ns = Namespace::standard();
    // Normalize Tags: is and tagOn become lists; the lib is inferred.
    let city = ns.def("geoCity").unwrap();
    assert_eq!(city.get("is"), Some(&syms(&["str"])));
    assert_eq!(city.get("tagOn"), Some(&syms(&["geoPlace"])));
    assert_eq!(city.get("lib"), Some(&sym("lib:ph")));
    // Taxonify: feature keys get an implied is.
    assert_eq!(
        ns.def("filetype:json").unwrap().get("is"),
        Some(&syms(&["filetype"]))
    );
    // Inherit: mandatory and tagOn are notInherited; wikipedia and children are inherited.
    let ahu = ns.def("ahu").unwrap();
    let rtu = ns.def("rtu").unwrap();
    assert!(ahu.has_marker("mandatory") && !rtu.has_marker("mandatory"));
    assert_eq!(rtu.get("wikipedia"), ahu.get("wikipedia"));
    let children = rtu.get("children").and_then(Value::as_list).unwrap();
    // airHandlingEquip's children, deduplicated (it lists {thermostat equip} twice), then
    // equip's {equip} and {point}.
    assert_eq!(children.len(), 21);
    assert_eq!(children.last(), Some(&Value::Dict(markers("point"))));
    assert!(ns.def("geoCity").unwrap().doc().is_some());
}

#[test]
fn protos_flatten_the_parents_terms() {
    let ns = Namespace::standard();
    // A pipe that implements no fluid, section or loop: the children as declared.
    let plain = ns.protos(&markers("pipe equip"));
    assert!(
        plain.contains(&markers("valve actuator equip")),
        "{plain:?}"
    );
    assert!(plain.contains(&markers("temp sensor point")));
    // The hot-water fluid is flattened into every child.
    let hot = ns.protos(&markers("hot water pipe equip"));
    assert!(
        hot.contains(&markers("hot water valve actuator equip")),
        "{hot:?}"
    );
    assert!(hot.contains(&markers("hot water temp sensor point")));
    // Both a fluid (naturalGas) and a pipe section (leaving).
    let gas = ns.protos(&markers("leaving naturalGas pipe equip"));
    assert!(
        gas.contains(&markers("leaving naturalGas flow sensor point")),
        "{gas:?}"
    );
    assert!(gas.iter().all(|p| p.has("leaving") && p.has("naturalGas")));
    // Inherited children (ahu from airHandlingEquip), without duplicates.
    let ahu = ns.protos(&markers("ahu equip"));
    assert!(ahu.contains(&markers("discharge duct equip")));
    let unique: std::collections::HashSet<String> = ahu.iter().map(|p| p.to_string()).collect();
    assert_eq!(unique.len(), ahu.len());
    // humidifier-equip declares an empty childrenFlatten: nothing is flattened.
    let hum = ns.protos(&markers("hot humidifier equip"));
    assert!(
        hum.contains(&markers("humidifier run cmd point")),
        "{hum:?}"
    );
    assert!(hum.iter().all(|p| !p.has("hot")));
    // Every def with children is an entity type, so reflection of its implementation finds
    // those children.
    for def in ns.defs().filter(|d| d.get("children").is_some()) {
        assert!(ns.fits(def.symbol(), "entity"), "{}", def.symbol());
    }
    assert!(ns.protos(&markers("acmeThing")).is_empty());
}

#[test]
fn user_libraries_inherit_like_the_el_camino() {
    // Normalization chapter, Inherit: pickup first, then car.
    let acme = vec![
        lib("acme", &["lib:ph"]),
        d(&[("def", sym("numDoors")), ("is", sym("number"))]),
        d(&[("def", sym("color")), ("is", sym("str"))]),
        d(&[("def", sym("engine")), ("is", sym("str"))]),
        d(&[("def", sym("bedLength")), ("is", sym("number"))]),
        d(&[
            ("def", sym("car")),
            ("is", sym("marker")),
            ("numDoors", Value::from(4.0)),
            ("color", Value::from("red")),
            ("engine", Value::from("V8")),
        ]),
        d(&[
            ("def", sym("pickup")),
            ("is", sym("marker")),
            ("numDoors", Value::from(2.0)),
            ("color", Value::from("blue")),
            ("bedLength", Value::from(Number::with_unit(80.0, "in"))),
        ]),
        d(&[
            ("def", sym("elCamino")),
            ("is", syms(&["pickup", "car"])),
            ("color", Value::from("purple")),
        ]),
    ];
    let ns = build(vec![acme]).unwrap();
    let e = ns.def("elCamino").unwrap();
    assert_eq!(e.get("color"), Some(&Value::from("purple")));
    assert_eq!(e.get("numDoors"), Some(&Value::from(2.0)));
    assert_eq!(e.get("engine"), Some(&Value::from("V8")));
    assert_eq!(
        e.get("bedLength"),
        Some(&Value::from(Number::with_unit(80.0, "in")))
    );
    assert_eq!(e.lib(), Some("lib:acme"));
    assert_eq!(
        names(ns.inheritance("elCamino")),
        ["elCamino", "pickup", "marker", "car"]
    );
    assert_eq!(ns.len(), Namespace::standard().len() + 8);
}

#[test]
fn defx_adds_tags_from_other_libs() {
    // Normalization chapter, Defx: two libs extend date.
    let acme = vec![
        lib("acme", &["lib:ph"]),
        d(&[("def", sym("acmeTerm")), ("is", sym("str"))]),
        d(&[("defx", sym("date")), ("acmeTerm", Value::from("ISODate"))]),
    ];
    let wombat = vec![
        lib("wombat", &["lib:ph"]),
        d(&[("def", sym("wombatFormatter")), ("is", sym("str"))]),
        d(&[
            ("defx", sym("date")),
            ("wombatFormatter", Value::from("DateFormatter")),
        ]),
    ];
    let ns = build(vec![acme, wombat]).unwrap();
    let date = ns.def("date").unwrap();
    assert_eq!(date.get("acmeTerm"), Some(&Value::from("ISODate")));
    assert_eq!(
        date.get("wombatFormatter"),
        Some(&Value::from("DateFormatter"))
    );
    assert_eq!(date.lib(), Some("lib:ph"));
}

#[test]
fn lib_namespaces_are_not_transitive() {
    // Normalization chapter, Resolve: gamma depends on beta, which depends on alpha; gamma
    // does not see alphaTag.
    let alpha = vec![
        lib("alpha", &["lib:ph"]),
        d(&[("def", sym("alphaTag")), ("is", sym("marker"))]),
    ];
    let beta = vec![
        lib("beta", &["lib:ph", "lib:alpha"]),
        d(&[("def", sym("betaTag")), ("is", sym("alphaTag"))]),
    ];
    let gamma_ok = vec![
        lib("gamma", &["lib:ph", "lib:beta"]),
        d(&[("def", sym("gammaTag")), ("is", sym("betaTag"))]),
    ];
    let ns = build(vec![alpha.clone(), beta.clone(), gamma_ok]).unwrap();
    assert!(ns.fits("gammaTag", "alphaTag"));
    let gamma_bad = vec![
        lib("gamma", &["lib:ph", "lib:beta"]),
        d(&[
            ("def", sym("gammaTag")),
            ("is", sym("marker")),
            ("alphaTag", Value::Marker),
        ]),
    ];
    let err = build(vec![alpha, beta, gamma_bad]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "^gammaTag: tag ^alphaTag is not defined in the namespace of ^lib:gamma"
    );
}

#[test]
fn without_the_standard_libraries() {
    let core = vec![
        d(&[
            ("def", sym("lib:core")),
            ("doc", Value::from("x")),
            ("version", Value::from("1")),
        ]),
        d(&[("def", sym("marker"))]),
        d(&[("def", sym("val"))]),
        d(&[("def", sym("feature"))]),
        d(&[("def", sym("def")), ("is", sym("val"))]),
        d(&[("def", sym("doc")), ("is", sym("val"))]),
        d(&[("def", sym("version")), ("is", sym("val"))]),
        d(&[("def", sym("is")), ("is", sym("val"))]),
        d(&[("def", sym("lib")), ("is", sym("feature"))]),
        d(&[("def", sym("thing")), ("is", sym("marker"))]),
    ];
    // Every lib but lib:ph must depend on lib:ph.
    let err = Namespace::builder()
        .without_standard_libs()
        .lib(core)
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        DefError::MissingLib {
            lib: "lib:core".into(),
            missing: "lib:ph".into()
        }
    );
}

/// A user lib `t` depending on the standard libs, with the given extra records.
fn user(recs: Vec<Dict>) -> Result<Namespace, DefError> {
    let mut l = vec![lib("t", &["lib:ph", "lib:phIoT"])];
    l.extend(recs);
    build(vec![l])
}

#[test]
fn errors_name_the_def_and_the_rule() {
    let cases: Vec<(Vec<Dict>, &str)> = vec![
        (
            vec![d(&[("def", sym("gizmo")), ("is", sym("gadget"))])],
            "^gizmo is ^gadget, which is not defined in the namespace of ^lib:t",
        ),
        (
            vec![
                d(&[("def", sym("aa")), ("is", sym("bb"))]),
                d(&[("def", sym("bb")), ("is", sym("cc"))]),
                d(&[("def", sym("cc")), ("is", sym("aa"))]),
            ],
            "subtyping cycle: ^aa is ^bb is ^cc is ^aa",
        ),
        (
            vec![d(&[("def", sym("selfish")), ("is", sym("selfish"))])],
            "subtyping cycle: ^selfish is ^selfish",
        ),
        (
            vec![d(&[("def", sym("equip")), ("is", sym("marker"))])],
            "^equip is defined twice (in ^lib:phIoT and in ^lib:t)",
        ),
        (
            vec![d(&[("def", sym("gizmo"))])],
            "^gizmo: missing is (every term but marker, val and feature needs one)",
        ),
        (
            vec![d(&[("def", sym("gizmo")), ("is", Value::from("equip"))])],
            "^gizmo: is must be a symbol or a list of symbols",
        ),
        (
            vec![d(&[
                ("def", sym("gizmo")),
                ("is", sym("equip")),
                ("doc", Value::from(5.0)),
            ])],
            "^gizmo: tag doc holds a number value, its def expects str",
        ),
        (
            vec![d(&[
                ("def", sym("gizmo")),
                ("is", sym("equip")),
                ("lib", sym("lib:t")),
            ])],
            "^gizmo: the lib tag is inferred, not declared",
        ),
        (
            vec![d(&[
                ("def", sym("gizmo")),
                ("is", sym("equip")),
                ("gadget", Value::Marker),
            ])],
            "^gizmo: tag ^gadget is not defined in the namespace of ^lib:t",
        ),
        (
            vec![d(&[
                ("def", sym("gizmo")),
                ("is", sym("equip")),
                ("of", sym("gadget")),
            ])],
            "^gizmo: value of of ^gadget is not defined in the namespace of ^lib:t",
        ),
        (
            vec![d(&[("def", sym("filetype:acme")), ("is", sym("filetype"))])],
            "^filetype:acme: a feature key must not declare is",
        ),
        (
            vec![d(&[("def", sym("index")), ("is", sym("marker"))])],
            "^index: the name index is reserved",
        ),
        (
            vec![d(&[("def", sym("hot-area")), ("is", sym("marker"))])],
            "^hot-area: conjunct part area is not a marker",
        ),
        (
            vec![d(&[("def", sym("hot-gadget")), ("is", sym("marker"))])],
            "^hot-gadget: conjunct part ^gadget is not defined in the namespace of ^lib:t",
        ),
        (
            vec![d(&[
                ("def", sym("hot-fan")),
                ("is", sym("marker")),
                ("tagOn", sym("equip")),
            ])],
            "^hot-fan: tagOn is only for tag defs",
        ),
        (
            vec![d(&[
                ("def", sym("gizmo")),
                ("is", sym("equip")),
                ("tags", syms(&["dis"])),
            ])],
            "^gizmo: tags is computed from its reciprocal and cannot be declared",
        ),
        (
            vec![d(&[
                ("def", sym("gizmo")),
                ("is", sym("marker")),
                ("containedBy", sym("equip")),
            ])],
            "^gizmo: relationship containedBy on a def that does not subtype ref",
        ),
        (
            vec![d(&[("defx", sym("equip")), ("doc", Value::from("again"))])],
            "^equip: a defx in ^lib:t sets doc, which the def already has",
        ),
        (
            vec![d(&[("defx", sym("equip")), ("is", sym("marker"))])],
            "^equip: a defx (in ^lib:t) must not add is",
        ),
        (
            vec![d(&[("defx", sym("gadget"))])],
            "^gadget: value of defx ^gadget is not defined in the namespace of ^lib:t",
        ),
        (
            vec![d(&[("dis", Value::from("no def"))])],
            "^?: record 1 of ^lib:t has no def or defx symbol: \"no def\"",
        ),
        (
            vec![d(&[("def", sym("Gizmo")), ("is", sym("marker"))])],
            "^Gizmo: not a valid tag name",
        ),
    ];
    for (recs, expected) in cases {
        let err = user(recs).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn lib_errors() {
    // No meta record.
    let err = build(vec![vec![d(&[
        ("def", sym("gizmo")),
        ("is", sym("marker")),
    ])]])
    .unwrap_err();
    assert_eq!(
        err,
        DefError::MissingLibMeta {
            first_def: "gizmo".into()
        }
    );
    // A dependency that is not there.
    let err = build(vec![vec![lib("t", &["lib:ph", "lib:nope"])]]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "^lib:t depends on ^lib:nope, which is not in the namespace"
    );
    // A lib given twice.
    let err = build(vec![
        vec![lib("t", &["lib:ph"])],
        vec![lib("t", &["lib:ph"])],
    ])
    .unwrap_err();
    assert!(matches!(err, DefError::DuplicateDef { ref symbol, .. } if symbol == "lib:t"));
    // A lib meta without a version.
    let meta = d(&[
        ("def", sym("lib:t")),
        ("doc", Value::from("x")),
        ("depends", syms(&["lib:ph"])),
    ]);
    let err = build(vec![vec![meta]]).unwrap_err();
    assert_eq!(err.to_string(), "^lib:t: a lib meta needs a version string");
    // Depending on a lib that exists but not on lib:ph.
    let err = build(vec![vec![lib("t", &["lib:phIoT"])]]).unwrap_err();
    assert!(matches!(err, DefError::MissingLib { ref missing, .. } if missing == "lib:ph"));
}

#[test]
fn a_long_chain_of_defs_does_not_overflow() {
    // Taxonify and inherit are iterative: 20,000 defs each subtyping the previous one.
    let n = 20_000;
    let mut recs = vec![lib("deep", &["lib:ph"])];
    recs.push(d(&[("def", sym("t0")), ("is", sym("marker"))]));
    for i in 1..n {
        recs.push(d(&[
            ("def", sym(&format!("t{i}"))),
            ("is", sym(&format!("t{}", i - 1))),
        ]));
    }
    // A cycle closing the chain is reported, not a stack overflow.
    let mut cyclic = recs.clone();
    cyclic[1] = d(&[("def", sym("t0")), ("is", sym(&format!("t{}", n - 1)))]);
    let err = build(vec![cyclic]).unwrap_err();
    assert!(matches!(err, DefError::Cycle { ref path } if path.len() == n + 1));
    // A chain deeper than the limit of 1,024 supertypes is refused.
    let err = build(vec![recs.clone()]).unwrap_err();
    assert_eq!(err.to_string(), "^t1023: more than 1024 supertypes");
    // Within the limit it builds.
    let short: Vec<Dict> = recs.into_iter().take(1_000).collect();
    let ns = build(vec![short]).unwrap();
    assert!(ns.fits("t998", "t0"));
    assert_eq!(ns.inheritance("t998").len(), 1_000);
}
