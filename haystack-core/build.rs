//! Generates the unit table of `haystack_core::units` from `data/units.txt` (the Haystack unit
//! database published by the Fantom project, Academic Free License 3.0).
//!
//! Output: `$OUT_DIR/units_table.rs`, included by `src/units.rs`. It defines
//! `QUANTITIES` (one `Quantity` per `-- name (dim)` section, in file order), one `Q<n>` array
//! of `Unit`s per quantity, `INDEX`, every unit name and symbol sorted by byte order with the
//! unit it names, and `SLOTS`, an open-addressing hash table (linear probing, at most half
//! full) of positions in `INDEX`, laid out with the hash of `src/units/hash.rs` and the seed
//! (`SEED`) that gives the shortest longest probe (`MAX_PROBES`). Malformed or ambiguous input
//! (duplicate names, bad dimensions, non-finite scales, invalid identifier characters) fails
//! the build.
//!
//! With the `defs` feature it also generates `$OUT_DIR/std_defs.rs`, the standard def libraries
//! of `data/defs` as a static table (see `build/defs.rs`).

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;

#[path = "src/units/hash.rs"]
mod hash;

#[path = "build/defs.rs"]
mod defs;

/// Base dimensions in Fantom's order; a dimension is a product of these with integer exponents.
const BASES: [&str; 7] = ["kg", "m", "sec", "K", "A", "mol", "cd"];

struct UnitDef {
    ids: Vec<String>,
    dims: [i8; 7],
    scale: f64,
    offset: f64,
}

struct QuantityDef {
    name: String,
    units: Vec<UnitDef>,
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=data/units.txt");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/units/hash.rs");
    let text = std::fs::read_to_string("data/units.txt")?;
    let quantities = parse(&text)?;
    let code = generate(&quantities)?;
    let out = std::env::var("OUT_DIR")?;
    std::fs::write(Path::new(&out).join("units_table.rs"), code)?;
    // The standard def libraries, only with the `defs` feature (the generated table is large).
    println!("cargo::rerun-if-changed=build/defs.rs");
    if std::env::var_os("CARGO_FEATURE_DEFS").is_some() {
        println!("cargo::rerun-if-changed=data/defs");
        let code = defs::generate(Path::new("data/defs"))?;
        std::fs::write(Path::new(&out).join("std_defs.rs"), code)?;
    }
    Ok(())
}

fn parse(text: &str) -> Result<Vec<QuantityDef>, String> {
    let mut quantities: Vec<QuantityDef> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if let Some(header) = line.strip_prefix("--") {
            // "-- name (dim)": the dimension in the header is informative only; each unit
            // line carries its own.
            let name = header.split('(').next().unwrap_or_default().trim();
            if name.is_empty() {
                return Err(format!("units.txt:{line_no}: quantity without a name"));
            }
            quantities.push(QuantityDef {
                name: name.to_owned(),
                units: Vec::new(),
            });
            continue;
        }
        let unit = parse_unit(line).map_err(|e| format!("units.txt:{line_no}: {e}"))?;
        match quantities.last_mut() {
            Some(q) => q.units.push(unit),
            None => return Err(format!("units.txt:{line_no}: unit before any quantity")),
        }
    }
    if let Some(q) = quantities.iter().find(|q| q.units.is_empty()) {
        return Err(format!("quantity {:?} has no units", q.name));
    }
    Ok(quantities)
}

fn parse_unit(line: &str) -> Result<UnitDef, String> {
    let mut fields = line.split(';').map(str::trim);
    let ids: Vec<String> = fields
        .next()
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    for id in &ids {
        if id.is_empty() || !id.chars().all(is_unit_char) {
            return Err(format!("invalid unit identifier {id:?}"));
        }
    }
    let dims = parse_dimension(fields.next().unwrap_or_default())?;
    let scale = parse_number(fields.next(), 1.0)?;
    let offset = parse_number(fields.next(), 0.0)?;
    if scale == 0.0 {
        return Err("scale of zero".into());
    }
    if fields.next().is_some() {
        return Err("too many fields".into());
    }
    Ok(UnitDef {
        ids,
        dims,
        scale,
        offset,
    })
}

fn is_unit_char(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '_' | '/' | '%' | '$') || u32::from(c) > 128
}

fn parse_number(field: Option<&str>, default: f64) -> Result<f64, String> {
    match field {
        None | Some("") => Ok(default),
        Some(s) => match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("invalid number {s:?}")),
        },
    }
}

