//! Haystack filters: parser, display, compiled evaluation on dicts and grids, `->` paths.
//!
//! A [`Filter`] is parsed once and evaluated many times. Parsing turns every compared value into
//! a ready-to-compare form, and [`Filter::compile_for`] binds tag names to the columns of one
//! grid so that evaluating a row is a handful of indexed loads and comparisons.
//!
//! ```
//! use haystack_core::filter::{Filter, GridIndex};
//! use haystack_core::{Dict, Grid, Number, Ref, Value};
//!
//! let site = Dict::from_pairs([
//!     ("id", Value::Ref(Ref::new("s1")?)),
//!     ("site", Value::Marker),
//!     ("geoCity", Value::from("Chicago")),
//! ])?;
//! let point = Dict::from_pairs([
//!     ("id", Value::Ref(Ref::new("p1")?)),
//!     ("point", Value::Marker),
//!     ("siteRef", Value::Ref(Ref::new("s1")?)),
//!     ("curVal", Value::Number(Number::with_unit(72.5, "°F"))),
//! ])?;
//! let grid = Grid::from_dicts(&[site, point]);
//!
//! let filter: Filter = r#"point and curVal > 70°F and siteRef->geoCity == "Chicago""#.parse()?;
//! let index = GridIndex::new(&grid);
//! let hits = filter.select(&grid, &index);
//! assert_eq!(hits, vec![1]);
//! // Numbers compare only when their units are equal.
//! assert!(!"curVal > 70".parse::<Filter>()?.matches(&grid.row(1).unwrap().to_dict()));
//! # Ok::<(), haystack_core::Error>(())
//! ```
//!
//! Semantics, following the Haystack 4 Filters chapter:
//! - `path` matches when the path resolves to any value; `not path` when it resolves to none.
//! - A comparison is false when the path does not resolve or the kinds differ, except `!=`,
//!   which is true for any resolved value not equal to the operand.
//! - Numbers compare only when their units are equal; refs compare by id only.
//! - `->` follows a Ref through a [`Resolver`], or a nested Dict directly; a list of refs
//!   follows each ref, and the term matches when any of them matches. A list value on the
//!   left of a comparison matches when any of its elements matches.
//! - Spec terms (`Ahu`, `ph::Ahu`, the grammar's `isSpec`) match a dict that implements the def
//!   they name ([`Spec`]); with the `defs` feature. [`Filter::in_namespace`] binds a filter to
//!   a namespace ([`NamespaceFilter`]): specs resolve there, and a lone marker tag matches
//!   what implies it (`equip` matches `{ahu}`). Symbols compare by name (`def == ^point`).

mod compiled;
#[cfg(feature = "defs")]
mod defs;
mod eval;
mod parse;
mod scalar;
mod select;

use std::fmt;
use std::str::FromStr;

pub use compiled::{CompiledFilter, GridIndex};
#[cfg(feature = "defs")]
pub use defs::NamespaceFilter;
pub use eval::{NoResolver, Resolver};
pub use parse::{MAX_DEPTH, MAX_LEN, MAX_PATH_LEN};

use crate::error::{Error, Result};
use crate::value::Value;

/// A comparison operator of a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written in a filter, e.g. `"<="`.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// Whether `name` is reserved by the filter grammar and so cannot be a path segment.
fn is_keyword(name: &str) -> bool {
    matches!(name, "and" | "or" | "not")
}

/// Whether a value may stand on the right of a comparison: a scalar with an order or equality
/// that a filter can express (not null, marker, NA, remove or a collection).
fn is_filter_value(v: &Value) -> bool {
    !matches!(
        v,
        Value::Null
            | Value::Marker
            | Value::Na
            | Value::Remove
            | Value::List(_)
            | Value::Dict(_)
            | Value::Grid(_)
    ) && !matches!(v, Value::Number(n) if n.value().is_nan())
}

/// A path of tag names, `siteRef->geoCity`: the first name is a tag of the dict, each further
/// name a tag of the entity the previous value refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path(Vec<String>);

impl Path {
    /// A path from its segments; each must be a tag name and not `and`, `or` or `not`, and
    /// there may be at most [`MAX_PATH_LEN`] of them.
    pub fn new<I, S>(names: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.is_empty() {
            return Err(Error::Invalid(
                "a filter path needs at least one tag name".into(),
            ));
        }
        if names.len() > MAX_PATH_LEN {
            return Err(Error::Invalid(format!(
                "a filter path has at most {MAX_PATH_LEN} names, not {}",
                names.len()
            )));
        }
        for n in &names {
            if !crate::is_tag_name(n) || is_keyword(n) {
                return Err(Error::InvalidTagName(n.clone()));
            }
        }
        Ok(Path(names))
    }

    /// A path from names the parser already checked.
    fn from_checked(names: Vec<String>) -> Self {
        Path(names)
    }

    /// The tag names of the path, first to last (never empty).
    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// The first tag name.
    pub fn first(&self) -> &str {
        // Invariant: a Path always has at least one segment (checked by `new` and the parser).
        self.0.first().map_or("", String::as_str)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("->")?;
            }
            f.write_str(n)?;
        }
        Ok(())
    }
}

/// One node of a filter's syntax tree. `And` and `Or` are kept flat (an `And` never directly
/// holds another `And`) and always have at least two parts, so that printing and parsing back
/// gives the same tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `path`: the path resolves to a value.
    Has(Path),
    /// `not path`: the path resolves to no value.
    Missing(Path),
    /// `path op value`.
    Cmp(Path, CmpOp, Value),
    /// `a and b and ...`.
    And(Vec<Node>),
    /// `a or b or ...`.
    Or(Vec<Node>),
    /// `[lib::]Name`: the dict implements the def the spec names (see [`Spec`]).
    Spec(Spec),
}

