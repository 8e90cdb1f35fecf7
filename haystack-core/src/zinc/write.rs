//! The Zinc writer of values: scalars, lists, dicts and grids into a `String`.

use crate::value::{Coord, DateTime, Number, XStr};
use crate::{Dict, Grid, Row, Value};

/// Appends the Zinc form of any value (nested lists, dicts and grids included).
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::List(items) => write_list(out, items),
        Value::Dict(d) => write_dict(out, d),
        Value::Grid(g) => {
            out.push_str("<<\n");
            write_grid(out, g);
            out.push_str(">>");
        }
        scalar => write_scalar(out, scalar),
    }
}

/// Appends the Zinc literal of a scalar. Lists, dicts and grids are written as by
/// [`write_value`].
pub fn write_scalar(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push('N'),
        Value::Marker => out.push('M'),
        Value::Na => out.push_str("NA"),
        Value::Remove => out.push('R'),
        Value::Bool(true) => out.push('T'),
        Value::Bool(false) => out.push('F'),
        Value::Number(n) => write_number(out, n),
        Value::Str(s) => write_str(out, s),
        Value::Uri(u) => write_uri(out, u),
        Value::Ref(r) => {
            out.push('@');
            out.push_str(r.id());
            if let Some(dis) = r.dis() {
                out.push(' ');
                write_str(out, dis);
            }
        }
        Value::Symbol(s) => {
            out.push('^');
            out.push_str(s);
        }
        Value::Date(d) => write_date(out, *d),
        Value::Time(t) => write_time(out, *t),
        Value::DateTime(dt) => write_datetime(out, dt),
        Value::Coord(c) => write_coord(out, *c),
        Value::XStr(x) => write_xstr(out, x),
        Value::List(_) | Value::Dict(_) | Value::Grid(_) => write_value(out, value),
    }
}

/// Appends a number: shortest digits that read back to the same `f64` (integers without a
/// fraction), `INF`, `-INF` or `NaN`, then the unit (never after `NaN`).
///
/// The unit is written only where the reader reads it back: never after `NaN`, never a unit
/// with bytes that are not unit bytes (see [`crate::value::is_unit_symbol`]; the readers
/// reject those, so only Numbers built in code can hold one), and after `INF`/`-INF` only a
/// unit that cannot be read as the rest of the word (`INF°F`, but not `INFft`).
pub fn write_number(out: &mut String, n: &Number) {
    let v = n.value();
    write_f64(out, v);
    let Some(unit) = n.unit() else { return };
    let word_like = unit
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    if v.is_nan() || !crate::value::is_unit_symbol(unit) || (v.is_infinite() && word_like) {
        return;
    }
    out.push_str(unit);
}

/// Appends an `f64` in Zinc number syntax (without unit).
pub fn write_f64(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "INF" } else { "-INF" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        // Exact: |v| < 1e15 < 2^53 and integral.
        let mut b = itoa::Buffer::new();
        if v == 0.0 && v.is_sign_negative() {
            out.push('-');
        }
        out.push_str(b.format(v as i64));
    } else {
        let mut b = ryu::Buffer::new();
        let s = b.format_finite(v);
        out.push_str(s.strip_suffix(".0").unwrap_or(s));
    }
}

