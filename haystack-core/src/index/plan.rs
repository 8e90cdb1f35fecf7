//! The planner: which rows of an indexed grid a filter can match ([`Plan`]), and indexed
//! selection ([`Indexed::select`]).
//!
//! A plan narrows the rows to candidates, always a superset of the rows that match; what the
//! indexes do not answer exactly (the residual, [`Indexed::residual`]) is then evaluated on the
//! candidates alone, in row order, so the result is exactly the scan's. Answered exactly, so
//! never evaluated again: tag presence (`site`; in a namespace, a marker or spec term as the
//! union of the bitmaps of the tags that implement it), `tag == @id`, `tag == "text"` and
//! number ranges on a column without lists or dicts, and `and`/`or` of such terms. In an `and`, only the other
//! terms are evaluated on the intersection. How terms narrow:
//! - `tag`, `tag op value`, `tag->...`: the rows that have `tag` (a comparison or path needs it);
//! - `tag == @id`: the rows whose `tag` refers to `id` (reverse refs; `id == @x` is the id index);
//! - `tag == "text"`: the rows whose `tag` is that Str (string postings);
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

use std::borrow::Cow;

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
    /// The rows whose tag is the Str.
    Str {
        /// The Str tag.
        tag: String,
        /// The string.
        value: String,
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

/// Whether `n` has a term the postings answer (`tag == @id`, `tag == "text"`, or a comparison of a tag with a
/// Number other than `!=`): itself, one of the conjuncts of an `and`, or every part of an `or`.
fn has_posting_term(n: &Node) -> bool {
    match n {
        Node::Cmp(p, op, v) if p.names().len() == 1 => match v {
            Value::Ref(_) | Value::Str(_) => *op == CmpOp::Eq,
            Value::Number(_) => *op != CmpOp::Ne,
            _ => false,
        },
        Node::And(parts) => parts.iter().any(has_posting_term),
        Node::Or(parts) => !parts.is_empty() && parts.iter().all(has_posting_term),
        _ => false,
    }
}

/// Candidate rows: `None` is every row.
type Cands = Option<RoaringBitmap>;

/// A term's plan, its candidates, and whether the candidates are exactly its matches.
type Narrow = (Plan, Cands, bool);

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

    /// What [`Indexed::select`] evaluates on the candidates of `filter`: `None` when the
    /// indexes answer it exactly (the candidates are the result), else the terms of the
    /// filter they do not answer exactly (the whole filter when nothing narrows).
    pub fn residual(&self, filter: &Filter) -> Option<Filter> {
        if !self.usable {
            return Some(filter.clone());
        }
        let (_, cands, residual) = self.narrow(filter, None);
        match cands {
            None => Some(filter.clone()),
            Some(_) => residual.map(Cow::into_owned),
        }
    }

    /// The rows of the grid that match `filter` (following `->` through the grid's ids), in
    /// row order, at most `limit` of them: exactly the first `limit` rows a scan would find.
    ///
    /// Without a namespace, the compiled filter's column-wise scan (bit sets per tag) is as
    /// fast as bitmap intersections for tag terms, and faster than walking `->` through
    /// reverse refs; so the indexes serve only filters with a term their postings answer
    /// (`tag == @id`, `tag == "text"`, a number range: at the top, in a conjunct, or in every part of an `or`),
    /// measured by the criterion bench `index`.
    pub fn select(&self, filter: &Filter, limit: usize) -> Vec<usize> {
        if !self.usable {
            let ids = GridIndex::new(self.grid);
            let compiled = filter.compile_for(self.grid);
            return compiled.select(self.grid, &ids).take(limit).collect();
        }
        if !has_posting_term(filter.node()) {
            let compiled = filter.compile_for(self.grid);
            if limit >= self.grid.len() {
                // Every match: the scan's one-allocation form.
                return compiled.positions(self.grid, self);
            }
            return compiled.select(self.grid, self).take(limit).collect();
        }
        match self.narrow(filter, None) {
            // Nothing narrows: the compiled filter's own scan (column-wise where it can).
            (_, None, _) => {
                let compiled = filter.compile_for(self.grid);
                compiled.select(self.grid, self).take(limit).collect()
            }
            (_, Some(cands), None) => first(&cands, limit),
            (_, Some(cands), Some(residual)) => {
                self.run(&residual.compile_for(self.grid), Some(&cands), limit)
            }
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

    /// Like [`Indexed::residual`], for `filter` in `ns` (as [`Indexed::select_in`] runs it).
    #[cfg(feature = "defs")]
    pub fn residual_in(&self, filter: &Filter, ns: &crate::defs::Namespace) -> Option<Filter> {
        if !self.usable {
            return Some(filter.clone());
        }
        let (_, cands, residual) = self.narrow(filter, Some(ns));
        match cands {
            None => Some(filter.clone()),
            Some(_) => residual.map(Cow::into_owned),
        }
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
        Ok(self
            .select_in_within(filter, ns, limit, usize::MAX)?
            .unwrap_or_default())
    }

    /// [`Indexed::select_in`], unless it would cost more than `budget` rows: rows examined
    /// (every row for a scan, the candidates when a residual is evaluated on them) or rows
    /// returned, whichever bounds the work. `Ok(None)` then, having only planned: a caller
    /// can run cheap selections where it is (a server's async worker) and send the rest
    /// elsewhere (a blocking pool).
    ///
    /// ```
    /// use haystack_core::defs::Namespace;
    /// use haystack_core::filter::Filter;
    /// use haystack_core::index::Index;
    /// use haystack_core::{Dict, Grid, Value};
    ///
    /// let site = Dict::from_pairs([("site", Value::Marker), ("geoCity", Value::from("Paris"))])?;
    /// let other = Dict::from_pairs([("geoCity", Value::from("Paris"))])?;
    /// let grid = Grid::from_dicts(&[site, other]);
    /// let index = Index::new(&grid);
    /// let db = index.on(&grid);
    /// let ns = Namespace::standard();
    /// // One candidate (the site) to evaluate: within a budget of one row.
    /// let paris: Filter = r#"site and geoCity == "Paris""#.parse()?;
    /// assert_eq!(db.select_in_within(&paris, ns, 10, 1)?, Some(vec![0]));
    /// // A scan of both rows is over it.
    /// let scan: Filter = r#"geoCity == "Paris""#.parse()?;
    /// assert_eq!(db.select_in_within(&scan, ns, 10, 1)?, None);
    /// # Ok::<(), haystack_core::Error>(())
    /// ```
    #[cfg(feature = "defs")]
    pub fn select_in_within(
        &self,
        filter: &Filter,
        ns: &crate::defs::Namespace,
        limit: usize,
        budget: usize,
    ) -> crate::Result<Option<Vec<usize>>> {
        let all = self.grid.len();
        if !self.usable {
            if all > budget {
                return Ok(None);
            }
            let bound = filter.in_namespace(ns)?;
            let ids = GridIndex::new(self.grid);
            return Ok(Some(bound.select(self.grid, &ids).take(limit).collect()));
        }
        let narrowed = self.narrow(filter, Some(ns));
        let cost = match &narrowed {
            (_, None, _) => all,
            (_, Some(cands), None) => (cands.len() as usize).min(limit),
            (_, Some(cands), Some(_)) => cands.len() as usize,
        };
        if cost > budget {
            return Ok(None);
        }
        Ok(Some(match narrowed {
            (_, None, _) if !uses_namespace(filter.node(), ns) => self.select(filter, limit),
            (_, None, _) => self.run(&filter.in_namespace(ns)?, None, limit),
            (_, Some(cands), None) => {
                check_specs(filter.node(), ns)?;
                first(&cands, limit)
            }
            (_, Some(cands), Some(residual)) => {
                if matches!(residual, Cow::Owned(_)) {
                    // Terms left out of the residual still must name defs.
                    check_specs(filter.node(), ns)?;
                }
                if uses_namespace(residual.node(), ns) {
                    self.run(&residual.in_namespace(ns)?, Some(&cands), limit)
                } else {
                    // What is left compares values only: the compiled filter, without the
                    // namespace's lookups per row.
                    self.run(&residual.compile_for(self.grid), Some(&cands), limit)
                }
            }
        }))
    }

    /// The plan and candidates of `filter`, and what must still be evaluated on them (`None`:
    /// nothing, the candidates are the result; else the top-level terms the indexes do not
    /// answer exactly, or the whole filter).
    fn narrow<'f>(&self, filter: &'f Filter, ns: Ns<'_>) -> (Plan, Cands, Option<Cow<'f, Filter>>) {
        match filter.node() {
            Node::And(parts) => {
                let (plan, cands, exact, inexact) = self.and(parts, ns, None);
                let residual = if exact {
                    None
                } else if inexact.len() == parts.len() {
                    Some(Cow::Borrowed(filter))
                } else {
                    let rest = inexact.iter().filter_map(|&i| parts.get(i).cloned());
                    Some(Cow::Owned(Filter::all_of(rest.collect())))
                };
                (plan, cands, residual)
            }
            n => {
                let (plan, cands, exact) = self.node(n, ns, None);
                (plan, cands, (!exact).then_some(Cow::Borrowed(filter)))
            }
        }
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

    /// The plan and candidates of `n`, and whether the candidates are exactly the rows that
    /// match `n`. `budget` is the size of the best candidate set found so far by sibling terms
    /// of an `and`: a `->` term only goes through the reverse index when that is smaller.
    fn node(&self, n: &Node, ns: Ns<'_>, budget: Option<u64>) -> Narrow {
        match n {
            Node::Has(p) => {
                #[cfg(feature = "defs")]
                if let Some(ns) = ns
                    && p.names().len() == 1
                    && ns.fits(p.first(), "marker")
                {
                    let (rows, exact) = self.implied(ns, p.first());
                    return (Plan::Implied(p.first().to_owned()), Some(rows), exact);
                }
                let _ = ns;
                self.path_term(p, budget, |rest| Some(Filter::has(rest)))
            }
            Node::Missing(_) => (Plan::Scan, None, false),
            Node::Cmp(p, op, v) => {
                let Some(col) = self.grid.col_index(p.first()) else {
                    return (Plan::Nothing, Some(RoaringBitmap::new()), true);
                };
                if p.names().len() == 1 {
                    return self.cmp_term(p.first(), col, *op, v);
                }
                self.path_term(p, budget, |rest| Filter::cmp(rest, *op, v.clone()).ok())
            }
            Node::And(parts) => {
                let (plan, cands, exact, _) = self.and(parts, ns, budget);
                (plan, cands, exact)
            }
            Node::Or(parts) => {
                let mut plans = Vec::with_capacity(parts.len());
                let mut union = RoaringBitmap::new();
                let mut exact = true;
                for part in parts {
                    match self.node(part, ns, None) {
                        (_, None, _) => return (Plan::Scan, None, false),
                        (Plan::Nothing, _, _) => {}
                        (plan, Some(c), e) => {
                            union |= c;
                            exact &= e;
                            plans.push(plan);
                        }
                    }
                }
                match plans.len() {
                    0 => (Plan::Nothing, Some(union), true),
                    1 => (plans.pop().unwrap_or(Plan::Nothing), Some(union), exact),
                    _ => (Plan::Or(plans), Some(union), exact),
                }
            }
            Node::Spec(spec) => {
                #[cfg(feature = "defs")]
                if let Some(ns) = ns
                    && let Some(def) = ns.spec_def(spec.lib(), spec.name())
                {
                    let symbol = def.symbol().to_owned();
                    let (rows, exact) = self.implied(ns, &symbol);
                    return (Plan::Implied(symbol), Some(rows), exact);
                }
                let _ = spec;
                (Plan::Scan, None, false)
            }
        }
    }

    /// An `and`: its plan, candidates, whether they are exact, and the positions of the parts
    /// they do not answer exactly (to evaluate on them).
    fn and(
        &self,
        parts: &[Node],
        ns: Ns<'_>,
        budget: Option<u64>,
    ) -> (Plan, Cands, bool, Vec<usize>) {
        // Terms without `->` first: they are cheap, and the best of them bounds whether a path
        // term is worth the reverse index.
        let is_path =
            |n: &Node| matches!(n, Node::Has(p) | Node::Cmp(p, _, _) if p.names().len() > 1);
        let order = (0..parts.len())
            .filter(|&i| parts.get(i).is_some_and(|n| !is_path(n)))
            .chain((0..parts.len()).filter(|&i| parts.get(i).is_some_and(is_path)));
        let mut plans = Vec::new();
        let mut best: Cands = None;
        let mut inexact = Vec::new();
        for i in order {
            let Some(part) = parts.get(i) else { continue };
            let bound = best.as_ref().map(RoaringBitmap::len).or(budget);
            let (plan, c, exact) = self.node(part, ns, bound);
            let Some(c) = c else {
                inexact.push(i);
                continue;
            };
            if plan == Plan::Nothing || c.is_empty() {
                return (Plan::Nothing, Some(RoaringBitmap::new()), true, Vec::new());
            }
            if !exact {
                inexact.push(i);
            }
            best = Some(match best {
                None => c,
                Some(b) => b & c,
            });
            plans.push(plan);
        }
        inexact.sort_unstable();
        let exact = best.is_some() && inexact.is_empty();
        match plans.len() {
            0 => (Plan::Scan, None, false, inexact),
            1 => (plans.pop().unwrap_or(Plan::Scan), best, exact, inexact),
            _ => (Plan::And(plans), best, exact, inexact),
        }
    }

    /// A comparison on a tag of the row itself. Reverse refs and number ranges answer it
    /// exactly when the column holds no list or dict (a Ref compares by id; a Number only
    /// with a Number of the same unit; nothing else compares with either).
    fn cmp_term(&self, tag: &str, col: usize, op: CmpOp, v: &Value) -> Narrow {
        let nested = self.nested_of(col).filter(|n| !n.is_empty());
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
                    nested.is_none(),
                )
            }
            (CmpOp::Eq, Value::Str(s)) => {
                let rows = RoaringBitmap::from_sorted_iter(self.str_rows(col, s).iter().copied())
                    .unwrap_or_default();
                (
                    Plan::Str {
                        tag: tag.to_owned(),
                        value: s.to_string(),
                    },
                    Some(with_nested(rows)),
                    nested.is_none(),
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
                    nested.is_none(),
                )
            }
            _ => (
                Plan::Tag(tag.to_owned()),
                Some(self.tags_of(col).cloned().unwrap_or_default()),
                false,
            ),
        }
    }

    /// `tag` or `tag->rest ...`: the rows with `tag` (exactly `has tag`), or (for a path, when
    /// fewer rows can match the rest than have `tag`) the rows whose `tag` refers to the rows
    /// that match the rest.
    fn path_term(
        &self,
        p: &Path,
        budget: Option<u64>,
        rest_filter: impl FnOnce(Path) -> Option<Filter>,
    ) -> Narrow {
        let tag = p.first();
        let Some(col) = self.grid.col_index(tag) else {
            return (Plan::Nothing, Some(RoaringBitmap::new()), true);
        };
        let with_tag = self.tags_of(col).cloned().unwrap_or_default();
        let Some(rest) = p.names().get(1..).filter(|r| !r.is_empty()) else {
            return (Plan::Tag(tag.to_owned()), Some(with_tag), true);
        };
        let has_tag = with_tag.len();
        let plain = (Plan::Tag(tag.to_owned()), Some(with_tag), false);
        let Some(target) = Path::new(rest.iter().cloned()).ok().and_then(rest_filter) else {
            return plain;
        };
        let (target_plan, target_cands, target_exact) = self.node(target.node(), None, None);
        let target_size = target_cands
            .as_ref()
            .map_or(self.grid.len() as u64, RoaringBitmap::len);
        // Going through the reverse index costs evaluating the target candidates; worth it
        // only when there are fewer of them than rows that have the tag (or than the best
        // candidates a sibling term already found).
        if target_size >= has_tag.min(budget.unwrap_or(u64::MAX)) {
            return plain;
        }
        let targets: Vec<usize> = match (&target_cands, target_exact) {
            (Some(c), true) => c.iter().map(|t| t as usize).collect(),
            _ => self.run(
                &target.compile_for(self.grid),
                target_cands.as_ref(),
                usize::MAX,
            ),
        };
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
            false,
        )
    }

    /// The rows that implement `symbol` in `ns`, and whether exactly: any tag (a column of the
    /// grid) whose def fits it, or all the parts of a conjunct that fits it (exact only when
    /// every row with all the parts is implied by a tag too: the filter checks that the parts
    /// are markers).
    #[cfg(feature = "defs")]
    fn implied(&self, ns: &crate::defs::Namespace, symbol: &str) -> (RoaringBitmap, bool) {
        use crate::defs::DefKind;
        let mut out = RoaringBitmap::new();
        // The grid's columns, not every def: a tag def with no column has no rows.
        for (c, col) in self.grid.cols().iter().enumerate() {
            let name = col.name();
            if ns.def(name).is_some_and(|d| d.kind() == DefKind::Tag)
                && ns.fits(name, symbol)
                && let Some(rows) = self.tags_of(c)
            {
                out |= rows;
            }
        }
        let by_tag = out.clone();
        let mut exact = true;
        let conjuncts = ns.conjuncts().filter(|d| ns.fits(d.symbol(), symbol));
        for d in conjuncts {
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
            if let Some(a) = all.filter(|a| !a.is_empty()) {
                // Rows a tag already implies match whatever the conjunct's check says.
                exact &= a.is_subset(&by_tag);
                out |= a;
            }
        }
        (out, exact)
    }
}

