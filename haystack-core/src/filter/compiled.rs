//! Evaluation of filters on dicts, and filters compiled against one grid's columns.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::eval::{Resolver, Seg, test, walk};
use super::select::{Bits, cost, eval_set};
use super::{CmpOp, Filter, Node, Path};
use crate::value::{Ref, Value};
use crate::{Dict, Grid, Row};

/// Where a path's first tag is found.
trait Source {
    fn cell(&self, col: usize) -> Option<&Value>;
    #[inline]
    fn first(&self, p: &CPath) -> Option<&Value> {
        p.col.and_then(|c| self.cell(c))
    }
    /// The whole row as a dict (for spec terms, which reflect it), given the column names.
    fn to_dict(&self, names: &[Arc<str>]) -> Dict;
}

/// A path compiled against a grid: its first tag as a column index (`None` when the grid has no
/// such column), and the names after the first.
#[derive(Debug, Clone)]
pub(super) struct CPath {
    pub(super) col: Option<usize>,
    pub(super) rest: Box<[Seg]>,
}

/// A test of one tag's value (the tag of one column, without `->`): comparisons, and their
/// `and`/`or` when several terms look at the same tag, so that one pass over the column
/// decides them all.
#[derive(Debug, Clone)]
pub(super) enum Pred {
    /// Any value (the tag is there).
    Any,
    /// `value op operand`.
    Cmp(CmpOp, Value),
    /// All of them hold.
    And(Box<[Pred]>),
    /// Any of them holds.
    Or(Box<[Pred]>),
}

impl Pred {
    /// Whether the (non-null) value `v` satisfies this.
    pub(super) fn test(&self, v: &Value) -> bool {
        match self {
            Pred::Any => true,
            Pred::Cmp(op, operand) => test(v, *op, operand),
            Pred::And(parts) => parts.iter().all(|p| p.test(v)),
            Pred::Or(parts) => parts.iter().any(|p| p.test(v)),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum CNode {
    Const(bool),
    Has(CPath),
    Missing(CPath),
    /// `path op value` with a `->` path.
    Cmp(CPath, CmpOp, Value),
    /// The row has a tag in the column and its value satisfies the test.
    Col(usize, Pred),
    And(Box<[CNode]>),
    Or(Box<[CNode]>),
    /// A spec term: the def it names in the standard namespace (`None`: no such def, never
    /// matches) and the grid's column names, to rebuild a row's dict.
    Spec(Option<Arc<str>>, Arc<[Arc<str>]>),
}

/// A [`Filter`] bound to the columns of one grid: tag names are resolved to column indexes once,
/// so evaluating a row costs only indexed loads and comparisons. Build with
/// [`Filter::compile_for`]; use it on rows of grids with the same columns.
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    root: CNode,
}

struct Cells<'a>(&'a [Value]);

impl Source for Cells<'_> {
    #[inline]
    fn cell(&self, col: usize) -> Option<&Value> {
        self.0.get(col)
    }

    fn to_dict(&self, names: &[Arc<str>]) -> Dict {
        let mut d = Dict::with_capacity(self.0.len());
        for (name, v) in names.iter().zip(self.0) {
            if !v.is_null() {
                d.insert_valid(name.clone(), v.clone());
            }
        }
        d
    }
}

impl Source for Row<'_> {
    #[inline]
    fn cell(&self, col: usize) -> Option<&Value> {
        Row::cell(self, col)
    }

    fn to_dict(&self, _names: &[Arc<str>]) -> Dict {
        Row::to_dict(self)
    }
}

#[inline]
fn has<S: Source, R: Resolver + ?Sized>(src: &S, p: &CPath, r: &R) -> bool {
    match src.first(p) {
        None | Some(Value::Null) => false,
        Some(v) if p.rest.is_empty() => !v.is_null(),
        Some(v) => walk(v, &p.rest, r, &mut |_| true),
    }
}

