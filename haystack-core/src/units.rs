//! The Haystack unit database: quantities, names, symbols, scale and offset, and conversion
//! between units of one quantity.
//!
//! Every unit of the database (as published by the [Fantom](https://fantom.org) project under the
//! Academic Free License 3.0, and copied in `data/units.txt`) is here: 60 quantities and 457
//! units, each with a full name (`kilowatt_hour`) and zero or more symbols (`kWh`). Any name or
//! symbol finds its unit; by Haystack convention the *last* symbol is the preferred one, and it
//! is what [`Unit`]'s `Display` writes. The table is generated from the text at build time
//! (`build.rs`), never typed by hand; lookup is one hash and, on average, under two probes of
//! a static open-addressing table laid out at build time.
//!
//! ```
//! use haystack_core::units::{self, convert, lookup};
//!
//! # fn main() -> haystack_core::Result<()> {
//! let kwh = lookup("kWh")?;
//! assert_eq!(kwh.name(), "kilowatt_hour");
//! assert_eq!(kwh.quantity().name(), "energy");
//! assert_eq!(lookup("hour")?.to_string(), "hr"); // the preferred (last) symbol
//!
//! assert!((convert(1.0, "kWh", "MJ")? - 3.6).abs() < 1e-12);
//! assert!((convert(212.0, "°F", "°C")? - 100.0).abs() < 1e-9);
//! assert!(convert(1.0, "kWh", "kW").is_err()); // energy is not power
//! assert!(units::unit("furlong").is_none());
//! assert_eq!((units::quantities().len(), units::all().count()), (60, 457));
//! # Ok(())
//! # }
//! ```
//!
//! # Conversion rules
//! A value converts as `((value * from.scale + from.offset) - to.offset) / to.scale`, where scale
//! and offset relate each unit to its quantity's base unit (kelvin for temperature). Only units
//! of the same quantity convert (stricter than Fantom, which converts any two units of one
//! dimension, e.g. energy to reactive energy). Two groupings in the database carry no scale
//! relation and only convert to themselves: currencies (there are no exchange rates) and
//! `kilowatt_per_ton`, which the database says has no direct scaling factor to COP or EER.
//! Dimensionless units convert by their scale as Fantom does (`%` to `ppm`).
//! The database is reproduced as published, including its known oddities (e.g. `micrometer`
//! has scale `1.0E-5`).

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::error::{Error, Result};

mod dimension;
mod hash;

pub use dimension::Dimension;

/// One unit of the database, e.g. `kilowatt_hour` (`kWh`). Units only exist in the static table;
/// get them with [`unit()`], [`lookup`] or [`all`].
pub struct Unit {
    name: &'static str,
    symbols: &'static [&'static str],
    quantity: &'static Quantity,
    dimension: Dimension,
    scale: f64,
    offset: f64,
}

/// A group of units measuring the same thing, e.g. `energy` or `temperature`.
pub struct Quantity {
    name: &'static str,
    units: &'static [Unit],
}

// The generated table: `QUANTITIES`, one `Q<n>` unit array per quantity, `INDEX`, every
// identifier sorted by byte order, and the hash table `SLOTS` over `INDEX`. See `build.rs`.
include!(concat!(env!("OUT_DIR"), "/units_table.rs"));

/// The unit named by `id`, a full name (`kilowatt_hour`) or any symbol (`kWh`). Case-sensitive:
/// `MW` is a megawatt, `mW` a milliwatt.
pub fn unit(id: &str) -> Option<&'static Unit> {
    // Linear probing from the id's hash; no id of the table is further than MAX_PROBES slots
    // from its hash, so a longer search means the id is absent.
    let mask = SLOTS.len() - 1;
    let mut slot = (hash::fnv1a(SEED, id) as usize) & mask;
    for _ in 0..MAX_PROBES {
        let position = *SLOTS.get(slot)?;
        if position == EMPTY {
            return None;
        }
        let (key, unit) = INDEX.get(usize::from(position))?;
        if *key == id {
            return Some(unit);
        }
        slot = (slot + 1) & mask;
    }
    None
}

/// Like [`unit()`], but an unknown identifier is [`Error::UnknownUnit`].
pub fn lookup(id: &str) -> Result<&'static Unit> {
    unit(id).ok_or_else(|| Error::UnknownUnit(id.to_owned()))
}

/// Converts `value` from the unit named `from` to the unit named `to` (names or symbols).
///
/// Errors: [`Error::UnknownUnit`] when either is not in the database,
/// [`Error::IncompatibleUnits`] when they do not convert (see the module docs).
pub fn convert(value: f64, from: &str, to: &str) -> Result<f64> {
    lookup(from)?.convert_to(value, lookup(to)?)
}

/// Every quantity, in database order.
pub fn quantities() -> &'static [Quantity] {
    &QUANTITIES
}

