//! [`Number`]: a 64-bit float with an optional unit.

use std::fmt;
use std::sync::Arc;

/// Whether `unit` can be a Number's unit in Zinc: one or more unit bytes (ASCII letters,
/// `%`, `_`, `/`, `$`, or any non-ASCII character), as every unit of the unit database is.
///
/// ```
/// use haystack_core::value::is_unit_symbol;
/// assert!(is_unit_symbol("kW/ft²") && is_unit_symbol("%RH") && is_unit_symbol("_custom"));
/// assert!(!is_unit_symbol("m 2") && !is_unit_symbol("m2") && !is_unit_symbol(""));
/// ```
pub fn is_unit_symbol(unit: &str) -> bool {
    !unit.is_empty() && unit.bytes().all(crate::zinc::is_unit_byte)
}

/// A Haystack Number: an IEEE 754 double with an optional unit symbol such as `kW` or `°F`.
///
/// The unit is kept as written (interned as an `Arc<str>` so that repeated units share memory);
/// [`crate::units`] looks units up and converts between them.
///
/// ```
/// use haystack_core::Number;
/// let n = Number::with_unit(21.5, "°C");
/// assert_eq!(n.value(), 21.5);
/// assert_eq!(n.unit(), Some("°C"));
/// assert_eq!(n.to_string(), "21.5°C");
/// assert_eq!(Number::new(f64::NEG_INFINITY).to_string(), "-INF");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Number {
    value: f64,
    unit: Option<Arc<str>>,
}

impl Number {
    /// A unitless number.
    pub fn new(value: f64) -> Self {
        Number { value, unit: None }
    }

    /// A number with a unit. An empty unit means no unit.
    pub fn with_unit(value: f64, unit: impl Into<Arc<str>>) -> Self {
        let unit: Arc<str> = unit.into();
        Number {
            value,
            unit: if unit.is_empty() { None } else { Some(unit) },
        }
    }

    /// A number with an optional, already shared unit (no allocation).
    pub fn with_shared_unit(value: f64, unit: Option<Arc<str>>) -> Self {
        Number {
            value,
            unit: unit.filter(|u| !u.is_empty()),
        }
    }

    /// The numeric value.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The unit symbol, if any.
    pub fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }

    /// The shared unit symbol, if any (cheap to clone).
    pub fn shared_unit(&self) -> Option<&Arc<str>> {
        self.unit.as_ref()
    }

    /// This number with another value and the same unit.
    pub fn map_value(&self, value: f64) -> Self {
        Number {
            value,
            unit: self.unit.clone(),
        }
    }

    /// Whether the value is an integer that an `i64` holds exactly.
    pub fn is_integer(&self) -> bool {
        self.value.fract() == 0.0 && self.value.abs() < 9.007_199_254_740_992e15
    }

    /// Haystack equality of the numeric part: `NaN` equals `NaN`, `-0` equals `0`.
    pub(crate) fn value_eq(a: f64, b: f64) -> bool {
        a == b || (a.is_nan() && b.is_nan())
    }

    /// Haystack order of the numeric part: `NaN` after everything, `-0` equal to `0`.
    pub(crate) fn value_cmp(a: f64, b: f64) -> std::cmp::Ordering {
        match a.partial_cmp(&b) {
            Some(o) => o,
            None => a.is_nan().cmp(&b.is_nan()),
        }
    }

    /// Bits to hash, consistent with [`Number::value_eq`].
    pub(crate) fn value_hash_bits(a: f64) -> u64 {
        if a.is_nan() {
            f64::NAN.to_bits()
        } else if a == 0.0 {
            0
        } else {
            a.to_bits()
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        Number::value_eq(self.value, other.value) && self.unit == other.unit
    }
}

impl Eq for Number {}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Orders by value, then by unit (no unit first). Units are not converted.
impl Ord for Number {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        Number::value_cmp(self.value, other.value).then_with(|| self.unit.cmp(&other.unit))
    }
}

impl std::hash::Hash for Number {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Number::value_hash_bits(self.value).hash(state);
        self.unit.hash(state);
    }
}

impl From<f64> for Number {
    fn from(value: f64) -> Self {
        Number::new(value)
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Self {
        Number::new(value as f64)
    }
}

impl From<i32> for Number {
    fn from(value: i32) -> Self {
        Number::new(f64::from(value))
    }
}

/// Formats the number in Zinc: shortest round-trip digits, `INF`, `-INF`, `NaN`, unit appended.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::zinc::write_number(&mut s, self);
        f.write_str(&s)
    }
}
