//! Indexes over a grid of entities, built once and shared by every query of that grid: which
//! rows have each tag, the row of each `id`, the rows that refer to each id through each Ref
//! tag (`siteRef`, `equipRef`, ...), and the numbers of each tag sorted by unit and value.
//!
//! An [`Index`] owns no part of the grid: it is a pure function of it, kept beside it (a server
//! builds one per snapshot version). [`Index::on`] pairs it with its grid as an [`Indexed`],
//! which resolves `->` paths by id and answers filters through a planner ([`plan`]): the rows a
//! filter can match are narrowed with the indexes, and only those are evaluated, so the result
//! is exactly that of a scan, in the same order.
//!
//! ```
//! use haystack_core::filter::Filter;
//! use haystack_core::index::Index;
//! use haystack_core::{Dict, Grid, Number, Ref, Value};
//!
//! let site = Dict::from_pairs([
//!     ("id", Value::Ref(Ref::new("s1")?)),
//!     ("site", Value::Marker),
//!     ("geoCity", Value::from("Paris")),
//! ])?;
//! let point = Dict::from_pairs([
//!     ("id", Value::Ref(Ref::new("p1")?)),
//!     ("point", Value::Marker),
//!     ("siteRef", Value::Ref(Ref::new("s1")?)),
//!     ("curVal", Value::Number(Number::with_unit(91.0, "°F"))),
//! ])?;
//! let grid = Grid::from_dicts(&[site, point]);
//! let index = Index::new(&grid);
//! let db = index.on(&grid);
//!
//! let filter: Filter = r#"point and siteRef->geoCity == "Paris" and curVal > 89.5°F"#.parse()?;
//! assert_eq!(db.select(&filter, usize::MAX), vec![1]);
//! assert_eq!(db.row_of("s1"), Some(0));
//! assert_eq!(db.referrers("siteRef", "s1").collect::<Vec<_>>(), vec![1]);
//! # Ok::<(), haystack_core::Error>(())
//! ```

pub mod plan;

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hashbrown::{DefaultHashBuilder, HashTable};
use roaring::RoaringBitmap;

use crate::filter::Resolver;
use crate::{Grid, Ref, Value};

pub use plan::Plan;

/// The indexes of one grid (see the [module docs](self)). Build with [`Index::new`]; query
/// through [`Index::on`] with the same grid.
///
/// Rows are numbered as `u32`: a grid of more than `u32::MAX` rows is indexed as having no
/// indexes at all (every query then scans), never wrongly.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// The shape of the grid it was built from, to refuse another grid (queries then scan).
    shape: Shape,
    /// Per column: the rows that have the tag (a non-null value).
    tags: Vec<RoaringBitmap>,
    /// Per column: the rows whose value is a List or a Dict (which a comparison or a `->` path
    /// may look into, so they stay candidates of any term on the column).
    nested: Vec<RoaringBitmap>,
    /// Per column with at least one Ref value: the rows by the id they refer to.
    refs: Vec<Option<Postings>>,
    /// Per column with at least one Str value: the rows by the string they hold.
    strs: Vec<Option<Postings>>,
    /// Per column with at least one Number value: the numbers by unit, sorted.
    numbers: Vec<Option<Numbers>>,
    /// The `id` column.
    id_col: Option<usize>,
    hasher: DefaultHashBuilder,
    /// Whether the indexes were built (not for grids of more than `u32::MAX` rows).
    built: bool,
}

/// What identifies the grid an index was built from (cheaply checked on every query).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Shape {
    rows: usize,
    cols: usize,
    tags: usize,
}

impl Shape {
    fn of(grid: &Grid) -> Self {
        Shape {
            rows: grid.len(),
            cols: grid.cols().len(),
            tags: grid.tag_count(),
        }
    }
}

/// The rows of one column grouped by a string key of their value (the id of a Ref, a Str),
/// each group ascending. The keys are not copied: each group names a row whose value gives it
/// (read back through a [`KeyAt`]).
#[derive(Debug, Clone, Default)]
struct Postings {
    /// (a row of the group, whose Ref gives the group's id; start, end in `rows`).
    groups: HashTable<(u32, u32, u32)>,
    rows: Vec<u32>,
}

/// The Number values of one column: per unit, (value, row) sorted by value. NaN values are
/// left out (they match no comparison an index answers).
#[derive(Debug, Clone, Default)]
struct Numbers {
    by_unit: Vec<UnitRun>,
}

/// The numbers of one unit (`None`: no unit): (value, row), sorted by value.
type UnitRun = (Option<Arc<str>>, Vec<(f64, u32)>);

/// The posting key of the value at `row`, `col` of `grid`.
type KeyAt = fn(&Grid, u32, usize) -> Option<&str>;

