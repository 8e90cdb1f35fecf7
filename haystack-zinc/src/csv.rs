//! CSV export of grids (Haystack's CSV mapping; there is no CSV reader).
//!
//! The first row holds the column display names (`dis` meta, else the name); markers are `✓`,
//! nulls empty, refs `@id dis`, bools `true`/`false`, strings and URIs their raw text, and
//! everything else its Zinc form. Fields are quoted as RFC 4180 requires; lines end with `\n`.
//!
//! ```
//! let grid = haystack_zinc::from_str(
//!     "ver:\"3.0\"\ndis dis:\"Equip Name\",equip,siteRef\n\"RTU, 1\",M,@153c \"HQ\"\n",
//! ).unwrap();
//! assert_eq!(haystack_zinc::csv::to_string(&grid), "Equip Name,equip,siteRef\n\"RTU, 1\",✓,@153c HQ\n");
//! ```

use std::io::Write;

use haystack_core::zinc::write_value;
use haystack_core::{Grid, Value};

use crate::Result;

/// The CSV text of a grid.
pub fn to_string(grid: &Grid) -> String {
    let mut out = String::new();
    write_csv(&mut out, grid, |_| Ok(())).unwrap_or_default();
    out
}

/// Writes the CSV text of a grid to `w`, in chunks of about 64 KiB.
pub fn to_writer<W: Write>(mut w: W, grid: &Grid) -> Result<()> {
    let mut buf = String::new();
    write_csv(&mut buf, grid, |b| {
        w.write_all(b.as_bytes())?;
        b.clear();
        Ok(())
    })?;
    w.write_all(buf.as_bytes())?;
    w.flush()?;
    Ok(())
}

fn write_csv(
    out: &mut String,
    grid: &Grid,
    mut flush: impl FnMut(&mut String) -> Result<()>,
) -> Result<()> {
    for (i, c) in grid.cols().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, c.dis());
    }
    out.push('\n');
    let mut cell = String::new();
    for r in grid.rows() {
        for (i, v) in r.cells().enumerate() {
            if i > 0 {
                out.push(',');
            }
            cell.clear();
            cell_text(&mut cell, v);
            push_field(out, &cell);
        }
        out.push('\n');
        if out.len() > 64 * 1024 {
            flush(out)?;
        }
    }
    Ok(())
}

fn cell_text(out: &mut String, v: &Value) {
    match v {
        Value::Null => {}
        Value::Marker => out.push('✓'),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Str(s) | Value::Uri(s) => out.push_str(s),
        Value::Ref(r) => {
            out.push('@');
            out.push_str(r.id());
            if let Some(dis) = r.dis() {
                out.push(' ');
                out.push_str(dis);
            }
        }
        other => write_value(out, other),
    }
}

fn push_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_rfc_4180_requires() {
        let g =
            crate::from_str("ver:\"3.0\"\na,b,c\n\"say \\\"hi\\\"\",T,N\n\" x\",2021-01-01,`u`\n")
                .unwrap();
        assert_eq!(
            to_string(&g),
            "a,b,c\n\"say \"\"hi\"\"\",true,\n\" x\",2021-01-01,u\n"
        );
        let mut v = Vec::new();
        to_writer(&mut v, &g).unwrap();
        assert_eq!(String::from_utf8(v).unwrap(), to_string(&g));
    }
}
