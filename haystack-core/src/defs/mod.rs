//! Haystack 4 defs and namespaces: the standard libraries built in, subtyping, reflection,
//! associations and protos (the Defs, Namespaces, Subtyping, Reflection, Normalization and
//! Protos chapters).
//!
//! ```
//! use haystack_core::defs::Namespace;
//! use haystack_core::{dict, Value};
//!
//! let ns = Namespace::standard();
//! assert!(ns.fits("ahu", "equip"));
//! assert_eq!(ns.def("ahu").and_then(|d| d.lib()), Some("lib:phIoT"));
//!
//! let plant = dict! { "hot" => Value::Marker, "water" => Value::Marker,
//!                     "plant" => Value::Marker, "equip" => Value::Marker };
//! let r = ns.reflect(&plant);
//! assert!(r.fits("hot-water") && r.fits("hot-water-plant") && r.fits("entity"));
//! assert_eq!(r.entity_types().iter().map(|d| d.symbol()).collect::<Vec<_>>(), ["hot-water-plant"]);
//! ```
//!
//! A [`Namespace`] is compiled from def records by the Normalization chapter's pipeline
//! ([`NamespaceBuilder`]): the four standard libraries (`lib:ph`, `lib:phScience`, `lib:phIoT`,
//! `lib:phIct`, embedded at build time from `data/defs`) plus any libraries you add as dicts
//! (read from Trio or Zinc with `haystack-zinc`). Errors say which def breaks which rule
//! ([`DefError`]). The effective defs keep the declared tags, the inferred `lib`, list-valued
//! tags as lists, and the tags inherited from supertypes.

mod error;
mod normalize;
mod reflect;
mod spec;
mod std_libs;
mod validate;

use hashbrown::HashMap;
use std::sync::{Arc, OnceLock};

use crate::{Dict, Value};

pub use error::DefError;
pub use reflect::Reflection;

/// The three types of def, by the form of their symbol (Defs chapter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefKind {
    /// A tag name such as `equip`.
    Tag,
    /// A set of marker tags such as `hot-water`.
    Conjunct,
    /// A feature key such as `filetype:json` or `lib:ph`.
    Key,
}

impl DefKind {
    /// The type of the def named `symbol`: `:` makes a key, `-` a conjunct, else a tag.
    pub fn of(symbol: &str) -> DefKind {
        if symbol.contains(':') {
            DefKind::Key
        } else if symbol.contains('-') {
            DefKind::Conjunct
        } else {
            DefKind::Tag
        }
    }
}

/// One effective (normalized) def of a [`Namespace`].
#[derive(Debug, Clone)]
pub struct Def {
    symbol: Arc<str>,
    kind: DefKind,
    dict: Dict,
    /// Direct supertypes, in the order of the `is` tag.
    is: Vec<u32>,
    /// Self, then every supertype (depth first, in declaration order, each once).
    inheritance: Vec<u32>,
    /// `inheritance`, sorted, for membership tests.
    sorted: Vec<u32>,
    /// Direct subtypes, in namespace order.
    subtypes: Vec<u32>,
    /// Marker tags added by implementing this def (its tag or conjunct parts, no supertypes).
    parts: Vec<Arc<str>>,
}

impl Def {
    /// The def's symbol, without `^` (e.g. `hot-water`).
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// Whether it is a tag, a conjunct or a feature key.
    pub fn kind(&self) -> DefKind {
        self.kind
    }

    /// The effective def dict (declared, defx, normalized and inherited tags).
    pub fn dict(&self) -> &Dict {
        &self.dict
    }

    /// The value of one tag of the effective def.
    pub fn get(&self, tag: &str) -> Option<&Value> {
        self.dict.get(tag)
    }

    /// The `doc` string, if any.
    pub fn doc(&self) -> Option<&str> {
        self.dict.get("doc").and_then(Value::as_str)
    }

    /// The declaring lib's symbol (`lib:phIoT`), from the normalized `lib` tag.
    pub fn lib(&self) -> Option<&str> {
        self.dict.get("lib").and_then(Value::as_symbol)
    }

    /// The tag names a dict gets when it implements just this def: the tag itself, or each
    /// part of a conjunct; none for a feature key.
    pub fn parts(&self) -> impl ExactSizeIterator<Item = &str> {
        self.parts.iter().map(|p| &**p)
    }

    /// For a feature key (`filetype:json`), its feature (`filetype`) and name (`json`).
    pub fn feature_key(&self) -> Option<(&str, &str)> {
        match self.kind {
            DefKind::Key => self.symbol.split_once(':'),
            _ => None,
        }
    }

    /// Whether the effective def has marker `tag` (e.g. `mandatory`).
    pub fn has_marker(&self, tag: &str) -> bool {
        self.dict.get(tag).is_some_and(Value::is_marker)
    }
}

