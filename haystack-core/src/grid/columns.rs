//! The column view of a grid's sparse rows: for each column, the rows that have a tag there
//! and where the tag is, in row order, and (built per column on first use) a compact key of
//! each of those tags for comparisons. Built on first use (by filters that select rows) and
//! dropped whenever the grid's rows or columns change.

use std::sync::{Arc, OnceLock};

use super::Grid;
use crate::Value;

/// For each column, the rows with a tag in it (ascending) and the positions of those tags in
/// the grid's value buffer: the transpose of the grid's per-row (column, value) pairs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Columns {
    /// Where each column's entries start in `rows`/`tags`; one more than the columns.
    starts: Vec<u32>,
    rows: Vec<u32>,
    tags: Vec<u32>,
    /// Each column's keys, built on first use.
    keys: Box<[OnceLock<Keys>]>,
}

/// The kinds of [`Keys::kinds`]: the top two bits of each; the rest is the payload.
pub(crate) mod kind {
    /// A Number; the payload is its unit's code ([`super::Keys::unit_code`], 0: no unit) and
    /// the word is the bits of its value.
    pub(crate) const NUM: u32 = 0;
    /// A Str; the payload is its length in bytes and the word its first (up to) 8 bytes,
    /// zero-padded, little-endian: strings of at most 8 bytes are equal exactly when both are.
    pub(crate) const STR: u32 = 1 << 30;
    /// A Ref; the word is a code per distinct id in the column (dense, from 0).
    pub(crate) const REF: u32 = 2 << 30;
    /// A list (or a number or string whose payload does not fit): look at the value.
    pub(crate) const OTHER: u32 = 3 << 30;
    /// Any other value (no number, string, ref or list): it never compares with a number or
    /// a string, so only `!=` such an operand holds.
    pub(crate) const UNLIKE: u32 = OTHER | 1;
    /// The largest payload.
    pub(crate) const MAX_PAYLOAD: u32 = (1 << 30) - 1;
}

/// A compact copy of what comparisons look at in each tag of one column, parallel to
/// [`Columns::rows`] of that column: a scan reads two arrays in order instead of the values
/// spread over the grid's buffer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Keys {
    /// Per tag: the kind ([`kind`]) and its payload.
    kinds: Vec<u32>,
    /// Per tag: the number's bits, the string's first bytes or the ref's code.
    words: Vec<u64>,
    /// The distinct units of the column's numbers; unit code `k` is `units[k - 1]`.
    units: Vec<Arc<str>>,
    /// The number of distinct ref ids in the column.
    refs: usize,
    /// The rows that have the tag, as a bit set over the grid's rows (64 per word).
    present: Vec<u64>,
}

impl Keys {
    /// The keys of a column's tags (`None`: a position outside the value buffer, never the
    /// case for a view built from its grid).
    fn build<'g>(
        values: impl ExactSizeIterator<Item = Option<&'g Value>>,
        rows: &[u32],
        nrows: usize,
    ) -> Keys {
        let mut present = vec![0u64; nrows.div_ceil(64)];
        for &r in rows {
            if let Some(w) = present.get_mut(r as usize / 64) {
                *w |= 1 << (r % 64);
            }
        }
        let mut kinds = Vec::with_capacity(values.len());
        let mut words = Vec::with_capacity(values.len());
        let mut units: Vec<Arc<str>> = Vec::new();
        let mut unit_codes: hashbrown::HashMap<&'g str, u32> = hashbrown::HashMap::new();
        let mut ref_codes: hashbrown::HashMap<&'g str, u64> = hashbrown::HashMap::new();
        // Readers share repeated units: most numbers have the last unit seen.
        let mut last_unit: Option<(&'g Arc<str>, u32)> = None;
        for v in values {
            let (k, w) = match v {
                Some(Value::Number(n)) => {
                    let code = match n.shared_unit() {
                        None => Some(0),
                        Some(u) => match last_unit {
                            Some((l, c)) if Arc::ptr_eq(l, u) => Some(c),
                            _ => {
                                let code = match unit_codes.get(&**u) {
                                    Some(&c) => Some(c),
                                    None => u32::try_from(units.len() + 1)
                                        .ok()
                                        .filter(|&c| c <= kind::MAX_PAYLOAD)
                                        .inspect(|&c| {
                                            unit_codes.insert(u, c);
                                            units.push(u.clone());
                                        }),
                                };
                                if let Some(c) = code {
                                    last_unit = Some((u, c));
                                }
                                code
                            }
                        },
                    };
                    match code {
                        Some(c) => (kind::NUM | c, n.value().to_bits()),
                        None => (kind::OTHER, 0),
                    }
                }
                Some(Value::Str(s)) => match u32::try_from(s.len()) {
                    Ok(len) if len <= kind::MAX_PAYLOAD => (kind::STR | len, str_prefix(s)),
                    _ => (kind::OTHER, 0),
                },
                Some(Value::Ref(r)) => {
                    let next = ref_codes.len() as u64;
                    let code = *ref_codes.entry(r.id()).or_insert(next);
                    (kind::REF, code)
                }
                Some(Value::List(_)) | None => (kind::OTHER, 0),
                Some(_) => (kind::UNLIKE, 0),
            };
            kinds.push(k);
            words.push(w);
        }
        Keys {
            kinds,
            words,
            units,
            refs: ref_codes.len(),
            present,
        }
    }

    /// Per tag of the column, in row order: its kind and payload ([`kind`]).
    #[inline]
    pub(crate) fn kinds(&self) -> &[u32] {
        &self.kinds
    }

    /// Per tag of the column, in row order: its word ([`kind`]).
    #[inline]
    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }

    /// The code the numbers of this column with unit `unit` have (0: no unit), or `None` when
    /// no number of the column has that unit.
    pub(crate) fn unit_code(&self, unit: Option<&str>) -> Option<u32> {
        let Some(unit) = unit else {
            return Some(0);
        };
        let i = self.units.iter().position(|u| &**u == unit)?;
        u32::try_from(i + 1).ok()
    }

    /// The rows that have the tag: a bit set over the grid's rows, 64 per word.
    #[inline]
    pub(crate) fn present(&self) -> &[u64] {
        &self.present
    }

    /// The number of distinct ref ids in the column (the codes of refs are below it).
    pub(crate) fn ref_count(&self) -> usize {
        self.refs
    }
}