/// Parses `kg1*m2*sec-3` (exponent 1 when omitted); empty means dimensionless.
fn parse_dimension(text: &str) -> Result<[i8; 7], String> {
    let mut dims = [0i8; 7];
    if text.is_empty() {
        return Ok(dims);
    }
    for part in text.split('*') {
        let split = part
            .find(|c: char| c == '-' || c.is_ascii_digit())
            .unwrap_or(part.len());
        let (base, exp) = part.split_at(split);
        let exp: i8 = if exp.is_empty() {
            1
        } else {
            exp.parse()
                .map_err(|_| format!("invalid exponent in {part:?}"))?
        };
        let index = BASES
            .iter()
            .position(|b| *b == base)
            .ok_or_else(|| format!("unknown base dimension in {part:?}"))?;
        dims[index] += exp;
    }
    Ok(dims)
}

fn generate(quantities: &[QuantityDef]) -> Result<String, Box<dyn Error>> {
    let mut code = String::new();
    writeln!(
        code,
        "// @generated by haystack-core/build.rs from data/units.txt (the Haystack unit database \
         of the Fantom project, Academic Free License 3.0). Do not edit.\n"
    )?;
    writeln!(
        code,
        "static QUANTITIES: [Quantity; {}] = [",
        quantities.len()
    )?;
    for (qi, q) in quantities.iter().enumerate() {
        writeln!(
            code,
            "    Quantity {{ name: {:?}, units: &Q{qi} }},",
            q.name
        )?;
    }
    writeln!(code, "];\n")?;

    let mut index: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (qi, q) in quantities.iter().enumerate() {
        // The database's values are kept as published, even where one happens to be close to
        // a named constant (`rpm`'s 6.2831853071796 is almost TAU).
        writeln!(
            code,
            "#[allow(clippy::approx_constant, clippy::excessive_precision)]"
        )?;
        writeln!(code, "static Q{qi}: [Unit; {}] = [", q.units.len())?;
        for (ui, u) in q.units.iter().enumerate() {
            let (name, symbols) = u.ids.split_first().ok_or("unit without a name")?;
            let d = u.dims;
            writeln!(
                code,
                "    Unit {{ name: {name:?}, symbols: &{symbols:?}, quantity: &QUANTITIES[{qi}], \
                 dimension: Dimension {{ kg: {}, m: {}, sec: {}, k: {}, a: {}, mol: {}, cd: {} }}, \
                 scale: {:?}, offset: {:?} }},",
                d[0], d[1], d[2], d[3], d[4], d[5], d[6], u.scale, u.offset
            )?;
            for id in &u.ids {
                if index.insert(id, (qi, ui)).is_some() {
                    return Err(format!("unit identifier {id:?} defined twice").into());
                }
            }
        }
        writeln!(code, "];\n")?;
    }

    // BTreeMap<&str, _> iterates in byte order, which is the order `str::cmp` uses at run time.
    writeln!(code, "static INDEX: [(&str, &Unit); {}] = [", index.len())?;
    for (id, (qi, ui)) in &index {
        writeln!(code, "    ({id:?}, &Q{qi}[{ui}]),")?;
    }
    writeln!(code, "];\n")?;

    let ids: Vec<&str> = index.keys().copied().collect();
    let (seed, slots, max_probes) = (0..256u64)
        .map(|seed| layout(&ids, seed))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .min_by_key(|(_, _, probes)| *probes)
        .ok_or("no hash layout")?;
    writeln!(code, "const SEED: u64 = {seed};")?;
    writeln!(code, "const MAX_PROBES: usize = {max_probes};")?;
    writeln!(code, "const EMPTY: u16 = u16::MAX;")?;
    writeln!(code, "static SLOTS: [u16; {}] = {slots:?};", slots.len())?;
    Ok(code)
}

/// Lays `ids` (by position) into a power-of-two table at most half full with linear probing;
/// returns the seed, the table (`u16::MAX` marks an empty slot) and the longest probe sequence.
fn layout(ids: &[&str], seed: u64) -> Result<(u64, Vec<u16>, usize), String> {
    let size = (ids.len() * 2).next_power_of_two();
    if ids.len() >= usize::from(u16::MAX) {
        return Err("too many unit identifiers for u16 slots".into());
    }
    let mask = size - 1;
    let mut slots = vec![u16::MAX; size];
    let mut max_probes = 0;
    for (position, id) in ids.iter().enumerate() {
        let mut slot = (hash::fnv1a(seed, id) as usize) & mask;
        let mut probes = 1;
        while slots[slot] != u16::MAX {
            slot = (slot + 1) & mask;
            probes += 1;
        }
        slots[slot] = u16::try_from(position).map_err(|e| e.to_string())?;
        max_probes = max_probes.max(probes);
    }
    Ok((seed, slots, max_probes))
}