fn eval<S: Source, R: Resolver + ?Sized>(n: &CNode, src: &S, r: &R) -> bool {
    match n {
        CNode::Const(b) => *b,
        CNode::Has(p) => has(src, p, r),
        CNode::Missing(p) => !has(src, p, r),
        CNode::Col(col, pred) => match src.cell(*col) {
            None | Some(Value::Null) => false,
            Some(v) => pred.test(v),
        },
        CNode::Cmp(p, op, operand) => match src.first(p) {
            None | Some(Value::Null) => false,
            Some(v) if p.rest.is_empty() => test(v, *op, operand),
            Some(v) => walk(v, &p.rest, r, &mut |x| test(x, *op, operand)),
        },
        CNode::And(parts) => parts.iter().all(|p| eval(p, src, r)),
        CNode::Or(parts) => parts.iter().any(|p| eval(p, src, r)),
        CNode::Spec(None, _) => false,
        CNode::Spec(Some(def), names) => spec_fits(def, &src.to_dict(names)),
    }
}

/// Whether `dict` implements `def` in the standard namespace.
#[cfg(feature = "defs")]
pub(super) fn spec_fits(def: &str, dict: &Dict) -> bool {
    crate::defs::Namespace::standard().reflect(dict).fits(def)
}

#[cfg(not(feature = "defs"))]
pub(super) fn spec_fits(_def: &str, _dict: &Dict) -> bool {
    false
}

/// The def a spec names in the standard namespace.
#[cfg(feature = "defs")]
fn spec_symbol(spec: &super::Spec) -> Option<Arc<str>> {
    crate::defs::Namespace::standard()
        .spec_def(spec.lib(), spec.name())
        .map(|d| Arc::from(d.symbol()))
}

#[cfg(not(feature = "defs"))]
fn spec_symbol(_spec: &super::Spec) -> Option<Arc<str>> {
    None
}

fn compile(n: &Node, grid: &Grid) -> CNode {
    let path = |p: &Path, col: usize| CPath {
        col: Some(col),
        rest: p.names().iter().skip(1).map(|n| Seg::new(n)).collect(),
    };
    match n {
        Node::Has(p) => match grid.col_index(p.first()) {
            None => CNode::Const(false),
            Some(c) => CNode::Has(path(p, c)),
        },
        Node::Missing(p) => match grid.col_index(p.first()) {
            None => CNode::Const(true),
            Some(c) => CNode::Missing(path(p, c)),
        },
        Node::Cmp(p, op, v) => match grid.col_index(p.first()) {
            None => CNode::Const(false),
            Some(c) if p.names().len() == 1 => CNode::Col(c, Pred::Cmp(*op, v.clone())),
            Some(c) => CNode::Cmp(path(p, c), *op, v.clone()),
        },
        Node::And(parts) => join(parts, grid, true),
        Node::Or(parts) => join(parts, grid, false),
        Node::Spec(spec) => match spec_symbol(spec) {
            None => CNode::Const(false),
            def => CNode::Spec(
                def,
                grid.cols()
                    .iter()
                    .map(|c| c.shared_name().clone())
                    .collect(),
            ),
        },
    }
}

/// The parts of an `and` (`and` true) or `or`, compiled: constants folded, and the tests of
/// one tag (comparisons, and the tag itself beside them) joined into one [`CNode::Col`].
fn join(parts: &[Node], grid: &Grid, and: bool) -> CNode {
    let mut out: Vec<CNode> = Vec::with_capacity(parts.len());
    // Per column, the tests of that tag, and where in `out` they go.
    let mut groups: Vec<(usize, usize, Vec<Pred>)> = Vec::new();
    for p in parts {
        let (col, pred) = match compile(p, grid) {
            CNode::Const(b) if b == and => continue,
            CNode::Const(b) => return CNode::Const(b),
            CNode::Col(col, pred) => (col, pred),
            CNode::Has(CPath {
                col: Some(col),
                rest,
            }) if rest.is_empty() => (col, Pred::Any),
            c => {
                out.push(c);
                continue;
            }
        };
        match groups.iter_mut().find(|g| g.0 == col) {
            Some(g) => g.2.push(pred),
            None => {
                groups.push((col, out.len(), vec![pred]));
                // A placeholder, replaced below.
                out.push(CNode::Const(and));
            }
        }
    }
    for (col, at, mut preds) in groups {
        // The tag is there whenever one of its tests holds: `Any` adds nothing to an `and`
        // of other tests, and makes an `or` hold.
        let any = preds.iter().any(|p| matches!(p, Pred::Any));
        if and {
            preds.retain(|p| !matches!(p, Pred::Any));
        }
        if preds.is_empty() || (!and && any) {
            preds = vec![Pred::Any];
        }
        let node = match preds.len() {
            1 => match preds.pop() {
                Some(Pred::Any) | None => CNode::Has(CPath {
                    col: Some(col),
                    rest: Box::default(),
                }),
                Some(pred) => CNode::Col(col, pred),
            },
            _ if and => CNode::Col(col, Pred::And(preds.into())),
            _ => CNode::Col(col, Pred::Or(preds.into())),
        };
        if let Some(slot) = out.get_mut(at) {
            *slot = node;
        }
    }
    // Cheapest first: terms have no effects, so any order gives the same answer.
    out.sort_by_key(cost);
    match out.len() {
        0 => CNode::Const(and),
        1 => out.pop().unwrap_or(CNode::Const(and)),
        _ if and => CNode::And(out.into()),
        _ => CNode::Or(out.into()),
    }
}