/// A set of libs compiled into a map of symbols to effective defs (Namespaces chapter).
///
/// Lookups take symbols without `^`. Build one with [`Namespace::builder`], or use the
/// standard libraries alone through [`Namespace::standard`].
#[derive(Debug, Clone)]
pub struct Namespace {
    defs: Vec<Def>,
    index: HashMap<Arc<str>, u32>,
    /// Indices of the lib meta defs, in the order the libs were given.
    libs: Vec<u32>,
    /// For each tag name, the conjuncts whose first part it is.
    conjuncts_by_first: HashMap<Arc<str>, Vec<u32>>,
    /// Indices of every conjunct def, in namespace order.
    conjuncts: Vec<u32>,
}

impl Namespace {
    /// A builder that starts with the standard libraries.
    pub fn builder() -> NamespaceBuilder {
        NamespaceBuilder {
            libs: std_libs::records().collect(),
        }
    }

    /// The standard libraries alone, compiled once per process.
    pub fn standard() -> &'static Namespace {
        static STANDARD: OnceLock<Namespace> = OnceLock::new();
        STANDARD.get_or_init(|| {
            // The embedded libraries are fixed at build time and `tests/defs.rs` compiles
            // them, so this cannot fail for any input.
            #[allow(clippy::expect_used)]
            Namespace::builder()
                .build()
                .expect("the standard def libraries compile")
        })
    }

    /// The names of the embedded standard libraries (`ph`, `phScience`, `phIoT`, `phIct`).
    pub fn standard_lib_names() -> impl Iterator<Item = &'static str> {
        std_libs::names()
    }

    /// The number of defs.
    pub fn len(&self) -> usize {
        self.defs.len()
    }

    /// Whether there are no defs.
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    fn id(&self, symbol: &str) -> Option<u32> {
        self.index.get(symbol).copied()
    }

    fn at(&self, id: u32) -> Option<&Def> {
        self.defs.get(id as usize)
    }

    fn many<'a>(&'a self, ids: &'a [u32]) -> impl Iterator<Item = &'a Def> + 'a {
        ids.iter().filter_map(|&i| self.at(i))
    }

    /// The conjunct defs (`hot-water`, ...), in namespace order.
    pub fn conjuncts(&self) -> impl Iterator<Item = &Def> + '_ {
        self.many(&self.conjuncts)
    }

    /// The def named `symbol`.
    pub fn def(&self, symbol: &str) -> Option<&Def> {
        self.id(symbol).and_then(|i| self.at(i))
    }

    /// Whether `symbol` is defined.
    pub fn has(&self, symbol: &str) -> bool {
        self.index.contains_key(symbol)
    }

    /// Every def, lib by lib in the order the libs were given, each lib's meta first.
    pub fn defs(&self) -> impl ExactSizeIterator<Item = &Def> {
        self.defs.iter()
    }

    /// The lib meta defs (`lib:ph`, ...).
    pub fn libs(&self) -> impl Iterator<Item = &Def> {
        self.many(&self.libs)
    }

    /// The direct supertypes of `symbol` (its normalized `is`), empty if it is not defined.
    pub fn is(&self, symbol: &str) -> Vec<&Def> {
        self.def(symbol)
            .map(|d| self.many(&d.is).collect())
            .unwrap_or_default()
    }

    /// The def and all its supertypes, transitively: self first, then depth first in the
    /// order of each `is`, each def once (Subtyping and Reflection chapters).
    pub fn inheritance(&self, symbol: &str) -> Vec<&Def> {
        self.def(symbol)
            .map(|d| self.many(&d.inheritance).collect())
            .unwrap_or_default()
    }

    /// Whether `symbol` is `base` or a subtype of it, transitively (`fits("ahu", "equip")`).
    pub fn fits(&self, symbol: &str, base: &str) -> bool {
        match (self.def(symbol), self.id(base)) {
            (Some(d), Some(b)) => d.sorted.binary_search(&b).is_ok(),
            _ => false,
        }
    }

    /// The direct subtypes of `symbol`.
    pub fn subtypes(&self, symbol: &str) -> Vec<&Def> {
        self.def(symbol)
            .map(|d| self.many(&d.subtypes).collect())
            .unwrap_or_default()
    }

    /// Every def that fits `symbol`, itself excluded, in namespace order.
    pub fn all_subtypes(&self, symbol: &str) -> Vec<&Def> {
        let Some(base) = self.id(symbol) else {
            return Vec::new();
        };
        self.defs
            .iter()
            .enumerate()
            .filter(|(i, d)| *i != base as usize && d.sorted.binary_search(&base).is_ok())
            .map(|(_, d)| d)
            .collect()
    }

    /// The defs that the `association` tag of `parent` names (e.g. `tagOn`, `quantityOf`),
    /// or, for an association computed from its reciprocal (`tags`, `quantities`), every def
    /// whose reciprocal tag names `parent` or one of its supertypes (Associations chapter).
    pub fn associations(&self, parent: &str, association: &str) -> Vec<&Def> {
        let (Some(p), Some(a)) = (self.def(parent), self.def(association)) else {
            return Vec::new();
        };
        if !self.fits(association, "association") {
            return Vec::new();
        }
        if !a.has_marker("computedFromReciprocal") {
            return symbols(p.get(association))
                .filter_map(|s| self.def(s))
                .collect();
        }
        let Some(reciprocal) = a.get("reciprocalOf").and_then(Value::as_symbol) else {
            return Vec::new();
        };
        self.defs
            .iter()
            .filter(|d| {
                symbols(d.get(reciprocal))
                    .filter_map(|s| self.id(s))
                    .any(|t| p.sorted.binary_search(&t).is_ok())
            })
            .collect()
    }

    /// The entity types a tag def is used on (its `tagOn`).
    pub fn tag_on(&self, symbol: &str) -> Vec<&Def> {
        self.associations(symbol, "tagOn")
    }

    /// The tags used on an entity type: every def whose `tagOn` names it or a supertype
    /// (`tags` is computed from its reciprocal `tagOn`).
    pub fn tags(&self, symbol: &str) -> Vec<&Def> {
        self.associations(symbol, "tags")
    }

    /// The def of a value's kind (`str` for a Str, `dateTime` for a DateTime, ...); `None` for
    /// Null and Remove, which have no def.
    pub fn kind_def(&self, value: &Value) -> Option<&Def> {
        kind_symbol(value).and_then(|s| self.def(s))
    }
}

