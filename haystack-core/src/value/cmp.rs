//! Equality, ordering and hashing of [`Value`] (Haystack rules, see the module docs).

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use super::Value;

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null)
            | (Value::Marker, Value::Marker)
            | (Value::Na, Value::Na)
            | (Value::Remove, Value::Remove) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Uri(a), Value::Uri(b)) => a == b,
            (Value::Ref(a), Value::Ref(b)) => a == b,
            (Value::Symbol(a), Value::Symbol(b)) => a == b,
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::Time(a), Value::Time(b)) => a == b,
            (Value::DateTime(a), Value::DateTime(b)) => a == b,
            (Value::Coord(a), Value::Coord(b)) => a == b,
            (Value::XStr(a), Value::XStr(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Dict(a), Value::Dict(b)) => a == b,
            (Value::Grid(a), Value::Grid(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A total order: by [`super::Kind`] first, then within the kind (numbers by value then unit,
/// strings by code point, dates and times chronologically, dicts by their sorted tags).
impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Number(a), Value::Number(b)) => a.cmp(b),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (Value::Uri(a), Value::Uri(b)) => a.cmp(b),
            (Value::Ref(a), Value::Ref(b)) => a.cmp(b),
            (Value::Symbol(a), Value::Symbol(b)) => a.cmp(b),
            (Value::Date(a), Value::Date(b)) => a.cmp(b),
            (Value::Time(a), Value::Time(b)) => a.cmp(b),
            (Value::DateTime(a), Value::DateTime(b)) => a.cmp(b),
            (Value::Coord(a), Value::Coord(b)) => a.cmp(b),
            (Value::XStr(a), Value::XStr(b)) => a.cmp(b),
            (Value::List(a), Value::List(b)) => a.cmp(b),
            (Value::Dict(a), Value::Dict(b)) => a.cmp(b),
            (Value::Grid(a), Value::Grid(b)) => a.cmp(b),
            _ => self.kind().cmp(&other.kind()),
        }
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind().hash(state);
        match self {
            Value::Null | Value::Marker | Value::Na | Value::Remove => {}
            Value::Bool(b) => b.hash(state),
            Value::Number(n) => n.hash(state),
            Value::Str(s) | Value::Uri(s) | Value::Symbol(s) => s.hash(state),
            Value::Ref(r) => r.hash(state),
            Value::Date(d) => d.hash(state),
            Value::Time(t) => t.hash(state),
            Value::DateTime(d) => d.hash(state),
            Value::Coord(c) => c.hash(state),
            Value::XStr(x) => x.hash(state),
            Value::List(l) => l.hash(state),
            Value::Dict(d) => d.hash(state),
            Value::Grid(g) => g.hash(state),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Number, Value};

    #[test]
    fn haystack_equality() {
        assert_eq!(Value::from(f64::NAN), Value::from(f64::NAN));
        assert_eq!(Value::from(-0.0), Value::from(0.0));
        assert_ne!(Value::from(Number::with_unit(1.0, "m")), Value::from(1.0));
        assert!(Value::Null < Value::Marker);
        assert!(Value::from(1.0) < Value::from(f64::NAN));
        assert!(Value::from(true) < Value::from(0.0));
    }
}