/// The id of the Ref at `row`, `col` of `grid`.
fn ref_at(grid: &Grid, row: u32, col: usize) -> Option<&str> {
    match grid.cell(row as usize, col) {
        Some(Value::Ref(r)) => Some(r.id()),
        _ => None,
    }
}

/// The Str at `row`, `col` of `grid`.
fn str_at(grid: &Grid, row: u32, col: usize) -> Option<&str> {
    match grid.cell(row as usize, col) {
        Some(Value::Str(s)) => Some(s.as_str()),
        _ => None,
    }
}

impl Postings {
    /// Groups `refs` ((row, key) of one column, rows ascending; `key_at` reads a row's key
    /// back) by key.
    fn build(
        grid: &Grid,
        col: usize,
        refs: &[(u32, &str)],
        key_at: KeyAt,
        hasher: &DefaultHashBuilder,
    ) -> Self {
        // Pass 1: count the rows of each id; entries are (first row, count, 0) here.
        let mut groups: HashTable<(u32, u32, u32)> = HashTable::new();
        let mut hashes = Vec::with_capacity(refs.len());
        for &(row, id) in refs {
            let h = hasher.hash_one(id);
            hashes.push(h);
            match groups.find_mut(h, |e| key_at(grid, e.0, col) == Some(id)) {
                Some(e) => e.1 += 1,
                None => {
                    groups.insert_unique(h, (row, 1, 0), |e| {
                        hasher.hash_one(key_at(grid, e.0, col).unwrap_or_default())
                    });
                }
            }
        }
        // Offsets: each entry becomes (first row, start, fill position).
        let mut next = 0u32;
        for e in groups.iter_mut() {
            let count = e.1;
            e.1 = next;
            e.2 = next;
            next += count;
        }
        let mut rows = vec![0u32; refs.len()];
        for (&(row, id), &h) in refs.iter().zip(&hashes) {
            if let Some(e) = groups.find_mut(h, |e| key_at(grid, e.0, col) == Some(id)) {
                if let Some(slot) = rows.get_mut(e.2 as usize) {
                    *slot = row;
                }
                e.2 += 1;
            }
        }
        // Fill positions now equal the ends: entries are (first row, start, end).
        Postings { groups, rows }
    }

    /// The rows whose key (in this column) is `id`, ascending.
    fn rows_of(
        &self,
        grid: &Grid,
        col: usize,
        id: &str,
        key_at: KeyAt,
        hasher: &DefaultHashBuilder,
    ) -> &[u32] {
        let h = hasher.hash_one(id);
        self.groups
            .find(h, |e| key_at(grid, e.0, col) == Some(id))
            .and_then(|&(_, start, end)| self.rows.get(start as usize..end as usize))
            .unwrap_or_default()
    }

    fn heap_bytes(&self) -> usize {
        self.groups.allocation_size() + self.rows.capacity() * 4
    }
}

impl Numbers {
    /// Sorts the runs collected for one column.
    fn build(mut by_unit: Vec<UnitRun>) -> Option<Self> {
        if by_unit.is_empty() {
            return None;
        }
        for (_, vals) in &mut by_unit {
            // By value, then row; NaN is left out, so this is the order of `<`.
            vals.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            vals.shrink_to_fit();
        }
        Some(Numbers { by_unit })
    }

    /// Adds `n` at `row` to the run of its unit.
    fn push(by_unit: &mut Vec<UnitRun>, n: &crate::Number, row: u32) {
        if n.value().is_nan() {
            return;
        }
        let unit = n.shared_unit();
        let same = |u: &Option<Arc<str>>| match (u, unit) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
            _ => false,
        };
        // Most columns have one or two units: the last one used is tried first.
        match by_unit.iter_mut().rev().find(|(u, _)| same(u)) {
            Some((_, vals)) => vals.push((n.value(), row)),
            None => by_unit.push((unit.cloned(), vec![(n.value(), row)])),
        }
    }

    /// The rows whose number (with unit `unit`) satisfies `op operand`; `None` for `!=`, which
    /// a range cannot answer.
    fn rows(
        &self,
        unit: Option<&str>,
        op: crate::filter::CmpOp,
        operand: f64,
    ) -> Option<RoaringBitmap> {
        use crate::filter::CmpOp;
        let vals = self
            .by_unit
            .iter()
            .find(|(u, _)| u.as_deref() == unit)
            .map_or(&[][..], |(_, v)| v.as_slice());
        // Both predicates are monotone over the sort (no NaN in it; -0 and 0 compare equal).
        let below = vals.partition_point(|(v, _)| *v < operand);
        let upto = vals.partition_point(|(v, _)| *v <= operand);
        let range = match op {
            CmpOp::Eq => below..upto,
            CmpOp::Lt => 0..below,
            CmpOp::Le => 0..upto,
            CmpOp::Gt => upto..vals.len(),
            CmpOp::Ge => below..vals.len(),
            CmpOp::Ne => return None,
        };
        let mut rows: Vec<u32> = vals
            .get(range)
            .unwrap_or_default()
            .iter()
            .map(|(_, r)| *r)
            .collect();
        rows.sort_unstable();
        RoaringBitmap::from_sorted_iter(rows).ok()
    }

    fn heap_bytes(&self) -> usize {
        self.by_unit.capacity() * std::mem::size_of::<UnitRun>()
            + self
                .by_unit
                .iter()
                .map(|(_, v)| v.capacity() * std::mem::size_of::<(f64, u32)>())
                .sum::<usize>()
    }
}