/// The first `limit` candidates, as row positions.
fn first(cands: &RoaringBitmap, limit: usize) -> Vec<usize> {
    cands.iter().take(limit).map(|i| i as usize).collect()
}

/// Whether matching `n` in `ns` can differ from matching it plainly: it has a spec term, or a
/// marker term (which what implies the marker matches too), as [`Filter::in_namespace`] binds.
#[cfg(feature = "defs")]
fn uses_namespace(n: &Node, ns: &crate::defs::Namespace) -> bool {
    match n {
        Node::Spec(_) => true,
        Node::Has(p) | Node::Missing(p) => p.names().len() == 1 && ns.fits(p.first(), "marker"),
        Node::And(parts) | Node::Or(parts) => parts.iter().any(|p| uses_namespace(p, ns)),
        Node::Cmp(..) => false,
    }
}

/// Errors as [`Filter::in_namespace`] does for a spec term that names no def of `ns`.
#[cfg(feature = "defs")]
fn check_specs(n: &Node, ns: &crate::defs::Namespace) -> crate::Result<()> {
    match n {
        Node::Spec(spec) if ns.spec_def(spec.lib(), spec.name()).is_none() => Err(
            crate::Error::Invalid(format!("spec {spec} names no def of the namespace")),
        ),
        Node::And(parts) | Node::Or(parts) => parts.iter().try_for_each(|p| check_specs(p, ns)),
        _ => Ok(()),
    }
}
