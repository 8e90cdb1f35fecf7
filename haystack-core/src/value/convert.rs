//! Conversions between [`Value`] and Rust types.

use std::sync::Arc;

use super::{Coord, DateTime, Number, Ref, SmolStr, Value, XStr};
use crate::{Dict, Error, Grid};

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Number(Number::new(v))
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Number(Number::from(v))
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Number(Number::from(v))
    }
}

impl From<Number> for Value {
    fn from(v: Number) -> Self {
        Value::Number(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(SmolStr::new(v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(SmolStr::from(v))
    }
}

impl From<SmolStr> for Value {
    fn from(v: SmolStr) -> Self {
        Value::Str(v)
    }
}

impl From<Arc<str>> for Value {
    fn from(v: Arc<str>) -> Self {
        Value::Str(SmolStr::from(v))
    }
}

impl From<Ref> for Value {
    fn from(v: Ref) -> Self {
        Value::Ref(v)
    }
}

impl From<time::Date> for Value {
    fn from(v: time::Date) -> Self {
        Value::Date(v)
    }
}

impl From<time::Time> for Value {
    fn from(v: time::Time) -> Self {
        Value::Time(v)
    }
}

impl From<DateTime> for Value {
    fn from(v: DateTime) -> Self {
        Value::DateTime(v)
    }
}

impl From<Coord> for Value {
    fn from(v: Coord) -> Self {
        Value::Coord(v)
    }
}

impl From<XStr> for Value {
    fn from(v: XStr) -> Self {
        Value::XStr(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(v)
    }
}

impl From<Dict> for Value {
    fn from(v: Dict) -> Self {
        Value::Dict(v)
    }
}

impl From<Grid> for Value {
    fn from(v: Grid) -> Self {
        Value::Grid(Box::new(v))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

fn mismatch(expected: &'static str, got: &Value) -> Error {
    Error::InvalidValue {
        kind: expected,
        message: format!("expected {expected} but found {}", got.kind()),
    }
}

macro_rules! try_from_value {
    ($t:ty, $name:literal, $pat:pat => $out:expr) => {
        impl TryFrom<Value> for $t {
            type Error = Error;
            fn try_from(v: Value) -> Result<Self, Error> {
                match v {
                    $pat => Ok($out),
                    other => Err(mismatch($name, &other)),
                }
            }
        }
    };
}

try_from_value!(bool, "Bool", Value::Bool(b) => b);
try_from_value!(f64, "Number", Value::Number(n) => n.value());
try_from_value!(Number, "Number", Value::Number(n) => n);
try_from_value!(String, "Str", Value::Str(s) => s.into());
try_from_value!(SmolStr, "Str", Value::Str(s) => s);
try_from_value!(Ref, "Ref", Value::Ref(r) => r);
try_from_value!(time::Date, "Date", Value::Date(d) => d);
try_from_value!(time::Time, "Time", Value::Time(t) => t);
try_from_value!(DateTime, "DateTime", Value::DateTime(d) => d);
try_from_value!(Coord, "Coord", Value::Coord(c) => c);
try_from_value!(XStr, "XStr", Value::XStr(x) => x);
try_from_value!(Vec<Value>, "List", Value::List(l) => l);
try_from_value!(Dict, "Dict", Value::Dict(d) => d);
try_from_value!(Grid, "Grid", Value::Grid(g) => *g);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_value() {
        assert_eq!(f64::try_from(Value::from(2.5)).ok(), Some(2.5));
        assert_eq!(bool::try_from(Value::from(true)).ok(), Some(true));
        assert_eq!(
            String::try_from(Value::from("a")).ok().as_deref(),
            Some("a")
        );
        assert!(bool::try_from(Value::from("a")).is_err());
        assert_eq!(Value::from(None::<bool>), Value::Null);
    }
}
