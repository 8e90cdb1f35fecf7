//! The Haystack value model: [`Value`] and the scalar kinds it holds.
//!
//! ```
//! use haystack_core::{Value, Number, Ref};
//!
//! let v = Value::from(Number::with_unit(72.5, "°F"));
//! assert_eq!(v.to_string(), "72.5°F");
//! let r = Value::from(Ref::with_dis("site-1", "HQ"));
//! assert_eq!(r.to_string(), "@site-1 \"HQ\"");
//! ```
//!
//! Equality, ordering and hashing follow the Haystack rules rather than Rust's float rules:
//! `NaN` equals `NaN`, `-0` equals `0`, dicts compare as unordered sets of tags, and values of
//! different kinds order by kind (in the order of the [`Kind`] variants).

mod cmp;
mod convert;
pub(crate) mod datetime;
mod number;
pub(crate) mod scalars;

use std::fmt;

pub use datetime::DateTime;
pub use datetime::is_tz_name;
pub use number::{Number, is_unit_symbol};
pub use scalars::{Coord, Ref, XStr, is_ref_char, is_ref_id, is_xstr_type};
/// The string type of [`Value::Str`], [`Value::Uri`] and [`Value::Symbol`]: immutable, held
/// inline up to 23 bytes (no heap allocation) and shared beyond that (cloning is O(1)).
///
/// ```
/// use haystack_core::{SmolStr, Value};
/// let v = Value::Str(SmolStr::from("Floor 1"));
/// assert_eq!(v.as_str(), Some("Floor 1"));
/// assert_eq!(Value::from(String::from("x")), Value::Str("x".into()));
/// ```
pub use smol_str::SmolStr;

use crate::{Dict, Grid};

/// A Haystack value of any kind.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// The absence of a value (`N` in Zinc).
    #[default]
    Null,
    /// A label tag (`M`).
    Marker,
    /// Not available (`NA`).
    Na,
    /// Removal of a tag (`R`).
    Remove,
    /// `T` or `F`.
    Bool(bool),
    /// A 64-bit float with an optional unit.
    Number(Number),
    /// A Unicode string.
    Str(SmolStr),
    /// A URI, kept as written (escaping backslashes of reserved characters are preserved).
    Uri(SmolStr),
    /// An entity identifier with an optional display name.
    Ref(Ref),
    /// A def name such as `^hot-water`, without the `^`.
    Symbol(SmolStr),
    /// An ISO 8601 calendar date.
    Date(time::Date),
    /// A time of day, to the nanosecond.
    Time(time::Time),
    /// A timestamp with its offset and Haystack timezone name.
    DateTime(DateTime),
    /// A latitude/longitude.
    Coord(Coord),
    /// A vendor-typed string such as `Color("red")`.
    XStr(XStr),
    /// An ordered list of values.
    List(Vec<Value>),
    /// Name/value pairs.
    Dict(Dict),
    /// A table with meta, columns and rows.
    Grid(Box<Grid>),
}

/// The kind of a [`Value`], in the order values of different kinds sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// [`Value::Null`]
    Null,
    /// [`Value::Marker`]
    Marker,
    /// [`Value::Na`]
    Na,
    /// [`Value::Remove`]
    Remove,
    /// [`Value::Bool`]
    Bool,
    /// [`Value::Number`]
    Number,
    /// [`Value::Str`]
    Str,
    /// [`Value::Uri`]
    Uri,
    /// [`Value::Ref`]
    Ref,
    /// [`Value::Symbol`]
    Symbol,
    /// [`Value::Date`]
    Date,
    /// [`Value::Time`]
    Time,
    /// [`Value::DateTime`]
    DateTime,
    /// [`Value::Coord`]
    Coord,
    /// [`Value::XStr`]
    XStr,
    /// [`Value::List`]
    List,
    /// [`Value::Dict`]
    Dict,
    /// [`Value::Grid`]
    Grid,
}

