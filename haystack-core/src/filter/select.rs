//! Set-at-a-time evaluation of a compiled filter over a whole grid: each term is evaluated
//! over the rows that have its first tag (the grid's column view), giving a bit set of the
//! matching rows. `and` narrows the rows its later terms look at, `or` skips the rows an
//! earlier term already matched. Comparisons read the column's keys (a number's value and
//! unit code, a string's length and first bytes, a ref's code) in order and decide every
//! tag without a branch on the data, looking at values only for lists (and long strings of
//! the operand's length and prefix); `and`/`or` of number comparisons of one tag become
//! intervals per unit, decided in one pass.

use super::CmpOp;
use super::compiled::{CNode, CPath, Pred, spec_fits};
use super::eval::{Resolver, test, walk};
use crate::grid::{Columns, Keys, kind, str_prefix};
use crate::{Grid, Value};

/// A set of row positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Bits {
    words: Vec<u64>,
    len: usize,
    /// Known to hold every row (so scans need not look): set by [`Bits::all`], cleared by
    /// every change.
    full: bool,
}

impl Bits {
    fn none(len: usize) -> Self {
        Bits {
            words: vec![0; len.div_ceil(64)],
            len,
            full: false,
        }
    }

    pub(super) fn all(len: usize) -> Self {
        let mut b = Bits {
            words: vec![u64::MAX; len.div_ceil(64)],
            len,
            full: true,
        };
        if let (Some(last), r @ 1..) = (b.words.last_mut(), len % 64) {
            *last = (1u64 << r) - 1;
        }
        b
    }

    #[inline]
    fn has(&self, i: usize) -> bool {
        (self.full && i < self.len)
            || self
                .words
                .get(i / 64)
                .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    /// `self ∩ words` (a bit set of the same rows, 64 per word).
    fn and_words(&mut self, words: &[u64]) {
        self.full = false;
        for (a, b) in self
            .words
            .iter_mut()
            .zip(words.iter().chain(std::iter::repeat(&0)))
        {
            *a &= b;
        }
    }

    /// `self \ words` (a bit set of the same rows, 64 per word).
    fn minus_words(&mut self, words: &[u64]) {
        self.full = false;
        for (a, b) in self.words.iter_mut().zip(words) {
            *a &= !b;
        }
    }

    #[inline]
    fn set(&mut self, i: usize) {
        if let Some(w) = self.words.get_mut(i / 64) {
            *w |= 1u64 << (i % 64);
        }
    }

    fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The number of rows in the set.
    pub(super) fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// `self \ other`.
    fn minus(&mut self, other: &Bits) {
        self.minus_words(&other.words);
    }

    /// `self ∪ other`.
    fn union(&mut self, other: &Bits) {
        self.full = false;
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// The rows in the set, ascending, in a vector of exactly their number.
    pub(super) fn to_vec(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.count());
        for (i, &w) in self.words.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                out.push(i * 64 + w.trailing_zeros() as usize);
                w &= w - 1;
            }
        }
        out
    }

    /// The rows in the set, ascending.
    pub(super) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(i * 64 + b)
            })
        })
    }
}

/// Adds rows in ascending order to a [`Bits`], a word at a time (no store per row).
struct Acc<'b> {
    out: &'b mut Bits,
    at: usize,
    word: u64,
}

impl<'b> Acc<'b> {
    fn new(out: &'b mut Bits) -> Self {
        out.full = false;
        Acc {
            out,
            at: 0,
            word: 0,
        }
    }

    /// Adds `row` (not below the rows added before) when `b` holds.
    #[inline]
    fn push(&mut self, row: usize, b: bool) {
        let at = row / 64;
        if at != self.at {
            self.flush();
            self.at = at;
        }
        self.word |= u64::from(b) << (row % 64);
    }

    #[inline]
    fn flush(&mut self) {
        if let Some(w) = self.out.words.get_mut(self.at) {
            *w |= self.word;
        }
        self.word = 0;
    }

    fn finish(mut self) {
        self.flush();
    }
}

/// One column of a grid, for passes over its tags: the rows that have it, where their values
/// are, and their keys.
struct ColScan<'g> {
    grid: &'g Grid,
    keys: &'g Keys,
    rows: &'g [u32],
    tags: &'g [u32],
}

