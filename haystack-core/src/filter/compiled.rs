//! Evaluation of filters on dicts, and filters compiled against one grid's columns.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::eval::{Resolver, Seg, test, walk};
use super::select::{Bits, eval_set};
use super::{CmpOp, Filter, Node, Path};
use crate::value::{Ref, Value};
use crate::{Dict, Grid, Row};

/// Where a path's first tag is found.
trait Source {
    fn first(&self, p: &CPath) -> Option<&Value>;
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

#[derive(Debug, Clone)]
pub(super) enum CNode {
    Const(bool),
    Has(CPath),
    Missing(CPath),
    Cmp(CPath, CmpOp, Value),
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
    fn first(&self, p: &CPath) -> Option<&Value> {
        p.col.and_then(|c| self.0.get(c))
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
    fn first(&self, p: &CPath) -> Option<&Value> {
        p.col.and_then(|c| self.cell(c))
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
    let path = |p: &Path| CPath {
        col: grid.col_index(p.first()),
        rest: p.names().iter().skip(1).map(|n| Seg::new(n)).collect(),
    };
    match n {
        Node::Has(p) => match grid.col_index(p.first()) {
            None => CNode::Const(false),
            Some(_) => CNode::Has(path(p)),
        },
        Node::Missing(p) => match grid.col_index(p.first()) {
            None => CNode::Const(true),
            Some(_) => CNode::Missing(path(p)),
        },
        Node::Cmp(p, op, v) => match grid.col_index(p.first()) {
            None => CNode::Const(false),
            Some(_) => CNode::Cmp(path(p), *op, v.clone()),
        },
        Node::And(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for p in parts {
                match compile(p, grid) {
                    CNode::Const(true) => {}
                    CNode::Const(false) => return CNode::Const(false),
                    c => out.push(c),
                }
            }
            match out.len() {
                0 => CNode::Const(true),
                1 => out.pop().unwrap_or(CNode::Const(true)),
                _ => CNode::And(out.into()),
            }
        }
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
        Node::Or(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for p in parts {
                match compile(p, grid) {
                    CNode::Const(false) => {}
                    CNode::Const(true) => return CNode::Const(true),
                    c => out.push(c),
                }
            }
            match out.len() {
                0 => CNode::Const(false),
                1 => out.pop().unwrap_or(CNode::Const(false)),
                _ => CNode::Or(out.into()),
            }
        }
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
    /// its tag and are still in question, and `->` paths from the same ref are followed once.
    pub fn select<'a, R: Resolver + ?Sized>(
        &'a self,
        grid: &'a Grid,
        resolver: &'a R,
    ) -> impl Iterator<Item = usize> + 'a {
        let bits = self.select_bits(grid, resolver);
        let rows: Box<dyn Iterator<Item = usize> + 'a> = match bits {
            Some(bits) => Box::new(bits.iter().collect::<Vec<_>>().into_iter()),
            None => Box::new(
                grid.rows()
                    .filter(move |row| self.matches_row(row, resolver))
                    .map(|row| row.index()),
            ),
        };
        rows
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
        self.compile_for(grid).select(grid, resolver).collect()
    }

    /// A grid of the rows of `grid` that match, with its meta and only the columns those
    /// rows use (so a filtered database carries its hits' tags, not every column).
    pub fn filter_grid<R: Resolver + ?Sized>(&self, grid: &Grid, resolver: &R) -> Grid {
        let compiled = self.compile_for(grid);
        grid.select_rows(compiled.select(grid, resolver))
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
