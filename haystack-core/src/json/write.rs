//! A direct JSON writer for values (v4 and v3) into a `String`: the fast path behind
//! [`super::to_string`]. It writes exactly what the serde `Serialize` impls write (tests hold
//! the two together), but tag names are written without escaping (they are ASCII letters,
//! digits and `_`), grid column keys are prepared once per grid, and dates and times are
//! formatted straight into the output by the Zinc writer.

use super::ser::GRID_VERSION;
use crate::value::{Number, Value};
use crate::zinc;
use crate::{Col, Dict, Grid};

/// Largest magnitude below which an integral f64 is written as a JSON integer (2^53).
const MAX_SAFE_INT: f64 = 9_007_199_254_740_992.0;

/// Which bytes need escaping in a JSON string: 0 = none, else the escape letter
/// (`u` for `\u00XX`).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `0x01` in every byte of a word.
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// `0x80` in every byte of a word.
const HIGH: u64 = ONES * 0x80;

/// A mask of `w`'s bytes (little-endian) that may need escaping in a JSON string (a control
/// character, `"` or `\\`): zero when none does, and otherwise its lowest set bit is the high
/// bit of the first byte that does. Bits above that one may be false positives (a borrow
/// runs upward), which is why only the lowest is used.
#[inline]
fn escape_mask(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x;
    (below(w, 0x20) | below(quote, 1) | below(backslash, 1)) & HIGH
}

/// The little-endian word of a slice of fewer than eight bytes, zero above them: read as
/// four, two and one bytes (no loop, no call).
#[inline]
fn short_word(mut tail: &[u8]) -> u64 {
    let mut w = 0u64;
    let mut shift = 0;
    if let Some((four, rest)) = tail.split_first_chunk::<4>() {
        w = u64::from(u32::from_le_bytes(*four));
        shift = 32;
        tail = rest;
    }
    if let Some((two, rest)) = tail.split_first_chunk::<2>() {
        w |= u64::from(u16::from_le_bytes(*two)) << shift;
        shift += 16;
        tail = rest;
    }
    if let Some(&one) = tail.first() {
        w |= u64::from(one) << shift;
    }
    w
}

/// The index of the first byte of `bytes` that needs escaping, if any: eight bytes at a
/// time, the last few as one short word.
#[inline]
fn first_escape(bytes: &[u8]) -> Option<usize> {
    let mut rest = bytes;
    let mut at = 0;
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        let mask = escape_mask(u64::from_le_bytes(*chunk));
        if mask != 0 {
            // The lowest flagged byte is exact.
            return Some(at + (mask.trailing_zeros() / 8) as usize);
        }
        at += 8;
        rest = tail;
    }
    let n = rest.len();
    if n == 0 {
        return None;
    }
    // The zeros above the `n` bytes would count as control characters: mask them off
    // (`n` is 1..=7, so the shift is in range).
    let mask = escape_mask(short_word(rest)) & ((1u64 << (8 * n)) - 1);
    (mask != 0).then(|| at + (mask.trailing_zeros() / 8) as usize)
}

/// Appends `s` as a JSON string literal.
pub(super) fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut rest = s;
    while let Some(i) = first_escape(rest.as_bytes()) {
        // Escaped bytes are ASCII, so `i` is a char boundary and the split always succeeds.
        let Some((run, tail)) = rest.split_at_checked(i) else {
            break;
        };
        out.push_str(run);
        let b = tail.as_bytes().first().copied().unwrap_or_default();
        match ESCAPE[b as usize] {
            b'u' => {
                out.push_str("\\u00");
                out.push(char::from(HEX[(b >> 4) as usize]));
                out.push(char::from(HEX[(b & 0xf) as usize]));
            }
            esc => {
                out.push('\\');
                out.push(char::from(esc));
            }
        }
        rest = tail.get(1..).unwrap_or_default();
    }
    out.push_str(rest);
    out.push('"');
}

/// Appends a finite number as a JSON number: integral values without a fraction.
fn write_f64(out: &mut String, v: f64) {
    if v.fract() == 0.0 && v.abs() < MAX_SAFE_INT {
        // Exact: |v| < 2^53 and integral.
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        // The same shortest round-trip formatting serde_json uses.
        out.push_str(zmij::Buffer::new().format_finite(v));
    }
}

/// Appends `"name":` for a tag name (no escaping needed).
fn key(out: &mut String, name: &str) {
    out.push('"');
    out.push_str(name);
    out.push_str("\":");
}

/// How many of a grid's `rows` the writer writes before it reserves room for the rest:
/// one in sixteen, and none for grids too small for growth to matter.
fn sample_rows(rows: usize) -> usize {
    if rows < 256 { usize::MAX } else { rows / 16 }
}