/// The quantity called `name`, e.g. `"volumetric flow"`.
pub fn quantity(name: &str) -> Option<&'static Quantity> {
    QUANTITIES.iter().find(|q| q.name == name)
}

/// Every unit, quantity by quantity in database order.
pub fn all() -> impl Iterator<Item = &'static Unit> {
    QUANTITIES.iter().flat_map(|q| q.units.iter())
}

/// Every unit identifier (names and symbols) with its unit, sorted by byte order.
pub fn identifiers() -> impl ExactSizeIterator<Item = (&'static str, &'static Unit)> {
    INDEX.iter().map(|(id, u)| (*id, *u))
}

/// Whether `id` uses only the characters Haystack allows in a unit identifier: ASCII letters,
/// `_`, `/`, `%`, `$` and any character above U+0080. It says nothing about whether the
/// database knows the unit (see [`unit()`]).
pub fn is_unit_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().all(|c| {
            c.is_ascii_alphabetic() || matches!(c, '_' | '/' | '%' | '$') || u32::from(c) > 128
        })
}

impl Unit {
    /// The full name, e.g. `kilowatt_hour`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The symbols (aliases) in database order, e.g. `["h", "hr"]`; may be empty (`day`).
    pub fn symbols(&self) -> &'static [&'static str] {
        self.symbols
    }

    /// The preferred notation: the last symbol, or the name when there is none.
    pub fn symbol(&self) -> &'static str {
        self.symbols.last().copied().unwrap_or(self.name)
    }

    /// The name followed by every symbol: each one finds this unit with [`unit()`].
    pub fn ids(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.symbols.iter().copied())
    }

    /// The quantity this unit measures.
    pub fn quantity(&self) -> &'static Quantity {
        self.quantity
    }

    /// The physical dimension, e.g. `kg1*m2*sec-2` for energy.
    pub fn dimension(&self) -> Dimension {
        self.dimension
    }

    /// Multiplier to the quantity's base unit (`1000.0` for `kW`).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Offset to the quantity's base unit after scaling (`273.15` for `°C`); zero for most units.
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// Whether values convert from this unit to `to` (see the module docs for the rules).
    pub fn is_convertible_to(&self, to: &Unit) -> bool {
        if self == to {
            return true;
        }
        std::ptr::eq(self.quantity, to.quantity)
            && self.dimension == to.dimension
            && self.quantity.name != "currency"
            && self.name != "kilowatt_per_ton"
            && to.name != "kilowatt_per_ton"
    }

    /// Converts `value` in this unit to the unit `to`; the value is returned unchanged when the
    /// units are the same. Errors with [`Error::IncompatibleUnits`] when they do not convert.
    pub fn convert_to(&self, value: f64, to: &Unit) -> Result<f64> {
        if self == to {
            return Ok(value);
        }
        if !self.is_convertible_to(to) {
            return Err(Error::IncompatibleUnits {
                from: self.name.to_owned(),
                to: to.name.to_owned(),
            });
        }
        Ok(((value * self.scale + self.offset) - to.offset) / to.scale)
    }
}

/// Units are equal when they are the same database entry (names are unique).
impl PartialEq for Unit {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Unit {}

impl Hash for Unit {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl fmt::Display for Unit {
    /// Writes the preferred symbol ([`Unit::symbol`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

impl fmt::Debug for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unit")
            .field("name", &self.name)
            .field("symbols", &self.symbols)
            .field("quantity", &self.quantity.name)
            .field("dimension", &self.dimension.to_string())
            .field("scale", &self.scale)
            .field("offset", &self.offset)
            .finish()
    }
}

impl Quantity {
    /// The quantity's name, e.g. `energy`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its units in database order; never empty.
    pub fn units(&self) -> &'static [Unit] {
        self.units
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Quantity {}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.units.iter().map(|u| u.name).collect();
        f.debug_struct("Quantity")
            .field("name", &self.name)
            .field("units", &names)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_sorted_and_unique() {
        assert!(INDEX.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn hash_table_holds_every_identifier_once_and_is_at_most_half_full() {
        assert!(SLOTS.len().is_power_of_two());
        let mut used: Vec<u16> = SLOTS.iter().copied().filter(|s| *s != EMPTY).collect();
        used.sort_unstable();
        assert!(used.iter().copied().map(usize::from).eq(0..INDEX.len()));
        assert!(INDEX.len() * 2 <= SLOTS.len());
        assert!((1..=8).contains(&MAX_PROBES), "{MAX_PROBES}");
        for (id, u) in INDEX.iter() {
            assert!(std::ptr::eq(unit(id).unwrap(), *u), "{id}");
        }
    }

    #[test]
    fn debug_does_not_recurse() {
        let text = format!("{:?}", lookup("kWh").unwrap());
        assert!(text.contains("energy"), "{text}");
        let text = format!("{:?}", quantity("energy").unwrap());
        assert!(text.contains("kilowatt_hour"), "{text}");
    }
}