/// The first (up to) 8 bytes of `s`, zero-padded, as a little-endian number.
#[inline]
pub(crate) fn str_prefix(s: &str) -> u64 {
    let mut b = [0u8; 8];
    let n = s.len().min(8);
    if let (Some(dst), Some(src)) = (b.get_mut(..n), s.as_bytes().get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_le_bytes(b)
}

impl Columns {
    /// The column view of `grid`, or `None` when its rows or tags do not fit `u32` positions.
    pub(crate) fn build(grid: &Grid) -> Option<Columns> {
        let ntags = u32::try_from(grid.values.len()).ok()?;
        u32::try_from(grid.ends.len()).ok()?;
        let ncols = grid.cols.len();
        let mut starts = vec![0u32; ncols + 1];
        for &c in &grid.tag_cols {
            // Tag columns are below `ncols` (checked when rows are added).
            if let Some(n) = starts.get_mut(c as usize + 1) {
                *n += 1;
            }
        }
        for i in 1..starts.len() {
            let prev = starts.get(i - 1).copied().unwrap_or(0);
            if let Some(s) = starts.get_mut(i) {
                *s += prev;
            }
        }
        let mut next: Vec<u32> = starts.clone();
        let mut rows = vec![0u32; ntags as usize];
        let mut tags = vec![0u32; ntags as usize];
        let mut start = 0usize;
        for (row, &end) in grid.ends.iter().enumerate() {
            for t in start..end {
                let Some(&c) = grid.tag_cols.get(t) else {
                    continue;
                };
                let Some(slot) = next.get_mut(c as usize) else {
                    continue;
                };
                let at = *slot as usize;
                *slot += 1;
                if let (Some(r), Some(p)) = (rows.get_mut(at), tags.get_mut(at)) {
                    // Both fit u32: checked above.
                    *r = row as u32;
                    *p = t as u32;
                }
            }
            start = end;
        }
        let keys = (0..ncols).map(|_| OnceLock::new()).collect();
        Some(Columns {
            starts,
            rows,
            tags,
            keys,
        })
    }

    /// The rows with a tag in column `col`, ascending.
    #[inline]
    pub(crate) fn rows(&self, col: usize) -> &[u32] {
        let (a, b) = self.span(col);
        self.rows.get(a..b).unwrap_or_default()
    }

    /// The positions in the grid's value buffer of the tags of column `col`, in row order.
    #[inline]
    pub(crate) fn tags(&self, col: usize) -> &[u32] {
        let (a, b) = self.span(col);
        self.tags.get(a..b).unwrap_or_default()
    }

    /// The keys of the tags of column `col` (parallel to [`Columns::rows`]), built on first
    /// use. `grid` must be the grid this view was built from.
    pub(crate) fn keys(&self, grid: &Grid, col: usize) -> Option<&Keys> {
        let cell = self.keys.get(col)?;
        Some(cell.get_or_init(|| {
            Keys::build(
                self.tags(col).iter().map(|&t| grid.values.get(t as usize)),
                self.rows(col),
                grid.len(),
            )
        }))
    }

    /// The value at position `tag` of `grid`'s value buffer (a position from
    /// [`Columns::tags`]).
    #[inline]
    pub(crate) fn value(grid: &Grid, tag: u32) -> Option<&Value> {
        grid.values.get(tag as usize)
    }

    #[inline]
    fn span(&self, col: usize) -> (usize, usize) {
        let a = self.starts.get(col).copied().unwrap_or(0) as usize;
        let b = self.starts.get(col + 1).copied().unwrap_or(0) as usize;
        (a, b.max(a))
    }
}