/// The def symbol of a value's kind.
pub(crate) fn kind_symbol(value: &Value) -> Option<&'static str> {
    Some(match value {
        Value::Null | Value::Remove => return None,
        Value::Marker => "marker",
        Value::Na => "na",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::Str(_) => "str",
        Value::Uri(_) => "uri",
        Value::Ref(_) => "ref",
        Value::Symbol(_) => "symbol",
        Value::Date(_) => "date",
        Value::Time(_) => "time",
        Value::DateTime(_) => "dateTime",
        Value::Coord(_) => "coord",
        Value::XStr(_) => "xstr",
        Value::List(_) => "list",
        Value::Dict(_) => "dict",
        Value::Grid(_) => "grid",
    })
}

/// The symbols of a tag value that is a symbol or a list of symbols.
pub(crate) fn symbols(value: Option<&Value>) -> impl Iterator<Item = &str> {
    let (one, many) = match value {
        Some(Value::Symbol(s)) => (Some(s.as_str()), &[][..]),
        Some(Value::List(items)) => (None, items.as_slice()),
        _ => (None, &[][..]),
    };
    one.into_iter()
        .chain(many.iter().filter_map(Value::as_symbol))
}

/// Collects def libraries and compiles them into a [`Namespace`].
///
/// Limit: a def may have at most 1,024 defs in its inheritance (itself and its supertypes,
/// transitively; the standard libraries need at most 20), which bounds the memory of the
/// namespace; a deeper taxonomy is a [`DefError::Invalid`].
///
/// ```
/// use haystack_core::defs::{DefError, Namespace};
/// use haystack_core::{dict, Value};
///
/// let lib = vec![
///     dict! { "def" => Value::Symbol("lib:acme".into()), "doc" => "Acme defs",
///             "version" => "1.0", "depends" => Value::List(vec![Value::Symbol("lib:ph".into()),
///             Value::Symbol("lib:phIoT".into())]) },
///     dict! { "def" => Value::Symbol("acmeWidget".into()), "is" => Value::Symbol("equip".into()),
///             "doc" => "A widget" },
/// ];
/// let ns = Namespace::builder().lib(lib).build().unwrap();
/// assert!(ns.fits("acmeWidget", "entity"));
///
/// let bad = vec![
///     dict! { "def" => Value::Symbol("lib:bad".into()), "doc" => "x", "version" => "1",
///             "depends" => Value::List(vec![Value::Symbol("lib:ph".into())]) },
///     dict! { "def" => Value::Symbol("gizmo".into()), "is" => Value::Symbol("equip".into()) },
/// ];
/// let err = Namespace::builder().lib(bad).build().unwrap_err();
/// assert!(matches!(err, DefError::UnknownSupertype { .. }));
/// assert_eq!(err.to_string(), "^gizmo is ^equip, which is not defined in the namespace of ^lib:bad");
/// ```
#[derive(Debug, Clone)]
pub struct NamespaceBuilder {
    libs: Vec<Vec<Dict>>,
}

impl NamespaceBuilder {
    /// Leaves the standard libraries out (the namespace is only the libs added).
    pub fn without_standard_libs(mut self) -> Self {
        let std: Vec<String> = std_libs::names().map(|n| format!("lib:{n}")).collect();
        self.libs.retain(|recs| {
            !recs.iter().any(|r| {
                r.get("def")
                    .and_then(Value::as_symbol)
                    .is_some_and(|s| std.iter().any(|n| n == s))
            })
        });
        self
    }

    /// Adds one library: its declared records (`def` and `defx` dicts), one of which is the
    /// lib meta (`def: ^lib:<name>`, as in the lib's `lib/lib.trio`).
    pub fn lib(mut self, records: impl IntoIterator<Item = Dict>) -> Self {
        self.libs.push(records.into_iter().collect());
        self
    }

    /// Runs the normalization pipeline (resolve, taxonify, defx, normalize tags, inherit,
    /// validate) and generates the namespace.
    pub fn build(self) -> Result<Namespace, DefError> {
        normalize::compile(self.libs)
    }
}