/// Reserves room for the rows of a grid still to be written, extrapolated from the first
/// `written` of `rows` (which took `out[start..]`), with an eighth to spare: growing by
/// doubling instead would copy the output several times over. Only a hint: when the
/// allocator refuses, the string grows as it would have.
fn reserve_for_rest(out: &mut String, start: usize, written: usize, rows: usize) {
    let per_row = (out.len() - start) / written.max(1) + 1;
    let rest = per_row.saturating_mul(rows - written);
    let _ = out.try_reserve(rest.saturating_add(rest / 8));
}

/// Writes values as JSON into a string.
pub(super) struct Writer<'a> {
    out: &'a mut String,
    scratch: String,
    v3: bool,
}

impl<'a> Writer<'a> {
    pub(super) fn new(out: &'a mut String, v3: bool) -> Self {
        Writer {
            out,
            scratch: String::new(),
            v3,
        }
    }

    fn kind_open(&mut self, kind: &str) {
        self.out.push_str("{\"_kind\":\"");
        self.out.push_str(kind);
        self.out.push('"');
    }

    fn number(&mut self, n: &Number) {
        let v = n.value();
        match n.unit() {
            None if v.is_finite() => write_f64(self.out, v),
            unit => {
                self.kind_open("number");
                self.out.push_str(",\"val\":");
                if v.is_nan() {
                    self.out.push_str("\"NaN\"");
                } else if v == f64::INFINITY {
                    self.out.push_str("\"INF\"");
                } else if v == f64::NEG_INFINITY {
                    self.out.push_str("\"-INF\"");
                } else {
                    write_f64(self.out, v);
                }
                if let Some(u) = unit {
                    self.out.push_str(",\"unit\":");
                    write_str(self.out, u);
                }
                self.out.push('}');
            }
        }
    }

    fn kind_val(&mut self, kind: &str, val: &str) {
        self.kind_open(kind);
        self.out.push_str(",\"val\":");
        write_str(self.out, val);
        self.out.push('}');
    }

    /// Appends one value.
    pub(super) fn value(&mut self, v: &Value) {
        if self.v3 {
            return self.value_v3(v);
        }
        match v {
            Value::Null => self.out.push_str("null"),
            Value::Marker => self.out.push_str("{\"_kind\":\"marker\"}"),
            Value::Na => self.out.push_str("{\"_kind\":\"na\"}"),
            Value::Remove => self.out.push_str("{\"_kind\":\"remove\"}"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => self.number(n),
            Value::Str(s) => write_str(self.out, s),
            Value::Uri(s) => self.kind_val("uri", s),
            Value::Symbol(s) => self.kind_val("symbol", s),
            Value::Ref(r) => {
                self.kind_open("ref");
                self.out.push_str(",\"val\":");
                write_str(self.out, r.id());
                if let Some(dis) = r.dis() {
                    self.out.push_str(",\"dis\":");
                    write_str(self.out, dis);
                }
                self.out.push('}');
            }
            Value::Date(d) => {
                self.kind_open("date");
                self.out.push_str(",\"val\":\"");
                zinc::write_date(self.out, *d);
                self.out.push_str("\"}");
            }
            Value::Time(t) => {
                self.kind_open("time");
                self.out.push_str(",\"val\":\"");
                zinc::write_time(self.out, *t);
                self.out.push_str("\"}");
            }
            Value::DateTime(dt) => {
                self.scratch.clear();
                zinc::write_datetime(&mut self.scratch, dt);
                let iso = self
                    .scratch
                    .split_once(' ')
                    .map_or(self.scratch.as_str(), |(i, _)| i);
                self.out.push_str("{\"_kind\":\"dateTime\",\"val\":");
                write_str(self.out, iso);
                self.out.push_str(",\"tz\":");
                write_str(self.out, dt.tz());
                self.out.push('}');
            }
            Value::Coord(c) => {
                self.kind_open("coord");
                self.out.push_str(",\"lat\":");
                write_f64(self.out, c.lat());
                self.out.push_str(",\"lng\":");
                write_f64(self.out, c.lng());
                self.out.push('}');
            }
            Value::XStr(x) => {
                self.kind_open("xstr");
                self.out.push_str(",\"type\":");
                write_str(self.out, x.kind());
                self.out.push_str(",\"val\":");
                write_str(self.out, x.value());
                self.out.push('}');
            }
            Value::List(items) => self.list(items),
            Value::Dict(d) => self.dict(d),
            Value::Grid(g) => self.grid(g),
        }
    }

    fn value_v3(&mut self, v: &Value) {
        match v {
            Value::Null => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::List(items) => self.list(items),
            Value::Dict(d) => self.dict(d),
            Value::Grid(g) => self.grid(g),
            Value::Str(s) if !s.contains(':') => write_str(self.out, s),
            scalar => {
                let text = super::v3::encode_scalar(scalar);
                write_str(self.out, &text);
            }
        }
    }

    /// One grid row as an object: the non-null cells under their column names.
    pub(super) fn row(&mut self, cols: &[Col], cells: &[Value]) {
        self.row_tags(cols, cells.iter().enumerate().filter(|(_, v)| !v.is_null()));
    }

    /// One grid row as an object from its tags (column position, value), in column order.
    pub(super) fn row_tags<'v>(
        &mut self,
        cols: &[Col],
        tags: impl Iterator<Item = (usize, &'v Value)>,
    ) {
        self.out.push('{');
        let mut first = true;
        for (c, v) in tags {
            let Some(col) = cols.get(c) else { continue };
            if !first {
                self.out.push(',');
            }
            first = false;
            key(self.out, col.name());
            self.value(v);
        }
        self.out.push('}');
    }

    fn list(&mut self, items: &[Value]) {
        self.out.push('[');
        for (i, v) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.value(v);
        }
        self.out.push(']');
    }