impl CompiledFilter {
    /// Whether a row (its cells, one per column of the grid this was compiled for) matches.
    #[inline]
    pub fn matches_cells<R: Resolver + ?Sized>(&self, cells: &[Value], resolver: &R) -> bool {
        eval(&self.root, &Cells(cells), resolver)
    }

    /// Whether a row of a grid with the columns this was compiled for matches.
    #[inline]
    pub fn matches_row<R: Resolver + ?Sized>(&self, row: &Row<'_>, resolver: &R) -> bool {
        eval(&self.root, row, resolver)
    }

    /// The positions of the rows of `grid` that match, in order. `grid` must have the columns
    /// of the grid this filter was compiled for.
    ///
    /// The whole grid is evaluated at once, term by term over the grid's column view (built
    /// on first use and kept until the grid changes): a term looks only at the rows that have
    /// its tag and are still in question, and `->` paths from the same ref id are followed
    /// once. The terms of one tag in an `and`/`or` (`curVal >= 50°F and curVal < 60°F`) are
    /// decided in one pass over that column, from a compact key per tag (kept with the view:
    /// a number's value and unit, a string's length and first bytes, a ref's code per id) so
    /// that only lists and long strings with a matching prefix are looked at as values.
    /// The first filter over a column builds its keys (12 bytes per tag of the column, and a
    /// bit per row of the grid).
    pub fn select<'a, R: Resolver + ?Sized>(
        &'a self,
        grid: &'a Grid,
        resolver: &'a R,
    ) -> impl Iterator<Item = usize> + 'a {
        self.positions(grid, resolver).into_iter()
    }

    /// The positions of the matching rows of `grid`, ascending (what [`CompiledFilter::select`]
    /// gives, in one allocation).
    pub fn positions<R: Resolver + ?Sized>(&self, grid: &Grid, resolver: &R) -> Vec<usize> {
        match self.select_bits(grid, resolver) {
            Some(bits) => bits.to_vec(),
            None => grid
                .rows()
                .filter(|row| self.matches_row(row, resolver))
                .map(|row| row.index())
                .collect(),
        }
    }

    /// The matching rows as a set, or `None` when the grid has no column view (too large).
    fn select_bits<R: Resolver + ?Sized>(&self, grid: &Grid, resolver: &R) -> Option<Bits> {
        let cols = grid.columns()?;
        Some(eval_set(
            &self.root,
            grid,
            cols,
            &Bits::all(grid.len()),
            resolver,
        ))
    }

    /// The number of rows of `grid` that match.
    pub fn count<R: Resolver + ?Sized>(&self, grid: &Grid, resolver: &R) -> usize {
        match self.select_bits(grid, resolver) {
            Some(bits) => bits.count(),
            None => grid
                .rows()
                .filter(|row| self.matches_row(row, resolver))
                .count(),
        }
    }
}

/// Where a dict's tags are found.
struct DictSrc<'a>(&'a Dict);

fn has_dict<R: Resolver + ?Sized>(d: &Dict, p: &Path, r: &R) -> bool {
    match d.get(p.first()) {
        None | Some(Value::Null) => false,
        Some(v) => walk(v, p.names().get(1..).unwrap_or_default(), r, &mut |_| true),
    }
}

