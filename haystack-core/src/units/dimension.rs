//! The physical dimension of a unit: integer exponents of the seven SI base dimensions.

use std::fmt;

/// A physical dimension as the unit database states it: the exponents of kilogram, meter,
/// second, kelvin, ampere, mole and candela. Dimensionless units (percent, currencies, bytes)
/// have every exponent zero.
///
/// `Display` writes the database's notation, e.g. `kg1*m2*sec-3` for power, and nothing for a
/// dimensionless unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Dimension {
    /// Exponent of the kilogram (mass).
    pub kg: i8,
    /// Exponent of the meter (length).
    pub m: i8,
    /// Exponent of the second (time).
    pub sec: i8,
    /// Exponent of the kelvin (temperature).
    pub k: i8,
    /// Exponent of the ampere (electric current).
    pub a: i8,
    /// Exponent of the mole (amount of substance).
    pub mol: i8,
    /// Exponent of the candela (luminous intensity).
    pub cd: i8,
}

impl Dimension {
    /// Whether every exponent is zero.
    pub fn is_dimensionless(&self) -> bool {
        *self == Dimension::default()
    }

    fn parts(&self) -> [(&'static str, i8); 7] {
        [
            ("kg", self.kg),
            ("m", self.m),
            ("sec", self.sec),
            ("K", self.k),
            ("A", self.a),
            ("mol", self.mol),
            ("cd", self.cd),
        ]
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (base, exp) in self.parts() {
            if exp != 0 {
                if !first {
                    f.write_str("*")?;
                }
                write!(f, "{base}{exp}")?;
                first = false;
            }
        }
        Ok(())
    }
}