/// Appends a quoted Zinc string, escaping `"`, `\`, `$`, control characters and nothing else.
pub fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'$' => "\\$",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        // `i` is at an ASCII byte, so both slices are on char boundaries.
        out.push_str(s.get(start..i).unwrap_or_default());
        if esc.is_empty() {
            push_u_escape(out, b);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

fn push_u_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u00");
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

/// Whether `\c` is a URI escape that is kept as written (the backslash is part of the value).
pub(crate) fn is_kept_uri_escape(c: u8) -> bool {
    matches!(
        c,
        b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@' | b'&' | b'=' | b';'
    )
}

/// Appends a back-quoted URI. A backslash before a reserved character (`: / ? # [ ] @ & = ;`)
/// is written as is, so a value read from `` `a\#b` `` is written back the same way; any other
/// backslash is doubled, and `` ` `` is escaped.
pub fn write_uri(out: &mut String, u: &str) {
    out.push('`');
    let bytes = u.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = match b {
            b'`' => "\\`",
            b'\\' if bytes.get(i + 1).is_some_and(|&c| is_kept_uri_escape(c)) => continue,
            b'\\' => "\\\\",
            b'\n' => "\\u000a",
            b'\r' => "\\u000d",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        out.push_str(u.get(start..i).unwrap_or_default());
        if esc.is_empty() {
            push_u_escape(out, b);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(u.get(start..).unwrap_or_default());
    out.push('`');
}

fn push_2(out: &mut String, v: u8) {
    out.push(char::from(b'0' + (v / 10) % 10));
    out.push(char::from(b'0' + v % 10));
}

/// Appends `YYYY-MM-DD`.
pub fn write_date(out: &mut String, d: time::Date) {
    let y = d.year();
    if y < 0 {
        out.push('-');
    }
    let y = y.unsigned_abs();
    push_2(out, (y / 100) as u8);
    push_2(out, (y % 100) as u8);
    out.push('-');
    push_2(out, u8::from(d.month()));
    out.push('-');
    push_2(out, d.day());
}

/// Appends `hh:mm:ss` and a fraction of a second with trailing zeros removed.
pub fn write_time(out: &mut String, t: time::Time) {
    push_2(out, t.hour());
    out.push(':');
    push_2(out, t.minute());
    out.push(':');
    push_2(out, t.second());
    let nanos = t.nanosecond();
    if nanos != 0 {
        let mut digits = [0u8; 9];
        let mut n = nanos;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let len = digits.iter().rposition(|&d| d != b'0').map_or(0, |p| p + 1);
        out.push('.');
        for &d in digits.iter().take(len) {
            out.push(char::from(d));
        }
    }
}

/// Appends `YYYY-MM-DDThh:mm:ss[.f]` plus `Z` or `±hh:mm`, a space and the timezone name.
pub fn write_datetime(out: &mut String, dt: &DateTime) {
    let odt = dt.offset_date_time();
    write_date(out, odt.date());
    out.push('T');
    write_time(out, odt.time());
    let off = odt.offset();
    if off.is_utc() {
        out.push('Z');
    } else {
        let secs = off.whole_seconds();
        out.push(if secs < 0 { '-' } else { '+' });
        let secs = secs.unsigned_abs();
        push_2(out, (secs / 3600) as u8);
        out.push(':');
        push_2(out, ((secs / 60) % 60) as u8);
    }
    out.push(' ');
    out.push_str(dt.tz());
}

/// Appends `C(lat,lng)` in plain decimal degrees.
pub fn write_coord(out: &mut String, c: Coord) {
    use std::fmt::Write;
    // Writing to a String cannot fail.
    let _ = write!(out, "C({},{})", c.lat(), c.lng());
}

/// Appends `Type("value")`.
pub fn write_xstr(out: &mut String, x: &XStr) {
    out.push_str(x.kind());
    out.push('(');
    write_str(out, x.value());
    out.push(')');
}

/// Appends `[a,b,c]`.
pub fn write_list(out: &mut String, items: &[Value]) {
    out.push('[');
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(out, v);
    }
    out.push(']');
}

/// Appends `{a:1 b marker}`: markers as bare names, other tags as `name:value`.
pub fn write_dict(out: &mut String, d: &Dict) {
    out.push('{');
    write_tags(out, d, false);
    out.push('}');
}

/// Appends tags separated by spaces (markers bare), as in grid and column meta. With
/// `leading_space`, a space is written before the first tag too.
pub fn write_tags(out: &mut String, d: &Dict, leading_space: bool) {
    for (i, (k, v)) in d.iter().enumerate() {
        if i > 0 || leading_space {
            out.push(' ');
        }
        out.push_str(k);
        if !v.is_marker() {
            out.push(':');
            write_value(out, v);
        }
    }
}

/// Appends the grid meta line (`ver:"3.0"` and the meta tags, without any `ver` tag of the meta)
/// and the column line, each ending with a newline. A grid without columns gets one column
/// named `empty`.
pub fn write_grid_header(out: &mut String, g: &Grid) {
    out.push_str("ver:\"3.0\"");
    for (k, v) in g.meta().iter() {
        if k == "ver" {
            continue;
        }
        out.push(' ');
        out.push_str(k);
        if !v.is_marker() {
            out.push(':');
            write_value(out, v);
        }
    }
    out.push('\n');
    if g.cols().is_empty() {
        out.push_str("empty\n");
        return;
    }
    for (i, c) in g.cols().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(c.name());
        write_tags(out, c.meta(), true);
    }
    out.push('\n');
}

/// Appends one row line: cells separated by commas, nulls empty (or `N` for a one-column grid),
/// ending with a newline.
pub fn write_row<'a, I>(out: &mut String, cells: I)
where
    I: IntoIterator<Item = &'a Value>,
    I::IntoIter: ExactSizeIterator,
{
    let cells = cells.into_iter();
    let one = cells.len() == 1;
    for (i, v) in cells.enumerate() {
        if one && v.is_null() {
            out.push('N');
        }
        if i > 0 {
            out.push(',');
        }
        if !v.is_null() {
            write_value(out, v);
        }
    }
    out.push('\n');
}

/// Appends one row line of a grid of `width` columns from its tags, as [`write_row`] does for
/// a row of one cell per column.
pub fn write_sparse_row(out: &mut String, row: &Row<'_>, width: usize) {
    if width == 1 && row.is_empty() {
        out.push_str("N\n");
        return;
    }
    // Cells are separated by commas: cell `c` follows the `c`-th comma.
    let mut commas = 0;
    for (c, v) in row.entries() {
        push_commas(out, c.saturating_sub(commas));
        commas = commas.max(c);
        write_value(out, v);
    }
    push_commas(out, width.saturating_sub(1).saturating_sub(commas));
    out.push('\n');
}

fn push_commas(out: &mut String, n: usize) {
    const COMMAS: &str = ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,";
    let mut n = n;
    while n > 0 {
        let k = n.min(COMMAS.len());
        out.push_str(COMMAS.get(..k).unwrap_or_default());
        n -= k;
    }
}

/// Appends a whole grid as a Zinc 3.0 document.
pub fn write_grid(out: &mut String, g: &Grid) {
    write_grid_header(out, g);
    let width = g.cols().len();
    for r in g.rows() {
        write_sparse_row(out, &r, width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64) -> String {
        let mut s = String::new();
        write_f64(&mut s, v);
        s
    }

    #[test]
    fn numbers() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(-34.0), "-34");
        assert_eq!(num(5.4e-45), "5.4e-45");
        assert_eq!(num(0.1), "0.1");
        assert_eq!(num(1e300), "1e300");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(-0.0), "-0");
    }

    #[test]
    fn strings_and_uris() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c$d\ne\u{1}é");
        assert_eq!(s, r#""a\"b\\c\$d\ne\u0001é""#);
        s.clear();
        write_uri(&mut s, r"file \#2 a\b `x`");
        assert_eq!(s, r"`file \#2 a\\b \`x\``");
    }
}
