//! The standard libraries (`lib:ph`, `lib:phScience`, `lib:phIoT`, `lib:phIct`), embedded at
//! build time from `data/defs` by `build/defs.rs` as a static table of literals.

use crate::{Dict, Number, Value};

/// A literal of the generated table.
pub(super) enum Lit {
    Marker,
    #[allow(
        dead_code,
        reason = "in the build-time subset; no standard def has a Bool yet"
    )]
    Bool(bool),
    /// Value and unit (`""` for none).
    Num(f64, &'static str),
    Str(&'static str),
    Uri(&'static str),
    Sym(&'static str),
    List(&'static [Lit]),
    Dict(&'static [(&'static str, Lit)]),
}

/// The tags of one declared record.
type Record = &'static [(&'static str, Lit)];

include!(concat!(env!("OUT_DIR"), "/std_defs.rs"));

impl Lit {
    fn to_value(&self) -> Value {
        match self {
            Lit::Marker => Value::Marker,
            Lit::Bool(b) => Value::Bool(*b),
            Lit::Num(n, "") => Value::Number(Number::new(*n)),
            Lit::Num(n, unit) => Value::Number(Number::with_unit(*n, *unit)),
            Lit::Str(s) => Value::Str((*s).into()),
            Lit::Uri(s) => Value::Uri((*s).into()),
            Lit::Sym(s) => Value::Symbol((*s).into()),
            Lit::List(items) => Value::List(items.iter().map(Lit::to_value).collect()),
            Lit::Dict(tags) => Value::Dict(to_dict(tags)),
        }
    }
}

fn to_dict(tags: &[(&'static str, Lit)]) -> Dict {
    let mut d = Dict::with_capacity(tags.len());
    for (name, lit) in tags {
        // The build script only emits valid tag names (it checks them).
        d.insert_valid((*name).into(), lit.to_value());
    }
    d
}

/// The names of the standard libraries (without `lib:`), each after its dependencies.
pub(super) fn names() -> impl Iterator<Item = &'static str> {
    STD_LIBS.iter().map(|(name, _)| *name)
}

/// The declared records of each standard library, meta record first.
pub(super) fn records() -> impl Iterator<Item = Vec<Dict>> {
    STD_LIBS
        .iter()
        .map(|(_, recs)| recs.iter().map(|tags| to_dict(tags)).collect())
}
