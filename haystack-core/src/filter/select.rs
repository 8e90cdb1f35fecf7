//! Set-at-a-time evaluation of a compiled filter over a whole grid: each term is evaluated
//! over the rows that have its first tag (the grid's column view), on the rows still in
//! question only, giving a bit set of the matching rows. `and` narrows the rows its later
//! terms look at, `or` skips the rows an earlier term already matched.

use std::cmp::Ordering;

use super::CmpOp;
use super::compiled::{CNode, CPath, spec_fits};
use super::eval::{Resolver, matches_ord, test, walk};
use crate::grid::Columns;
use crate::value::Number;
use crate::{Grid, Value};

/// A set of row positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    fn none(len: usize) -> Self {
        Bits {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    pub(super) fn all(len: usize) -> Self {
        let mut b = Bits {
            words: vec![u64::MAX; len.div_ceil(64)],
            len,
        };
        if let (Some(last), r @ 1..) = (b.words.last_mut(), len % 64) {
            *last = (1u64 << r) - 1;
        }
        b
    }

    #[inline]
    fn has(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
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
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// `self ∪ other`.
    fn union(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
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

/// Whether a `->` path matched from a Ref, remembered for the last refs seen (a small table
/// keyed by the ref's allocation): rows of one equip or site repeat the same refs, readers
/// share repeated refs, and the answer depends only on the ref's id.
struct Memo<'g> {
    slots: [Option<(&'g crate::Ref, bool)>; MEMO_SLOTS],
}

const MEMO_SLOTS: usize = 256;

impl<'g> Memo<'g> {
    fn new() -> Self {
        Memo {
            slots: [None; MEMO_SLOTS],
        }
    }

    #[inline]
    fn get(&mut self, v: &'g Value, eval: impl FnOnce() -> bool) -> bool {
        let Value::Ref(r) = v else {
            return eval();
        };
        let i = (r.text_addr() >> 4) % MEMO_SLOTS;
        let Some(slot) = self.slots.get_mut(i) else {
            return eval();
        };
        if let Some((last, hit)) = *slot
            && last.shares_text(r)
        {
            return hit;
        }
        let hit = eval();
        *slot = Some((r, hit));
        hit
    }
}

/// A comparison of numbers to one operand, remembering the last unit found equal to the
/// operand's (readers share repeated units, so most checks are one pointer comparison).
struct NumCmp<'a, 'g> {
    y: &'a Number,
    op: CmpOp,
    same_unit: Option<&'g std::sync::Arc<str>>,
}

impl<'a, 'g> NumCmp<'a, 'g> {
    fn new(y: &'a Number, op: CmpOp) -> Self {
        NumCmp {
            y,
            op,
            same_unit: None,
        }
    }

    #[inline]
    fn test(&mut self, x: &'g Number) -> bool {
        let same = match (x.shared_unit(), self.y.shared_unit()) {
            (None, None) => true,
            (Some(u), Some(w)) => {
                if self.same_unit.is_some_and(|k| std::sync::Arc::ptr_eq(k, u)) {
                    true
                } else if u == w {
                    self.same_unit = Some(u);
                    true
                } else {
                    false
                }
            }
            _ => false,
        };
        let ord = if same {
            x.value().partial_cmp(&self.y.value())
        } else {
            None
        };
        matches_ord(ord, self.op)
    }
}

/// Rows of `cand` that have `p`'s first tag and for which `keep` holds of it.
fn scan<'g>(
    grid: &'g Grid,
    cols: &'g Columns,
    p: &CPath,
    cand: &Bits,
    mut keep: impl FnMut(&'g Value) -> bool,
) -> Bits {
    let mut out = Bits::none(cand.len);
    let Some(col) = p.col else {
        return out;
    };
    for (row, v) in cols.entries(grid, col) {
        if cand.has(row) && keep(v) {
            out.set(row);
        }
    }
    out
}

/// The rows of `cand` that have `p` (its first tag, and the rest of the path from there).
fn has<R: Resolver + ?Sized>(grid: &Grid, cols: &Columns, p: &CPath, cand: &Bits, r: &R) -> Bits {
    if p.rest.is_empty() {
        let mut out = Bits::none(cand.len);
        if let Some(col) = p.col {
            for &row in cols.rows(col) {
                if cand.has(row as usize) {
                    out.set(row as usize);
                }
            }
        }
        return out;
    }
    let mut memo = Memo::new();
    scan(grid, cols, p, cand, |v| {
        memo.get(v, || walk(v, &p.rest, r, &mut |_| true))
    })
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
            out.minus(&has(grid, cols, p, cand, r));
            out
        }
        CNode::Cmp(p, op, operand @ Value::Number(y)) if p.rest.is_empty() => {
            let mut num = NumCmp::new(y, *op);
            scan(grid, cols, p, cand, |v| match v {
                Value::Number(x) => num.test(x),
                _ => test(v, *op, operand),
            })
        }
        CNode::Cmp(p, op, operand) if p.rest.is_empty() => {
            scan(grid, cols, p, cand, |v| test(v, *op, operand))
        }
        CNode::Cmp(p, op, operand) => {
            let mut memo = Memo::new();
            scan(grid, cols, p, cand, |v| {
                memo.get(v, || walk(v, &p.rest, r, &mut |x| test(x, *op, operand)))
            })
        }
        CNode::And(parts) => {
            let mut c = cand.clone();
            for p in cheapest_first(parts) {
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
            for p in cheapest_first(parts) {
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
fn cost(n: &CNode) -> u32 {
    match n {
        CNode::Const(_) => 0,
        CNode::Has(p) | CNode::Missing(p) if p.rest.is_empty() => 1,
        CNode::Cmp(p, ..) if p.rest.is_empty() => 2,
        CNode::Has(p) | CNode::Missing(p) | CNode::Cmp(p, ..) => 8 * p.rest.len() as u32,
        CNode::And(parts) | CNode::Or(parts) => parts.iter().map(cost).sum(),
        CNode::Spec(..) => 1000,
    }
}

/// The terms of an `and`/`or` in the order to evaluate them (the result is the same in any
/// order: terms have no effects).
fn cheapest_first(parts: &[CNode]) -> Vec<&CNode> {
    let mut v: Vec<&CNode> = parts.iter().collect();
    v.sort_by(|a, b| cost(a).cmp(&cost(b)).then(Ordering::Equal));
    v
}