/// A spec term of a filter (the grammar's `isSpec`): `Ahu`, `ph::Ahu`, `acme::Widget`.
///
/// It matches a dict that implements the def it names, by reflection through a namespace: the
/// one given to [`Filter::in_namespace`], else the standard libraries. `Ahu` names the def
/// `ahu`, `HotWaterPlant` the conjunct `hot-water-plant` (see
/// [`crate::defs::Namespace::spec_def`]). A spec that names no def matches nothing; a filter
/// bound with [`Filter::in_namespace`] reports it as an error instead. Needs the `defs` feature.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Spec {
    lib: Option<String>,
    name: String,
}

impl Spec {
    /// A spec term; `name` must start with an ASCII uppercase letter and hold only ASCII
    /// letters, digits and `_`; `lib` is dot-separated tag names.
    pub fn new(lib: Option<&str>, name: &str) -> Result<Self> {
        let name_ok = name.as_bytes().first().is_some_and(u8::is_ascii_uppercase)
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        let lib_ok = lib.is_none_or(|l| l.split('.').all(crate::is_tag_name));
        if !name_ok || !lib_ok {
            return Err(Error::Invalid(format!(
                "invalid spec name {}{name}",
                lib.map(|l| format!("{l}::")).unwrap_or_default()
            )));
        }
        Ok(Spec {
            lib: lib.map(str::to_owned),
            name: name.to_owned(),
        })
    }

    /// The library qualifier (`ph` of `ph::Ahu`), if any.
    pub fn lib(&self) -> Option<&str> {
        self.lib.as_deref()
    }

    /// The spec name (`Ahu`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(lib) = &self.lib {
            write!(f, "{lib}::")?;
        }
        f.write_str(&self.name)
    }
}

impl Node {
    fn and_of(parts: Vec<Node>) -> Node {
        Self::join(parts, true)
    }

    fn or_of(parts: Vec<Node>) -> Node {
        Self::join(parts, false)
    }

    fn join(parts: Vec<Node>, and: bool) -> Node {
        let mut flat = Vec::with_capacity(parts.len());
        for p in parts {
            match p {
                Node::And(inner) if and => flat.extend(inner),
                Node::Or(inner) if !and => flat.extend(inner),
                other => flat.push(other),
            }
        }
        if flat.len() == 1
            && let Some(only) = flat.pop()
        {
            return only;
        }
        if and { Node::And(flat) } else { Node::Or(flat) }
    }

    fn fmt_in(&self, f: &mut fmt::Formatter<'_>, in_and: bool) -> fmt::Result {
        match self {
            Node::Has(p) => write!(f, "{p}"),
            Node::Missing(p) => write!(f, "not {p}"),
            Node::Spec(spec) => write!(f, "{spec}"),
            Node::Cmp(p, op, v) => {
                write!(f, "{p} {op} ")?;
                scalar::write(f, v)
            }
            Node::And(parts) => {
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    p.fmt_in(f, true)?;
                }
                Ok(())
            }
            Node::Or(parts) => {
                if in_and {
                    f.write_str("(")?;
                }
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    p.fmt_in(f, false)?;
                }
                if in_and {
                    f.write_str(")")?;
                }
                Ok(())
            }
        }
    }
}

/// A parsed Haystack filter. Parse with [`str::parse`] or [`Filter::parse`]; build with
/// [`Filter::has`], [`Filter::missing`], [`Filter::cmp`], [`Filter::and`] and [`Filter::or`].
/// `Display` prints a text that parses back to an equal filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    node: Node,
}

impl Filter {
    /// Parses a filter; errors say where (line, column, offset) and what was expected.
    pub fn parse(text: &str) -> Result<Self> {
        parse::Parser::new(text).parse_filter()
    }

    /// `path`: matches when the path resolves to a value.
    pub fn has(path: Path) -> Self {
        Filter {
            node: Node::Has(path),
        }
    }

    /// `not path`: matches when the path resolves to no value.
    pub fn missing(path: Path) -> Self {
        Filter {
            node: Node::Missing(path),
        }
    }

    /// `path op value`; the value must be a scalar a filter can compare (not null, marker, NA,
    /// remove, NaN or a collection).
    pub fn cmp(path: Path, op: CmpOp, value: Value) -> Result<Self> {
        if !is_filter_value(&value) {
            return Err(Error::InvalidValue {
                kind: "filter value",
                message: format!("{value} cannot be compared in a filter"),
            });
        }
        Ok(Filter {
            node: Node::Cmp(path, op, value),
        })
    }

    /// `self and other`.
    pub fn and(self, other: Filter) -> Self {
        Filter {
            node: Node::and_of(vec![self.node, other.node]),
        }
    }

    /// `self or other`.
    pub fn or(self, other: Filter) -> Self {
        Filter {
            node: Node::or_of(vec![self.node, other.node]),
        }
    }

    /// `Name` or `lib::Name`: matches a dict that implements the def the spec names.
    pub fn spec(spec: Spec) -> Self {
        Filter {
            node: Node::Spec(spec),
        }
    }

    /// The syntax tree.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The `and` of `parts` (one part: that part), for the planner's residual filters.
    pub(crate) fn all_of(parts: Vec<Node>) -> Self {
        Filter {
            node: Node::and_of(parts),
        }
    }
}

impl FromStr for Filter {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Filter::parse(s)
    }
}

impl TryFrom<&str> for Filter {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        Filter::parse(s)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.node.fmt_in(f, false)
    }
}