impl Index {
    /// Builds the indexes of `grid` in one pass over its tags (then one over the Refs of each
    /// Ref column, to group them by id).
    pub fn new(grid: &Grid) -> Self {
        let cols = grid.cols().len();
        let mut index = Index {
            shape: Shape::of(grid),
            id_col: grid.col_index("id"),
            hasher: DefaultHashBuilder::default(),
            built: true,
            ..Index::default()
        };
        if u32::try_from(grid.len()).is_err() {
            // Rows past u32 cannot be named in a bitmap: no indexes; every query scans.
            index.built = false;
            return index;
        }
        let mut tags = vec![Vec::<u32>::new(); cols];
        let mut nested = vec![Vec::<u32>::new(); cols];
        let mut refs: Vec<Vec<(u32, &str)>> = vec![Vec::new(); cols];
        let mut strs: Vec<Vec<(u32, &str)>> = vec![Vec::new(); cols];
        let mut numbers: Vec<Vec<UnitRun>> = vec![Vec::new(); cols];
        for row in grid.rows() {
            // Checked above: every row position fits in u32.
            let i = row.index() as u32;
            for (c, v) in row.entries() {
                // A null cell is no tag: the bitmaps answer `has` exactly.
                if v.is_null() {
                    continue;
                }
                if let Some(t) = tags.get_mut(c) {
                    t.push(i);
                }
                match v {
                    Value::List(_) | Value::Dict(_) => {
                        if let Some(n) = nested.get_mut(c) {
                            n.push(i);
                        }
                    }
                    Value::Ref(r) => {
                        if let Some(rs) = refs.get_mut(c) {
                            rs.push((i, r.id()));
                        }
                    }
                    Value::Str(s) => {
                        if let Some(ss) = strs.get_mut(c) {
                            ss.push((i, s.as_str()));
                        }
                    }
                    Value::Number(n) => {
                        if let Some(runs) = numbers.get_mut(c) {
                            Numbers::push(runs, n, i);
                        }
                    }
                    _ => {}
                }
            }
        }
        let bitmap = |rows: Vec<u32>| RoaringBitmap::from_sorted_iter(rows).unwrap_or_default();
        index.tags = tags.into_iter().map(bitmap).collect();
        index.nested = nested.into_iter().map(bitmap).collect();
        let postings = |lists: Vec<Vec<(u32, &str)>>, key_at: KeyAt| -> Vec<Option<Postings>> {
            lists
                .iter()
                .enumerate()
                .map(|(c, rs)| {
                    (!rs.is_empty()).then(|| Postings::build(grid, c, rs, key_at, &index.hasher))
                })
                .collect()
        };
        index.refs = postings(refs, ref_at);
        index.strs = postings(strs, str_at);
        index.numbers = numbers.into_iter().map(Numbers::build).collect();
        index
    }

    /// Whether this index was built from a grid of `grid`'s shape (rows, columns, tags). Queries
    /// of another grid ignore the index and scan.
    pub fn fits(&self, grid: &Grid) -> bool {
        self.built && self.shape == Shape::of(grid)
    }

    /// This index paired with its grid, for lookups and filters. `grid` must be the grid the
    /// index was built from; for a grid of another shape every query scans.
    pub fn on<'a>(&'a self, grid: &'a Grid) -> Indexed<'a> {
        Indexed {
            grid,
            index: self,
            usable: self.fits(grid),
        }
    }

    /// The bytes the index holds on the heap (allocations of its tables, not counting the
    /// allocator's own overhead).
    pub fn heap_bytes(&self) -> usize {
        let bitmaps = |v: &[RoaringBitmap]| -> usize {
            v.iter()
                .map(|b| std::mem::size_of::<RoaringBitmap>() + b.serialized_size())
                .sum()
        };
        bitmaps(&self.tags)
            + bitmaps(&self.nested)
            + self
                .refs
                .iter()
                .chain(&self.strs)
                .map(|r| {
                    std::mem::size_of::<Option<Postings>>()
                        + r.as_ref().map_or(0, Postings::heap_bytes)
                })
                .sum::<usize>()
            + self
                .numbers
                .iter()
                .map(|n| {
                    std::mem::size_of::<Option<Numbers>>()
                        + n.as_ref().map_or(0, Numbers::heap_bytes)
                })
                .sum::<usize>()
    }
}

