//! The planner: which rows of an indexed grid a filter can match ([`Plan`]), and indexed
//! selection ([`Indexed::select`]).
//!
//! A plan narrows the rows to candidates, always a superset of the rows that match; the whole
//! filter is then evaluated on the candidates alone, in row order, so the result is exactly the
//! scan's. How terms narrow:
//! - `tag`, `tag op value`, `tag->...`: the rows that have `tag` (a comparison or path needs it);
//! - `tag == @id`: the rows whose `tag` refers to `id` (reverse refs; `id == @x` is the id index);
//! - `tag op 12°F` (`<`, `<=`, `==`, `>=`, `>`): the numbers of `tag` with that unit, by range;
//! - `tag->rest op value`: when fewer rows can match `rest op value` than have `tag`, the rows
//!   that match it (found with a plan of their own) and then the rows whose `tag` refers to
//!   them;
//! - in a namespace ([`Indexed::select_in`]), a lone marker `equip` or a spec `Ahu`: the rows
//!   with any tag that implements the def, or all the parts of a conjunct that does;
//! - `and`: the intersection of its narrowing terms; `or`: the union of its terms (a term that
//!   does not narrow makes the whole `or` a scan); `not path`: no narrowing.
//!
//! Values inside lists and dicts stay candidates of every term on their column (a list matches
//! when any element does; `->` walks into dicts).

use roaring::RoaringBitmap;

use super::Indexed;
use crate::Number;
use crate::filter::{CmpOp, Filter, GridIndex, Node, Path};
use crate::value::Value;

/// How an indexed selection finds the candidate rows of a filter (see the [module
/// docs](self)); [`Indexed::plan`] gives it, for inspection and tests.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Plan {
    /// Every row is a candidate: nothing indexed narrows the filter.
    Scan,
    /// No row can match (the grid has no column the term needs).
    Nothing,
    /// The rows that have the tag.
    Tag(String),
    /// The rows that implement the def (a marker or spec term in a namespace).
    Implied(String),
    /// The rows whose tag is a Ref to the id.
    Ref {
        /// The Ref tag (`siteRef`; `id` for the id index).
        tag: String,
        /// The id referred to.
        id: String,
    },
    /// The rows whose tag is a Number in the range (same unit).
    Range {
        /// The Number tag.
        tag: String,
        /// The comparison.
        op: CmpOp,
        /// The operand.
        value: Number,
    },
    /// The rows whose tag refers to a row matching the rest of the path (found by `target`).
    Through {
        /// The Ref tag the path starts with.
        tag: String,
        /// The plan of the rest of the path, evaluated over the referred-to rows.
        target: Box<Plan>,
    },
    /// The intersection of the narrowing terms of an `and`.
    And(Vec<Plan>),
    /// The union of the terms of an `or`.
    Or(Vec<Plan>),
}

/// Candidate rows: `None` is every row.
type Cands = Option<RoaringBitmap>;

/// Evaluates the whole filter on one row.
trait Matcher {
    fn hit(&self, row: &crate::Row<'_>, resolver: &Indexed<'_>) -> bool;
}

impl Matcher for crate::filter::CompiledFilter {
    fn hit(&self, row: &crate::Row<'_>, resolver: &Indexed<'_>) -> bool {
        self.matches_row(row, resolver)
    }
}

#[cfg(feature = "defs")]
impl Matcher for crate::filter::NamespaceFilter<'_> {
    fn hit(&self, row: &crate::Row<'_>, resolver: &Indexed<'_>) -> bool {
        self.matches_row(row, resolver)
    }
}

/// The namespace a plan is made in, if any.
#[cfg(feature = "defs")]
type Ns<'n> = Option<&'n crate::defs::Namespace>;
#[cfg(not(feature = "defs"))]
type Ns<'n> = Option<&'n std::convert::Infallible>;

impl<'a> Indexed<'a> {
    /// How [`Indexed::select`] finds the candidates of `filter`.
    pub fn plan(&self, filter: &Filter) -> Plan {
        if !self.usable {
            return Plan::Scan;
        }
        self.node(filter.node(), None, None).0
    }

    /// The rows of the grid that match `filter` (following `->` through the grid's ids), in
    /// row order, at most `limit` of them: exactly the first `limit` rows a scan would find.
    pub fn select(&self, filter: &Filter, limit: usize) -> Vec<usize> {
        let compiled = filter.compile_for(self.grid);
        if !self.usable {
            let ids = GridIndex::new(self.grid);
            return compiled.select(self.grid, &ids).take(limit).collect();
        }
        match self.node(filter.node(), None, None) {
            // Nothing narrows: the compiled filter's own scan (column-wise where it can).
            (_, None) => compiled.select(self.grid, self).take(limit).collect(),
            (_, Some(cands)) => self.run(&compiled, Some(&cands), limit),
        }
    }