    /// The tags of a dict, without braces; `first` says whether a comma is needed before the
    /// first tag written. Returns whether any tag was written.
    fn tags(&mut self, d: &Dict, mut first: bool, skip: Option<&str>) -> bool {
        for (name, v) in d.iter() {
            if v.is_null() || Some(name) == skip {
                continue;
            }
            if !first {
                self.out.push(',');
            }
            first = false;
            key(self.out, name);
            self.value(v);
        }
        !first
    }

    fn dict(&mut self, d: &Dict) {
        self.out.push('{');
        self.tags(d, true, None);
        self.out.push('}');
    }

    fn grid(&mut self, g: &Grid) {
        if self.v3 {
            self.out.push_str("{\"meta\":{");
        } else {
            self.out.push_str("{\"_kind\":\"grid\",\"meta\":{");
        }
        let mut first = true;
        if g.meta().get("ver").is_none() {
            self.out.push_str("\"ver\":");
            write_str(self.out, GRID_VERSION);
            first = false;
        }
        self.tags(g.meta(), first, None);
        self.out.push_str("},\"cols\":[");
        for (i, c) in g.cols().iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str("{\"name\":");
            write_str(self.out, c.name());
            if self.v3 {
                self.tags(c.meta(), false, Some("name"));
            } else if !c.meta().is_empty() {
                self.out.push_str(",\"meta\":");
                self.dict(c.meta());
            }
            self.out.push('}');
        }
        self.out.push_str("],\"rows\":[");
        // Column keys prepared once: `"name":`.
        let keys: Vec<String> = g
            .cols()
            .iter()
            .map(|c| {
                let mut k = String::with_capacity(c.name().len() + 3);
                key(&mut k, c.name());
                k
            })
            .collect();
        let rows_start = self.out.len();
        let sample = sample_rows(g.len());
        for (r, row) in g.rows().enumerate() {
            if r > 0 {
                self.out.push(',');
                if r == sample {
                    reserve_for_rest(self.out, rows_start, r, g.len());
                }
            }
            self.out.push('{');
            let mut first = true;
            for (c, v) in row.entries() {
                let Some(k) = keys.get(c) else { continue };
                if !first {
                    self.out.push(',');
                }
                first = false;
                self.out.push_str(k);
                self.value(v);
            }
            self.out.push('}');
        }
        self.out.push_str("]}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_mask_finds_exactly_the_first_byte_the_table_escapes() {
        // Every byte value at every position of a word, among neighbours of every kind
        // (a borrow from one byte may only flag bytes above the first escaped one).
        for fill in [
            0x00u8, 0x01, 0x1f, 0x20, 0x21, b'"', b'#', b'\\', b']', b'a', 0x7f, 0x80, 0xff,
        ] {
            for pos in 0..8 {
                for b in 0..=255u8 {
                    let mut word = [fill; 8];
                    word[pos] = b;
                    let mask = escape_mask(u64::from_le_bytes(word));
                    let first = word.iter().position(|&x| ESCAPE[x as usize] != 0);
                    let flagged = (mask != 0).then(|| (mask.trailing_zeros() / 8) as usize);
                    assert_eq!(flagged, first, "{word:?}");
                }
            }
        }
    }

    #[test]
    fn write_str_matches_serde_json_for_strings_of_every_length() {
        let pieces = [
            "a", "\"", "\\", "\n", "\u{1}", "é", "€", "😀", "\u{7f}", " ",
        ];
        for len in 0..40usize {
            for (k, p) in pieces.iter().enumerate() {
                let s: String = (0..len)
                    .map(|i| if i % 7 == k % 7 { *p } else { "x" })
                    .collect();
                let mut out = String::new();
                write_str(&mut out, &s);
                let expected = serde_json::to_string(&s).unwrap_or_default();
                assert_eq!(out, expected, "{s:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn write_str_matches_serde_json(s in "(\\PC|[\\x00-\\x1f\"\\\\])*") {
            let mut out = String::from("prefix");
            write_str(&mut out, &s);
            let expected = serde_json::to_string(&s).unwrap_or_default();
            proptest::prop_assert_eq!(out.strip_prefix("prefix"), Some(expected.as_str()));
        }
    }
}