/// An [`Index`] with its grid: id lookups, reverse refs, `->` resolution (it is a
/// [`Resolver`]) and indexed filter selection ([`Indexed::select`]).
#[derive(Debug, Clone, Copy)]
pub struct Indexed<'a> {
    grid: &'a Grid,
    index: &'a Index,
    /// Whether the index fits the grid; when not, lookups and queries scan.
    usable: bool,
}

impl<'a> Indexed<'a> {
    /// The grid.
    pub fn grid(&self) -> &'a Grid {
        self.grid
    }

    /// The index.
    pub fn index(&self) -> &'a Index {
        self.index
    }

    /// The row whose `id` is a Ref with id `id` (with duplicate ids, the last such row, as
    /// [`crate::filter::GridIndex`] and [`Grid::id_index`] answer).
    pub fn row_of(&self, id: &str) -> Option<usize> {
        let col = self.grid.col_index("id")?;
        if !self.usable {
            return self
                .grid
                .rows()
                .filter(|r| ref_at(self.grid, r.index() as u32, col) == Some(id))
                .last()
                .map(|r| r.index());
        }
        self.ref_rows(col, id).last().map(|&r| r as usize)
    }

    /// The rows whose tag `tag` is a Ref with id `id` (not counting refs inside lists or
    /// dicts), ascending: `referrers("siteRef", "s1")` are the equips and points of site s1.
    pub fn referrers(&self, tag: &str, id: &str) -> impl Iterator<Item = usize> + 'a {
        let rows: Vec<usize> = match self.grid.col_index(tag) {
            None => Vec::new(),
            Some(col) if self.usable => {
                self.ref_rows(col, id).iter().map(|&r| r as usize).collect()
            }
            Some(col) => self
                .grid
                .rows()
                .filter(|r| matches!(r.cell(col), Some(Value::Ref(x)) if x.id() == id))
                .map(|r| r.index())
                .collect(),
        };
        rows.into_iter()
    }

    /// The rows that have tag `tag`, ascending; `None` when the index does not fit the grid.
    pub fn tag_rows(&self, tag: &str) -> Option<&'a RoaringBitmap> {
        if !self.usable {
            return None;
        }
        let col = self.grid.col_index(tag)?;
        self.index.tags.get(col)
    }

    fn ref_rows(&self, col: usize, id: &str) -> &'a [u32] {
        match self.index.refs.get(col) {
            Some(Some(p)) => p.rows_of(self.grid, col, id, ref_at, &self.index.hasher),
            _ => &[],
        }
    }

    /// The rows whose tag (at `col`) is the Str `s`, ascending.
    fn str_rows(&self, col: usize, s: &str) -> &'a [u32] {
        match self.index.strs.get(col) {
            Some(Some(p)) => p.rows_of(self.grid, col, s, str_at, &self.index.hasher),
            _ => &[],
        }
    }

    fn tags_of(&self, col: usize) -> Option<&'a RoaringBitmap> {
        self.index.tags.get(col)
    }

    fn nested_of(&self, col: usize) -> Option<&'a RoaringBitmap> {
        self.index.nested.get(col)
    }

    fn numbers_of(&self, col: usize) -> Option<&'a Numbers> {
        self.index.numbers.get(col).and_then(Option::as_ref)
    }

    fn id_at(&self, row: u32) -> Option<&'a Ref> {
        let col = self.index.id_col?;
        match self.grid.cell(row as usize, col) {
            Some(Value::Ref(r)) => Some(r),
            _ => None,
        }
    }
}

impl Resolver for Indexed<'_> {
    fn tag(&self, id: &Ref, name: &str) -> Option<&Value> {
        let row = self.row_of(id.id())?;
        let col = self.grid.col_index(name)?;
        self.grid.cell(row, col)
    }

    #[inline]
    fn tag_hinted(&self, id: &Ref, name: &str, hint: &AtomicUsize) -> Option<&Value> {
        let row = self.row_of(id.id())?;
        let h = hint.load(Ordering::Relaxed);
        let col = match self.grid.cols().get(h) {
            Some(c) if c.name() == name => h,
            _ => {
                let c = self.grid.col_index(name)?;
                hint.store(c, Ordering::Relaxed);
                c
            }
        };
        self.grid.cell(row, col)
    }
}

#[cfg(test)]
mod tests;