impl<'g> ColScan<'g> {
    fn new(grid: &'g Grid, cols: &'g Columns, col: usize) -> Option<Self> {
        Some(ColScan {
            grid,
            keys: cols.keys(grid, col)?,
            rows: cols.rows(col),
            tags: cols.tags(col),
        })
    }

    /// The rows of `cand` whose tag satisfies `pred`: one pass per comparison, each on the
    /// rows still in question (as `and`/`or` of terms do).
    fn pred(&self, pred: &Pred, cand: &Bits) -> Bits {
        if matches!(pred, Pred::And(_) | Pred::Or(_))
            && let Some(terms) = ranges(pred, self.keys)
        {
            return self.num_ranges(cand, pred, &terms);
        }
        match pred {
            Pred::Any => {
                let mut out = cand.clone();
                out.and_words(self.keys.present());
                out
            }
            Pred::Cmp(op, operand) => self.cmp(*op, operand, cand),
            Pred::And(parts) => {
                let mut c = cand.clone();
                for p in parts.iter() {
                    if c.is_empty() {
                        break;
                    }
                    c = self.pred(p, &c);
                }
                c
            }
            Pred::Or(parts) => {
                let mut out = Bits::none(cand.len);
                let mut rest = cand.clone();
                for p in parts.iter() {
                    if rest.is_empty() {
                        break;
                    }
                    let hit = self.pred(p, &rest);
                    rest.minus(&hit);
                    out.union(&hit);
                }
                out
            }
        }
    }

    /// The rows of `cand` whose tag `v` satisfies `v op operand`.
    fn cmp(&self, op: CmpOp, operand: &Value, cand: &Bits) -> Bits {
        match operand {
            Value::Number(y) => {
                // Numbers of another unit never compare; no number of the column has the kind
                // word `u32::MAX`.
                let want = self
                    .keys
                    .unit_code(y.unit())
                    .map_or(u32::MAX, |c| kind::NUM | c);
                let y = y.value();
                match op {
                    CmpOp::Eq => self.num(cand, want, op, operand, |x| x == y),
                    CmpOp::Ne => self.num(cand, want, op, operand, |x| x != y),
                    CmpOp::Lt => self.num(cand, want, op, operand, |x| x < y),
                    CmpOp::Le => self.num(cand, want, op, operand, |x| x <= y),
                    CmpOp::Gt => self.num(cand, want, op, operand, |x| x > y),
                    CmpOp::Ge => self.num(cand, want, op, operand, |x| x >= y),
                }
            }
            Value::Str(s) if matches!(op, CmpOp::Eq | CmpOp::Ne) => match u32::try_from(s.len()) {
                Ok(len) if len <= kind::MAX_PAYLOAD => {
                    self.str_eq(cand, kind::STR | len, s, op, operand)
                }
                _ => self.values(cand, |v| test(v, op, operand)),
            },
            _ => self.values(cand, |v| test(v, op, operand)),
        }
    }

    /// A number comparison: `hit` on the value of numbers of kind word `want` (the operand's
    /// unit), `op`'s answer for values of other kinds and units without looking at them, and
    /// the values themselves for the rest (lists).
    #[inline(always)]
    fn num(
        &self,
        cand: &Bits,
        want: u32,
        op: CmpOp,
        operand: &Value,
        hit: impl Fn(f64) -> bool,
    ) -> Bits {
        let mut out = Bits::none(cand.len);
        // Values of other kinds and numbers of other units do not compare: only `!=` holds.
        let unlike = op == CmpOp::Ne;
        let entries = self
            .rows
            .iter()
            .zip(self.keys.kinds())
            .zip(self.keys.words())
            .zip(self.tags);
        // Every tag is decided (without branches on the data but for lists), then the answer
        // is cut to `cand`.
        let mut acc = Acc::new(&mut out);
        for (((&row, &k), &w), &tag) in entries {
            let row = row as usize;
            let same = k == want;
            let matched = if k == kind::OTHER {
                cand.has(row)
                    && Columns::value(self.grid, tag).is_some_and(|v| test(v, op, operand))
            } else {
                (same & hit(f64::from_bits(w))) | (!same & unlike)
            };
            acc.push(row, matched);
        }
        acc.finish();
        out.and_words(&cand.words);
        out
    }