    /// How [`Indexed::select_in`] finds the candidates of `filter` in `ns`.
    #[cfg(feature = "defs")]
    pub fn plan_in(&self, filter: &Filter, ns: &crate::defs::Namespace) -> Plan {
        if !self.usable {
            return Plan::Scan;
        }
        self.node(filter.node(), Some(ns), None).0
    }

    /// Like [`Indexed::select`], for `filter` bound to `ns` ([`Filter::in_namespace`]: spec
    /// terms, and marker terms matched by what implies them). Errors as `in_namespace` does.
    #[cfg(feature = "defs")]
    pub fn select_in(
        &self,
        filter: &Filter,
        ns: &crate::defs::Namespace,
        limit: usize,
    ) -> crate::Result<Vec<usize>> {
        let bound = filter.in_namespace(ns)?;
        if !self.usable {
            let ids = GridIndex::new(self.grid);
            return Ok(bound.select(self.grid, &ids).take(limit).collect());
        }
        let (_, cands) = self.node(filter.node(), Some(ns), None);
        Ok(self.run(&bound, cands.as_ref(), limit))
    }

    fn run<M: Matcher>(&self, m: &M, cands: Option<&RoaringBitmap>, limit: usize) -> Vec<usize> {
        let mut out = Vec::new();
        if limit == 0 {
            return out;
        }
        let mut test = |i: usize| -> bool {
            if let Some(row) = self.grid.row(i)
                && m.hit(&row, self)
            {
                out.push(i);
            }
            out.len() >= limit
        };
        match cands {
            None => {
                for i in 0..self.grid.len() {
                    if test(i) {
                        break;
                    }
                }
            }
            Some(c) => {
                for i in c {
                    if test(i as usize) {
                        break;
                    }
                }
            }
        }
        out
    }

    /// The plan and candidates of `n`. `budget` is the size of the best candidate set found so
    /// far by sibling terms of an `and`: a `->` term only goes through the reverse index when
    /// that is smaller.
    fn node(&self, n: &Node, ns: Ns<'_>, budget: Option<u64>) -> (Plan, Cands) {
        match n {
            Node::Has(p) => {
                #[cfg(feature = "defs")]
                if let Some(ns) = ns
                    && p.names().len() == 1
                    && ns.fits(p.first(), "marker")
                {
                    return (
                        Plan::Implied(p.first().to_owned()),
                        Some(self.implied(ns, p.first())),
                    );
                }
                let _ = ns;
                self.path_term(p, budget, |rest| Some(Filter::has(rest)))
            }
            Node::Missing(_) => (Plan::Scan, None),
            Node::Cmp(p, op, v) => {
                let Some(col) = self.grid.col_index(p.first()) else {
                    return (Plan::Nothing, Some(RoaringBitmap::new()));
                };
                if p.names().len() == 1 {
                    return self.cmp_term(p.first(), col, *op, v);
                }
                self.path_term(p, budget, |rest| Filter::cmp(rest, *op, v.clone()).ok())
            }
            Node::And(parts) => self.and(parts, ns, budget),
            Node::Or(parts) => {
                let mut plans = Vec::with_capacity(parts.len());
                let mut union = RoaringBitmap::new();
                for part in parts {
                    match self.node(part, ns, None) {
                        (_, None) => return (Plan::Scan, None),
                        (Plan::Nothing, _) => {}
                        (plan, Some(c)) => {
                            union |= c;
                            plans.push(plan);
                        }
                    }
                }
                match plans.len() {
                    0 => (Plan::Nothing, Some(union)),
                    1 => (plans.pop().unwrap_or(Plan::Nothing), Some(union)),
                    _ => (Plan::Or(plans), Some(union)),
                }
            }
            Node::Spec(spec) => {
                #[cfg(feature = "defs")]
                if let Some(ns) = ns
                    && let Some(def) = ns.spec_def(spec.lib(), spec.name())
                {
                    let symbol = def.symbol().to_owned();
                    let rows = self.implied(ns, &symbol);
                    return (Plan::Implied(symbol), Some(rows));
                }
                let _ = spec;
                (Plan::Scan, None)
            }
        }
    }

    fn and(&self, parts: &[Node], ns: Ns<'_>, budget: Option<u64>) -> (Plan, Cands) {
        // Terms without `->` first: they are cheap, and the best of them bounds whether a path
        // term is worth the reverse index.
        let (simple, paths): (Vec<&Node>, Vec<&Node>) = parts
            .iter()
            .partition(|n| !matches!(n, Node::Has(p) | Node::Cmp(p, _, _) if p.names().len() > 1));
        let mut plans = Vec::new();
        let mut best: Cands = None;
        for part in simple.into_iter().chain(paths) {
            let bound = best.as_ref().map(RoaringBitmap::len).or(budget);
            let (plan, c) = self.node(part, ns, bound);
            let Some(c) = c else { continue };
            if plan == Plan::Nothing || c.is_empty() {
                return (Plan::Nothing, Some(RoaringBitmap::new()));
            }
            best = Some(match best {
                None => c,
                Some(b) => b & c,
            });
            plans.push(plan);
        }
        match plans.len() {
            0 => (Plan::Scan, None),
            1 => (plans.pop().unwrap_or(Plan::Scan), best),
            _ => (Plan::And(plans), best),
        }
    }