impl Kind {
    /// The def name of the kind, e.g. `dateTime`, as used by Haystack JSON `_kind`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Marker => "marker",
            Kind::Na => "na",
            Kind::Remove => "remove",
            Kind::Bool => "bool",
            Kind::Number => "number",
            Kind::Str => "str",
            Kind::Uri => "uri",
            Kind::Ref => "ref",
            Kind::Symbol => "symbol",
            Kind::Date => "date",
            Kind::Time => "time",
            Kind::DateTime => "dateTime",
            Kind::Coord => "coord",
            Kind::XStr => "xstr",
            Kind::List => "list",
            Kind::Dict => "dict",
            Kind::Grid => "grid",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Value {
    /// The kind of this value.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Marker => Kind::Marker,
            Value::Na => Kind::Na,
            Value::Remove => Kind::Remove,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::Str(_) => Kind::Str,
            Value::Uri(_) => Kind::Uri,
            Value::Ref(_) => Kind::Ref,
            Value::Symbol(_) => Kind::Symbol,
            Value::Date(_) => Kind::Date,
            Value::Time(_) => Kind::Time,
            Value::DateTime(_) => Kind::DateTime,
            Value::Coord(_) => Kind::Coord,
            Value::XStr(_) => Kind::XStr,
            Value::List(_) => Kind::List,
            Value::Dict(_) => Kind::Dict,
            Value::Grid(_) => Kind::Grid,
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether this is [`Value::Marker`].
    pub fn is_marker(&self) -> bool {
        matches!(self, Value::Marker)
    }

    /// Whether this is a scalar (neither a list, a dict nor a grid).
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Value::List(_) | Value::Dict(_) | Value::Grid(_))
    }

    /// The bool, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The string, if this is a Str.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The URI text, if this is a Uri.
    pub fn as_uri(&self) -> Option<&str> {
        match self {
            Value::Uri(s) => Some(s),
            _ => None,
        }
    }

    /// The ref, if this is one.
    pub fn as_ref(&self) -> Option<&Ref> {
        match self {
            Value::Ref(r) => Some(r),
            _ => None,
        }
    }

    /// The symbol name (without `^`), if this is a Symbol.
    pub fn as_symbol(&self) -> Option<&str> {
        match self {
            Value::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// The date, if this is one.
    pub fn as_date(&self) -> Option<time::Date> {
        match self {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }

    /// The time, if this is one.
    pub fn as_time(&self) -> Option<time::Time> {
        match self {
            Value::Time(t) => Some(*t),
            _ => None,
        }
    }

    /// The datetime, if this is one.
    pub fn as_datetime(&self) -> Option<&DateTime> {
        match self {
            Value::DateTime(d) => Some(d),
            _ => None,
        }
    }

    /// The coordinate, if this is one.
    pub fn as_coord(&self) -> Option<Coord> {
        match self {
            Value::Coord(c) => Some(*c),
            _ => None,
        }
    }

    /// The xstr, if this is one.
    pub fn as_xstr(&self) -> Option<&XStr> {
        match self {
            Value::XStr(x) => Some(x),
            _ => None,
        }
    }

    /// The list items, if this is a List.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dict, if this is one.
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The grid, if this is one.
    pub fn as_grid(&self) -> Option<&Grid> {
        match self {
            Value::Grid(g) => Some(g),
            _ => None,
        }
    }
}

/// Formats the value in its Zinc form (strings quoted and escaped, numbers with units, nested
/// collections in Zinc 3.0 syntax).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::zinc::write_value(&mut s, self);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_stays_small() {
        assert!(
            std::mem::size_of::<Value>() <= 40,
            "{}",
            std::mem::size_of::<Value>()
        );
    }

    #[test]
    fn kinds() {
        assert_eq!(Value::from(1.5).kind(), Kind::Number);
        assert_eq!(Kind::DateTime.name(), "dateTime");
        assert!(Value::Null.is_null());
        assert!(Value::from("x").is_scalar());
        assert!(!Value::List(vec![]).is_scalar());
    }
}