    /// The rows of `cand` whose tag satisfies `pred`, an `and`/`or` of number comparisons
    /// that `terms` (from [`ranges`]) give: one pass, the values looked at only for lists.
    fn num_ranges(&self, cand: &Bits, pred: &Pred, terms: &[Range]) -> Bits {
        match *terms {
            [] => self.num_with(cand, pred, |_, _| false),
            [a] => self.num_with(cand, pred, |k, x| (k == a.want) & a.holds(x)),
            [a, b] => self.num_with(cand, pred, |k, x| {
                ((k == a.want) & a.holds(x)) | ((k == b.want) & b.holds(x))
            }),
            _ => self.num_with(cand, pred, |k, x| {
                terms.iter().any(|t| (k == t.want) & t.holds(x))
            }),
        }
    }

    /// The rows of `cand` whose tag satisfies `pred`, decided by `hit` on the kind word and
    /// the number (the word's bits as a float, whatever the kind), and by `pred` on the value
    /// for lists.
    #[inline(always)]
    fn num_with(&self, cand: &Bits, pred: &Pred, hit: impl Fn(u32, f64) -> bool) -> Bits {
        let mut out = Bits::none(cand.len);
        let entries = self
            .rows
            .iter()
            .zip(self.keys.kinds())
            .zip(self.keys.words())
            .zip(self.tags);
        let mut acc = Acc::new(&mut out);
        for (((&row, &k), &w), &tag) in entries {
            let row = row as usize;
            let matched = if k == kind::OTHER {
                cand.has(row) && Columns::value(self.grid, tag).is_some_and(|v| pred.test(v))
            } else {
                hit(k, f64::from_bits(w))
            };
            acc.push(row, matched);
        }
        acc.finish();
        out.and_words(&cand.words);
        out
    }

    /// `==` or `!=` a string `s` whose kind word is `want`: decided by length and first bytes,
    /// looking at the value only for longer strings of that length and prefix, and for the
    /// values keys do not cover (lists).
    fn str_eq(&self, cand: &Bits, want: u32, s: &str, op: CmpOp, operand: &Value) -> Bits {
        let mut out = Bits::none(cand.len);
        let prefix = str_prefix(s);
        let eq = op == CmpOp::Eq;
        let short = s.len() <= 8;
        let entries = self
            .rows
            .iter()
            .zip(self.keys.kinds())
            .zip(self.keys.words())
            .zip(self.tags);
        let mut acc = Acc::new(&mut out);
        for (((&row, &k), &w), &tag) in entries {
            let row = row as usize;
            let matched = if k == kind::OTHER {
                cand.has(row)
                    && Columns::value(self.grid, tag).is_some_and(|v| test(v, op, operand))
            } else {
                let key_same = (k == want) & (w == prefix);
                let same = if short || !key_same {
                    key_same
                } else {
                    cand.has(row)
                        && Columns::value(self.grid, tag).and_then(Value::as_str) == Some(s)
                };
                same == eq
            };
            acc.push(row, matched);
        }
        acc.finish();
        out.and_words(&cand.words);
        out
    }

    /// The rows of `cand` whose value satisfies `hit`.
    fn values(&self, cand: &Bits, hit: impl Fn(&Value) -> bool) -> Bits {
        let mut out = Bits::none(cand.len);
        for (&row, &tag) in self.rows.iter().zip(self.tags) {
            let row = row as usize;
            if cand.has(row) && Columns::value(self.grid, tag).is_some_and(&hit) {
                out.set(row);
            }
        }
        out
    }

