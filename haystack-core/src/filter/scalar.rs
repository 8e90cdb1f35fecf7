//! Filter values are Zinc scalars, read and written by the crate's one Zinc scalar code
//! ([`crate::zinc`]); only bools differ (`true`/`false` instead of `T`/`F`).

use std::fmt;

use crate::error::Result;
use crate::value::Value;
use crate::zinc::Scanner;

/// Reads one Zinc scalar starting at byte `offset` of `src`; returns it and the offset after it.
/// Errors carry positions in `src`.
pub(super) fn read(src: &str, offset: usize) -> Result<(Value, usize)> {
    let mut s = Scanner::new(src);
    s.set_pos(offset);
    let v = s.read_scalar()?;
    Ok((v, s.pos()))
}

/// Writes a filter value: bools as `true`/`false`, everything else in Zinc.
pub(super) fn write(f: &mut fmt::Formatter<'_>, v: &Value) -> fmt::Result {
    match v {
        Value::Bool(true) => f.write_str("true"),
        Value::Bool(false) => f.write_str("false"),
        _ => {
            let mut s = String::new();
            crate::zinc::write_scalar(&mut s, v);
            f.write_str(&s)
        }
    }
}