    /// A comparison on a tag of the row itself.
    fn cmp_term(&self, tag: &str, col: usize, op: CmpOp, v: &Value) -> (Plan, Cands) {
        let nested = self.nested_of(col);
        let with_nested = |mut rows: RoaringBitmap| {
            if let Some(n) = nested {
                rows |= n;
            }
            rows
        };
        match (op, v) {
            (CmpOp::Eq, Value::Ref(r)) => {
                let rows =
                    RoaringBitmap::from_sorted_iter(self.ref_rows(col, r.id()).iter().copied())
                        .unwrap_or_default();
                (
                    Plan::Ref {
                        tag: tag.to_owned(),
                        id: r.id().to_owned(),
                    },
                    Some(with_nested(rows)),
                )
            }
            (_, Value::Number(n)) if op != CmpOp::Ne => {
                let rows = match self.numbers_of(col) {
                    Some(nums) => nums.rows(n.unit(), op, n.value()).unwrap_or_default(),
                    None => RoaringBitmap::new(),
                };
                (
                    Plan::Range {
                        tag: tag.to_owned(),
                        op,
                        value: n.clone(),
                    },
                    Some(with_nested(rows)),
                )
            }
            _ => (
                Plan::Tag(tag.to_owned()),
                Some(self.tags_of(col).cloned().unwrap_or_default()),
            ),
        }
    }

    /// `tag` or `tag->rest ...`: the rows with `tag`, or (for a path, when fewer rows can match
    /// the rest than have `tag`) the rows whose `tag` refers to the rows that match the rest.
    fn path_term(
        &self,
        p: &Path,
        budget: Option<u64>,
        rest_filter: impl FnOnce(Path) -> Option<Filter>,
    ) -> (Plan, Cands) {
        let tag = p.first();
        let Some(col) = self.grid.col_index(tag) else {
            return (Plan::Nothing, Some(RoaringBitmap::new()));
        };
        let with_tag = self.tags_of(col).cloned().unwrap_or_default();
        let plain = (Plan::Tag(tag.to_owned()), Some(with_tag));
        let Some(rest) = p.names().get(1..).filter(|r| !r.is_empty()) else {
            return plain;
        };
        let has_tag = plain.1.as_ref().map_or(0, RoaringBitmap::len);
        let Some(target) = Path::new(rest.iter().cloned()).ok().and_then(rest_filter) else {
            return plain;
        };
        let (target_plan, target_cands) = self.node(target.node(), None, None);
        let target_size = target_cands
            .as_ref()
            .map_or(self.grid.len() as u64, RoaringBitmap::len);
        // Going through the reverse index costs evaluating the target candidates; worth it
        // only when there are fewer of them than rows that have the tag (or than the best
        // candidates a sibling term already found).
        if target_size >= has_tag.min(budget.unwrap_or(u64::MAX)) {
            return plain;
        }
        let compiled = target.compile_for(self.grid);
        let targets = self.run(&compiled, target_cands.as_ref(), usize::MAX);
        let mut rows = RoaringBitmap::new();
        for t in targets {
            let Some(id) = u32::try_from(t).ok().and_then(|t| self.id_at(t)) else {
                continue;
            };
            rows.extend(self.ref_rows(col, id.id()).iter().copied());
        }
        if let Some(n) = self.nested_of(col) {
            rows |= n;
        }
        (
            Plan::Through {
                tag: tag.to_owned(),
                target: Box::new(target_plan),
            },
            Some(rows),
        )
    }

    /// The rows that implement `symbol` in `ns`: any tag whose def fits it, or all the parts of
    /// a conjunct that fits it (the parts' marker check is left to the filter).
    #[cfg(feature = "defs")]
    fn implied(&self, ns: &crate::defs::Namespace, symbol: &str) -> RoaringBitmap {
        use crate::defs::DefKind;
        let mut out = RoaringBitmap::new();
        for d in ns.defs().filter(|d| ns.fits(d.symbol(), symbol)) {
            match d.kind() {
                DefKind::Tag => {
                    if let Some(rows) = self
                        .grid
                        .col_index(d.symbol())
                        .and_then(|c| self.tags_of(c))
                    {
                        out |= rows;
                    }
                }
                DefKind::Conjunct => {
                    let mut all: Option<RoaringBitmap> = None;
                    for part in d.parts() {
                        let rows = self
                            .grid
                            .col_index(part)
                            .and_then(|c| self.tags_of(c))
                            .cloned()
                            .unwrap_or_default();
                        all = Some(match all {
                            None => rows,
                            Some(a) => a & rows,
                        });
                    }
                    if let Some(a) = all {
                        out |= a;
                    }
                }
                DefKind::Key => {}
            }
        }
        out
    }
}