    /// The rows of `cand` for which `hit` holds of the tag (a `->` path followed from it).
    /// The answer for a Ref is remembered by its id: it depends on nothing else, and the rows
    /// of one equip or site repeat the same refs.
    fn path(&self, cand: &Bits, hit: impl Fn(&Value) -> bool) -> Bits {
        let mut out = Bits::none(cand.len);
        // Per ref code: 0 not yet known, 1 no match, 2 match.
        let mut memo = vec![0u8; self.keys.ref_count()];
        let entries = self
            .rows
            .iter()
            .zip(self.keys.kinds())
            .zip(self.keys.words())
            .zip(self.tags);
        for (((&row, &k), &w), &tag) in entries {
            let row = row as usize;
            if !cand.has(row) {
                continue;
            }
            let value = || Columns::value(self.grid, tag).is_some_and(&hit);
            let slot = if k == kind::REF {
                usize::try_from(w).ok().and_then(|c| memo.get_mut(c))
            } else {
                None
            };
            let matched = match slot {
                Some(known @ 1..) => *known == 2,
                Some(slot) => {
                    let h = value();
                    *slot = 1 + u8::from(h);
                    h
                }
                None => value(),
            };
            if matched {
                out.set(row);
            }
        }
        out
    }
}

/// Numbers of one unit (the kind word `want`) in a closed interval `[lo, hi]`: a conjunction
/// of `<`, `<=`, `>`, `>=` and `==` comparisons of one unit (`x > y` is `x >= y.next_up()`).
/// A NaN bound holds of no number.
#[derive(Debug, Clone, Copy)]
struct Range {
    want: u32,
    lo: f64,
    hi: f64,
}

impl Range {
    /// The numbers `op y` for `y` of kind word `want`; `None` for `!=`, which is no interval.
    fn of(want: u32, op: CmpOp, y: f64) -> Option<Range> {
        let (lo, hi) = match op {
            CmpOp::Eq => (y, y),
            CmpOp::Ne => return None,
            // Nothing is above +INF or below -INF.
            CmpOp::Lt if y == f64::NEG_INFINITY => (f64::NAN, f64::NAN),
            CmpOp::Lt => (f64::NEG_INFINITY, y.next_down()),
            CmpOp::Le => (f64::NEG_INFINITY, y),
            CmpOp::Gt if y == f64::INFINITY => (f64::NAN, f64::NAN),
            CmpOp::Gt => (y.next_up(), f64::INFINITY),
            CmpOp::Ge => (y, f64::INFINITY),
        };
        Some(Range { want, lo, hi })
    }

    /// Both at once; `None` when no number is in both.
    fn and(self, other: Range) -> Option<Range> {
        let nan_or = |a: f64, b: f64, pick: fn(f64, f64) -> f64| {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                pick(a, b)
            }
        };
        let r = Range {
            want: self.want,
            lo: nan_or(self.lo, other.lo, f64::max),
            hi: nan_or(self.hi, other.hi, f64::min),
        };
        (self.want == other.want && r.lo <= r.hi).then_some(r)
    }

    /// Whether `x` is in the interval (never for NaN).
    #[inline]
    fn holds(&self, x: f64) -> bool {
        (x >= self.lo) & (x <= self.hi)
    }
}

/// The most [`Range`]s a test of one tag is turned into.
const MAX_RANGES: usize = 8;

/// `pred` as a union of [`Range`]s (a number satisfies `pred` exactly when it is in one of
/// them; a value of another kind never does), when it is an `and`/`or` of number comparisons
/// other than `!=` and gives at most [`MAX_RANGES`] of them. Units none of the column's
/// numbers have drop out.
fn ranges(pred: &Pred, keys: &Keys) -> Option<Vec<Range>> {
    match pred {
        Pred::Any => None,
        Pred::Cmp(op, Value::Number(y)) => match keys.unit_code(y.unit()) {
            // No number has that unit: nothing matches (but `!=`, which is no range).
            None => (*op != CmpOp::Ne).then(Vec::new),
            Some(c) => Range::of(kind::NUM | c, *op, y.value()).map(|r| vec![r]),
        },
        Pred::Cmp(..) => None,
        Pred::Or(parts) => {
            let mut out = Vec::new();
            for p in parts.iter() {
                out.extend(ranges(p, keys)?);
                if out.len() > MAX_RANGES {
                    return None;
                }
            }
            Some(out)
        }
        Pred::And(parts) => {
            let mut out: Option<Vec<Range>> = None;
            for p in parts.iter() {
                let next = ranges(p, keys)?;
                out = Some(match out {
                    None => next,
                    Some(prev) => {
                        let mut both = Vec::new();
                        for a in &prev {
                            for b in &next {
                                both.extend(a.and(*b));
                            }
                        }
                        if both.len() > MAX_RANGES {
                            return None;
                        }
                        both
                    }
                });
            }
            out
        }
    }
}