fn eval_dict<R: Resolver + ?Sized>(n: &Node, d: &DictSrc<'_>, r: &R) -> bool {
    match n {
        Node::Has(p) => has_dict(d.0, p, r),
        Node::Missing(p) => !has_dict(d.0, p, r),
        Node::Cmp(p, op, operand) => match d.0.get(p.first()) {
            None | Some(Value::Null) => false,
            Some(v) => walk(v, p.names().get(1..).unwrap_or_default(), r, &mut |x| {
                test(x, *op, operand)
            }),
        },
        Node::And(parts) => parts.iter().all(|p| eval_dict(p, d, r)),
        Node::Or(parts) => parts.iter().any(|p| eval_dict(p, d, r)),
        Node::Spec(spec) => spec_symbol(spec).is_some_and(|def| spec_fits(&def, d.0)),
    }
}

impl Filter {
    /// Whether `dict` matches; `->` paths follow nested dicts only (refs resolve to nothing).
    pub fn matches(&self, dict: &Dict) -> bool {
        self.matches_with(dict, &super::NoResolver)
    }

    /// Whether `dict` matches, following refs in `->` paths through `resolver`.
    pub fn matches_with<R: Resolver + ?Sized>(&self, dict: &Dict, resolver: &R) -> bool {
        eval_dict(&self.node, &DictSrc(dict), resolver)
    }

    /// This filter bound to the columns of `grid`, for fast evaluation over its rows.
    pub fn compile_for(&self, grid: &Grid) -> CompiledFilter {
        CompiledFilter {
            root: compile(&self.node, grid),
        }
    }

    /// The positions of the rows of `grid` that match, following refs through `resolver`
    /// (often a [`GridIndex`] of the same grid).
    pub fn select<R: Resolver + ?Sized>(&self, grid: &Grid, resolver: &R) -> Vec<usize> {
        self.compile_for(grid).positions(grid, resolver)
    }

    /// A grid of the rows of `grid` that match, with its meta and only the columns those
    /// rows use (so a filtered database carries its hits' tags, not every column).
    pub fn filter_grid<R: Resolver + ?Sized>(&self, grid: &Grid, resolver: &R) -> Grid {
        let compiled = self.compile_for(grid);
        grid.select_rows(compiled.positions(grid, resolver))
    }
}

/// A grid indexed by the `id` of its rows: the [`Resolver`] for filters over a grid of
/// entities, such as `equip and siteRef->geoCity == "Chicago"`.
#[derive(Debug, Clone)]
pub struct GridIndex<'g> {
    grid: &'g Grid,
    ids: hashbrown::HashMap<&'g str, usize>,
}

impl<'g> GridIndex<'g> {
    /// Indexes the rows of `grid` by their `id` Ref (rows without one are not indexed; with
    /// duplicate ids the last row wins).
    pub fn new(grid: &'g Grid) -> Self {
        let mut ids = hashbrown::HashMap::with_capacity(grid.len());
        if let Some(c) = grid.col_index("id") {
            for r in grid.rows() {
                if let Some(Value::Ref(id)) = r.cell(c) {
                    ids.insert(id.id(), r.index());
                }
            }
        }
        GridIndex { grid, ids }
    }

    /// The row with id `id`.
    pub fn row_of(&self, id: &str) -> Option<usize> {
        self.ids.get(id).copied()
    }

    /// The grid this indexes.
    pub fn grid(&self) -> &'g Grid {
        self.grid
    }
}

impl Resolver for GridIndex<'_> {
    fn tag(&self, id: &Ref, name: &str) -> Option<&Value> {
        let row = *self.ids.get(id.id())?;
        let col = self.grid.col_index(name)?;
        self.grid.cell(row, col).filter(|v| !v.is_null())
    }

    #[inline]
    fn tag_hinted(&self, id: &Ref, name: &str, hint: &AtomicUsize) -> Option<&Value> {
        let row = *self.ids.get(id.id())?;
        let h = hint.load(Ordering::Relaxed);
        let col = match self.grid.cols().get(h) {
            Some(c) if c.name() == name => h,
            _ => {
                let c = self.grid.col_index(name)?;
                hint.store(c, Ordering::Relaxed);
                c
            }
        };
        self.grid.cell(row, col).filter(|v| !v.is_null())
    }
}