/// The rows of `cand` with a tag in column `col` that satisfies `pred`.
fn col_scan(grid: &Grid, cols: &Columns, col: usize, pred: &Pred, cand: &Bits) -> Bits {
    match ColScan::new(grid, cols, col) {
        Some(scan) => scan.pred(pred, cand),
        None => Bits::none(cand.len),
    }
}

/// The rows of `cand` with a tag in `p`'s first column for which `hit` holds of the tag.
fn path_scan(
    grid: &Grid,
    cols: &Columns,
    p: &CPath,
    cand: &Bits,
    hit: impl Fn(&Value) -> bool,
) -> Bits {
    match p.col.and_then(|c| ColScan::new(grid, cols, c)) {
        Some(scan) => scan.path(cand, hit),
        None => Bits::none(cand.len),
    }
}

/// The rows of `cand` that have `p` (its first tag, and the rest of the path from there).
fn has<R: Resolver + ?Sized>(grid: &Grid, cols: &Columns, p: &CPath, cand: &Bits, r: &R) -> Bits {
    if p.rest.is_empty() {
        return match p.col.and_then(|c| cols.keys(grid, c)) {
            Some(keys) => {
                let mut out = cand.clone();
                out.and_words(keys.present());
                out
            }
            None => Bits::none(cand.len),
        };
    }
    path_scan(grid, cols, p, cand, |v| walk(v, &p.rest, r, &mut |_| true))
}

/// The rows of `cand` that `n` matches.
pub(super) fn eval_set<R: Resolver + ?Sized>(
    n: &CNode,
    grid: &Grid,
    cols: &Columns,
    cand: &Bits,
    r: &R,
) -> Bits {
    match n {
        CNode::Const(true) => cand.clone(),
        CNode::Const(false) => Bits::none(cand.len),
        CNode::Has(p) => has(grid, cols, p, cand, r),
        CNode::Missing(p) => {
            let mut out = cand.clone();
            match p.col.and_then(|c| cols.keys(grid, c)) {
                Some(keys) if p.rest.is_empty() => out.minus_words(keys.present()),
                _ => out.minus(&has(grid, cols, p, cand, r)),
            }
            out
        }
        CNode::Col(col, pred) => col_scan(grid, cols, *col, pred, cand),
        CNode::Cmp(p, op, operand) => path_scan(grid, cols, p, cand, |v| {
            walk(v, &p.rest, r, &mut |x| test(x, *op, operand))
        }),
        CNode::And(parts) => {
            let mut c = cand.clone();
            for p in parts.iter() {
                if c.is_empty() {
                    break;
                }
                c = eval_set(p, grid, cols, &c, r);
            }
            c
        }
        CNode::Or(parts) => {
            let mut out = Bits::none(cand.len);
            let mut rest = cand.clone();
            for p in parts.iter() {
                if rest.is_empty() {
                    break;
                }
                let hit = eval_set(p, grid, cols, &rest, r);
                rest.minus(&hit);
                out.union(&hit);
            }
            out
        }
        CNode::Spec(None, _) => Bits::none(cand.len),
        CNode::Spec(Some(def), _) => {
            let mut out = Bits::none(cand.len);
            for i in cand.iter() {
                if grid
                    .row(i)
                    .is_some_and(|row| spec_fits(def, &row.to_dict()))
                {
                    out.set(i);
                }
            }
            out
        }
    }
}

/// A rough cost of evaluating `n` on one row: plain tags, then comparisons, then `->` paths,
/// then spec terms (which rebuild the row as a dict).
pub(super) fn cost(n: &CNode) -> u32 {
    match n {
        CNode::Const(_) => 0,
        CNode::Has(p) | CNode::Missing(p) if p.rest.is_empty() => 1,
        CNode::Col(..) => 2,
        CNode::Has(p) | CNode::Missing(p) | CNode::Cmp(p, ..) => 8 * p.rest.len() as u32,
        CNode::And(parts) | CNode::Or(parts) => parts.iter().map(cost).sum(),
        CNode::Spec(..) => 1000,
    }
}
