//! [`Grid`]: a Haystack table of grid meta, columns with meta, and sparse rows.

mod builder;
mod columns;
mod row;

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use crate::{Dict, Error, Result, Value, is_tag_name};

pub use builder::GridBuilder;
pub(crate) use columns::{Columns, Keys, kind, str_prefix};
pub use row::{Cells, Row, RowCells, Rows};

/// A grid column: a tag name and its meta (`dis`, `unit`, ...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Col {
    name: Arc<str>,
    meta: Dict,
}

impl Col {
    /// A column without meta; errors if `name` is not a valid tag name.
    pub fn new(name: impl Into<Arc<str>>) -> Result<Self> {
        Col::with_meta(name, Dict::new())
    }

    /// A column with meta; errors if `name` is not a valid tag name.
    pub fn with_meta(name: impl Into<Arc<str>>, meta: Dict) -> Result<Self> {
        let name = name.into();
        if !is_tag_name(&name) {
            return Err(Error::InvalidTagName(name.to_string()));
        }
        Ok(Col { name, meta })
    }

    /// The column name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column name, shared.
    pub fn shared_name(&self) -> &Arc<str> {
        &self.name
    }

    /// The column meta.
    pub fn meta(&self) -> &Dict {
        &self.meta
    }

    /// The column meta, mutably.
    pub fn meta_mut(&mut self) -> &mut Dict {
        &mut self.meta
    }

    /// The display name: the `dis` meta tag if it is a Str, else the name.
    pub fn dis(&self) -> &str {
        self.meta.dis().unwrap_or(&self.name)
    }
}

/// A Haystack Grid: grid meta, named columns with meta, and rows.
///
/// Rows are sparse: each holds only its tags (non-null cells), as (column position, value)
/// pairs in column order, all rows in one shared buffer. A grid of rows that each have a few
/// of many columns costs memory in proportion to its tags, not to rows x columns. A null cell
/// means the row lacks that tag; [`Row::cells`] gives the dense view, one cell per column.
///
/// ```
/// use haystack_core::{Grid, GridBuilder, Value, dict};
/// let grid = GridBuilder::new()
///     .meta_tag("dis", "Sites")
///     .col("id")
///     .col("area")
///     .row(vec![Value::from(haystack_core::Ref::new("a").unwrap()), Value::from(1200.0)])
///     .row(vec![Value::from(haystack_core::Ref::new("b").unwrap()), Value::Null])
///     .build()
///     .unwrap();
/// assert_eq!(grid.len(), 2);
/// assert_eq!(grid.cols()[1].name(), "area");
/// let second = grid.row(1).unwrap();
/// assert_eq!(second.get("area"), None);
/// assert_eq!(second.len(), 1);
/// assert_eq!(grid.rows().filter(|r| r.has("area")).count(), 1);
/// assert_eq!(grid.to_dicts()[0], dict! { "id" => haystack_core::Ref::new("a").unwrap(), "area" => 1200.0 });
/// ```
#[derive(Clone, Default)]
pub struct Grid {
    meta: Dict,
    cols: Vec<Col>,
    col_index: hashbrown::HashMap<Arc<str>, usize>,
    /// The column position of every tag, row after row, ascending within a row.
    tag_cols: Vec<u32>,
    /// The value of every tag, parallel to `tag_cols`; never null.
    values: Vec<Value>,
    /// Where each row's tags end in `tag_cols`/`values`.
    ends: Vec<usize>,
    /// The column view of the rows, built on first use by filters; reset by every change.
    columns: OnceLock<Option<columns::Columns>>,
}

fn too_many_cols() -> Error {
    Error::Invalid(format!("more than {} columns", u32::MAX))
}

fn duplicate_col(name: &str) -> Error {
    Error::Invalid(format!("duplicate column {name:?}"))
}

fn no_cols() -> Error {
    Error::Invalid("cannot add a row to a grid without columns".into())
}

fn width_error(n: usize, w: usize) -> Error {
    Error::Invalid(format!("row has {n} cells but the grid has {w} columns"))
}

impl Grid {
    /// An empty grid: no meta, no columns, no rows.
    pub fn new() -> Self {
        Grid::default()
    }

    /// A grid of columns and no rows; errors on a duplicate column name.
    pub fn with_cols(meta: Dict, cols: Vec<Col>) -> Result<Self> {
        if u32::try_from(cols.len()).is_err() {
            return Err(too_many_cols());
        }
        let mut col_index = hashbrown::HashMap::with_capacity(cols.len());
        for (i, c) in cols.iter().enumerate() {
            if col_index.insert(c.name.clone(), i).is_some() {
                return Err(duplicate_col(c.name()));
            }
        }
        Ok(Grid {
            meta,
            cols,
            col_index,
            ..Grid::default()
        })
    }

    /// A grid from meta, columns and rows of one cell per column; errors on duplicate columns
    /// or a row whose width is not the number of columns.
    pub fn from_parts(meta: Dict, cols: Vec<Col>, rows: Vec<Vec<Value>>) -> Result<Self> {
        let mut g = Grid::with_cols(meta, cols)?;
        g.ends.reserve(rows.len());
        for r in rows {
            g.push_row(r)?;
        }
        Ok(g)
    }

    /// A grid with one column per tag name seen in `dicts` (in first-seen order) and one row per
    /// dict. It costs memory in proportion to the tags of the dicts, however many distinct
    /// names they use. Dicts without tags give no rows when no dict has a tag (a grid without
    /// columns has no rows).
    pub fn from_dicts<'a>(dicts: impl IntoIterator<Item = &'a Dict>) -> Self {
        let mut g = Grid::new();
        let mut row: Vec<(u32, Value)> = Vec::new();
        for d in dicts {
            row.clear();
            for (k, v) in d.iter_shared() {
                if v.is_null() {
                    continue;
                }
                let i = match g.col_index.get(&**k) {
                    Some(&i) => i,
                    None => {
                        let i = g.cols.len();
                        g.col_index.insert(k.clone(), i);
                        g.cols.push(Col {
                            name: k.clone(),
                            meta: Dict::new(),
                        });
                        i
                    }
                };
                // Dicts hold far fewer than u32::MAX tags in any real memory; saturating keeps
                // the conversion total.
                row.push((u32::try_from(i).unwrap_or(u32::MAX), v.clone()));
            }
            row.sort_unstable_by_key(|(c, _)| *c);
            g.push_sorted(row.drain(..));
        }
        if g.cols.is_empty() {
            g.ends.clear();
        }
        g
    }

    /// Appends a row from (column, value) pairs already in ascending column order, without
    /// duplicates or nulls.
    fn push_sorted(&mut self, tags: impl Iterator<Item = (u32, Value)>) {
        self.changed();
        for (c, v) in tags {
            self.tag_cols.push(c);
            self.values.push(v);
        }
        self.ends.push(self.values.len());
    }

    /// Drops the column view: rows or columns change.
    #[inline]
    fn changed(&mut self) {
        if self.columns.get().is_some() {
            self.columns = OnceLock::new();
        }
    }

    /// The column view of the rows (built on first use), or `None` when the grid is too large
    /// for it.
    pub(crate) fn columns(&self) -> Option<&columns::Columns> {
        self.columns
            .get_or_init(|| columns::Columns::build(self))
            .as_ref()
    }

    /// The grid meta.
    pub fn meta(&self) -> &Dict {
        &self.meta
    }

    /// The grid meta, mutably.
    pub fn meta_mut(&mut self) -> &mut Dict {
        &mut self.meta
    }

    /// The columns in order.
    pub fn cols(&self) -> &[Col] {
        &self.cols
    }

    /// The column named `name`.
    pub fn col(&self, name: &str) -> Option<&Col> {
        self.col_index(name).and_then(|i| self.cols.get(i))
    }

    /// The meta of column `name`, mutably.
    pub fn col_meta_mut(&mut self, name: &str) -> Option<&mut Dict> {
        let i = self.col_index(name)?;
        self.cols.get_mut(i).map(Col::meta_mut)
    }

    /// The position of column `name`.
    #[inline]
    pub fn col_index(&self, name: &str) -> Option<usize> {
        self.col_index.get(name).copied()
    }

    /// Whether there is a column `name`.
    pub fn has_col(&self, name: &str) -> bool {
        self.col_index.contains_key(name)
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The number of tags (non-null cells) of all rows together.
    pub fn tag_count(&self) -> usize {
        self.values.len()
    }

    fn span(&self, i: usize) -> Option<(usize, usize)> {
        let end = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(p) => *self.ends.get(p)?,
            None => 0,
        };
        Some((start, end))
    }

    /// Row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> Option<Row<'_>> {
        let (a, b) = self.span(i)?;
        Some(Row {
            grid: self,
            index: i,
            cols: self.tag_cols.get(a..b)?,
            values: self.values.get(a..b)?,
        })
    }

    /// Row `i` as a dict of its non-null cells.
    pub fn row_dict(&self, i: usize) -> Option<Dict> {
        self.row(i).map(|r| r.to_dict())
    }

    /// The rows in order, as views.
    pub fn rows(&self) -> Rows<'_> {
        Rows {
            grid: self,
            next: 0,
        }
    }

    /// The non-null cell at row `row`, column `col`.
    pub fn cell(&self, row: usize, col: usize) -> Option<&Value> {
        self.row(row)?.cell(col)
    }

    /// Appends a column (null in every existing row); errors on a duplicate or invalid name.
    pub fn add_col(&mut self, name: impl Into<Arc<str>>, meta: Dict) -> Result<()> {
        self.changed();
        let col = Col::with_meta(name, meta)?;
        if self.col_index.contains_key(&col.name) {
            return Err(duplicate_col(col.name()));
        }
        let i = self.cols.len();
        if u32::try_from(i + 1).is_err() {
            return Err(too_many_cols());
        }
        self.col_index.insert(col.name.clone(), i);
        self.cols.push(col);
        Ok(())
    }

    /// Appends a row of one cell per column; errors if the width is wrong.
    pub fn push_row(&mut self, cells: Vec<Value>) -> Result<()> {
        self.push_row_iter(cells)
    }

    /// Appends a row from an iterator of exactly one cell per column; errors if the width is
    /// wrong (the grid is then left unchanged).
    pub fn push_row_iter(&mut self, cells: impl IntoIterator<Item = Value>) -> Result<()> {
        self.push_row_with(|row| {
            for v in cells {
                row.push(v);
            }
            Ok::<(), Error>(())
        })
    }

    /// Appends a row by moving the cells out of `cells` (left empty, its capacity kept for the
    /// next row); errors if the width is wrong (the cells are then left in place).
    pub fn append_row(&mut self, cells: &mut Vec<Value>) -> Result<()> {
        let w = self.cols.len();
        if w == 0 || cells.len() != w {
            return Err(width_error(cells.len(), w));
        }
        self.push_row_iter(cells.drain(..))
    }

    /// Appends a row whose cells `fill` pushes, in column order, onto the given [`RowCells`]
    /// (which stores them straight into the grid, nulls skipped). Errors if `fill` fails or
    /// pushes a number of cells other than the number of columns; the grid is then left
    /// unchanged.
    pub fn push_row_with<E: From<Error>>(
        &mut self,
        fill: impl FnOnce(&mut RowCells<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.changed();
        let w = self.cols.len();
        let start = self.values.len();
        let above = match self.ends.len().checked_sub(1) {
            Some(last) => self.span(last).unwrap_or((start, start)),
            None => (start, start),
        };
        let mut row = RowCells {
            cols: &mut self.tag_cols,
            values: &mut self.values,
            width: w,
            pushed: 0,
            above,
        };
        let res = fill(&mut row);
        let n = row.pushed;
        if res.is_err() || n != w || w == 0 {
            self.tag_cols.truncate(start);
            self.values.truncate(start);
            res?;
            return Err(if w == 0 { no_cols() } else { width_error(n, w) }.into());
        }
        self.ends.push(self.values.len());
        Ok(())
    }

    /// Appends a row from (column position, value) pairs in any order: nulls are skipped, and
    /// of repeated columns the last value wins. Errors (leaving the grid unchanged) on a
    /// column position outside the grid's columns.
    pub fn push_tags(&mut self, tags: impl IntoIterator<Item = (usize, Value)>) -> Result<()> {
        self.changed();
        let w = self.cols.len();
        if w == 0 {
            return Err(no_cols());
        }
        let start = self.values.len();
        let mut sorted = true;
        let mut last: Option<u32> = None;
        for (c, v) in tags {
            let Some(c) = u32::try_from(c).ok().filter(|&c| (c as usize) < w) else {
                self.tag_cols.truncate(start);
                self.values.truncate(start);
                return Err(Error::Invalid(format!(
                    "column {c} is outside the grid's {w} columns"
                )));
            };
            if v.is_null() {
                continue;
            }
            if last.is_some_and(|l| l >= c) {
                sorted = false;
            }
            last = Some(c);
            self.tag_cols.push(c);
            self.values.push(v);
        }
        if !sorted {
            self.sort_tail(start);
        }
        self.ends.push(self.values.len());
        Ok(())
    }

    /// Sorts the tags from `start` on by column, keeping only the last of repeated columns.
    fn sort_tail(&mut self, start: usize) {
        let cols = self.tag_cols.split_off(start);
        let values = self.values.split_off(start);
        let mut pairs: Vec<(u32, Value)> = cols.into_iter().zip(values).collect();
        // Stable, so of repeated columns the last stays last.
        pairs.sort_by_key(|(c, _)| *c);
        let mut it = pairs.into_iter().peekable();
        while let Some((c, v)) = it.next() {
            if it.peek().is_some_and(|(n, _)| *n == c) {
                continue;
            }
            self.tag_cols.push(c);
            self.values.push(v);
        }
    }

    /// Reserves room for `rows` more rows (their row entries, not their tags).
    pub fn reserve_rows(&mut self, rows: usize) {
        self.ends.reserve(rows);
    }

    /// Reserves room for `tags` more tags (non-null cells) over all rows to come.
    pub fn reserve_tags(&mut self, tags: usize) {
        self.tag_cols.reserve(tags);
        self.values.reserve(tags);
    }

    /// Appends a row from a dict, adding a column for each tag the grid lacks.
    pub fn push_dict(&mut self, dict: &Dict) -> Result<()> {
        for (k, _) in dict.iter_shared() {
            if !self.col_index.contains_key(&**k) {
                self.add_col(k.clone(), Dict::new())?;
            }
        }
        let index = &self.col_index;
        let tags: Vec<(usize, Value)> = dict
            .iter()
            .filter_map(|(k, v)| Some((*index.get(k)?, v.clone())))
            .collect();
        self.push_tags(tags)
    }

    /// Appends a copy of `row` (a row of this or another grid), matching its tags to columns
    /// by name and adding the columns this grid lacks.
    pub fn push_row_from(&mut self, row: Row<'_>) -> Result<()> {
        let mut tags = Vec::with_capacity(row.len());
        for (name, v) in row.iter() {
            let i = match self.col_index(name) {
                Some(i) => i,
                None => {
                    self.add_col(name, Dict::new())?;
                    self.cols.len() - 1
                }
            };
            tags.push((i, v.clone()));
        }
        self.push_tags(tags)
    }

    /// Removes every row, keeping meta and columns.
    pub fn clear_rows(&mut self) {
        self.changed();
        self.tag_cols.clear();
        self.values.clear();
        self.ends.clear();
    }

    /// Keeps only the rows for which `keep` returns true.
    pub fn retain_rows(&mut self, mut keep: impl FnMut(&Row<'_>) -> bool) {
        self.changed();
        let keep: Vec<bool> = self.rows().map(|r| keep(&r)).collect();
        let ends = std::mem::take(&mut self.ends);
        let cols = std::mem::take(&mut self.tag_cols);
        let mut values = std::mem::take(&mut self.values).into_iter();
        let mut start = 0;
        for (end, k) in ends.into_iter().zip(keep) {
            let n = end.saturating_sub(start);
            if k {
                self.tag_cols
                    .extend(cols.get(start..end).unwrap_or_default());
                self.values.extend(values.by_ref().take(n));
                self.ends.push(self.values.len());
            } else {
                values.by_ref().take(n).for_each(drop);
            }
            start = end;
        }
    }

    /// Removes the columns that no row uses (keeping the order of the others), so that a
    /// filtered or selected grid carries only the columns of its rows.
    pub fn prune_cols(&mut self) {
        self.changed();
        let mut used = vec![false; self.cols.len()];
        for &c in &self.tag_cols {
            if let Some(u) = used.get_mut(c as usize) {
                *u = true;
            }
        }
        if used.iter().all(|&u| u) {
            return;
        }
        let mut remap = vec![0u32; self.cols.len()];
        let mut next = 0u32;
        for (r, &u) in remap.iter_mut().zip(&used) {
            *r = next;
            next += u32::from(u);
        }
        let mut used = used.into_iter();
        self.cols.retain(|_| used.next().unwrap_or(false));
        for c in &mut self.tag_cols {
            *c = remap.get(*c as usize).copied().unwrap_or(*c);
        }
        self.col_index = self
            .cols
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
    }

    /// A grid with this grid's meta and the rows at `rows` (in the order given; positions past
    /// the end are skipped), carrying only the columns those rows use.
    pub fn select_rows(&self, rows: impl IntoIterator<Item = usize>) -> Grid {
        let rows: Vec<Row<'_>> = rows.into_iter().filter_map(|i| self.row(i)).collect();
        // The new position of each column the rows use (u32::MAX: unused), in column order;
        // only those columns are copied, and every vector is allocated once.
        const UNUSED: u32 = u32::MAX;
        let mut remap = vec![UNUSED; self.cols.len()];
        let mut ntags = 0;
        for r in &rows {
            for (c, _) in r.entries() {
                ntags += 1;
                if let Some(m) = remap.get_mut(c) {
                    *m = 0;
                }
            }
        }
        let mut cols = Vec::new();
        for (m, col) in remap.iter_mut().zip(&self.cols) {
            if *m != UNUSED {
                *m = cols.len() as u32;
                cols.push(col.clone());
            }
        }
        let col_index = cols
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        let mut out = Grid {
            meta: self.meta.clone(),
            cols,
            col_index,
            tag_cols: Vec::with_capacity(ntags),
            values: Vec::with_capacity(ntags),
            ends: Vec::with_capacity(rows.len()),
            columns: OnceLock::new(),
        };
        for r in &rows {
            for (c, v) in r.entries() {
                out.tag_cols.push(remap.get(c).copied().unwrap_or_default());
                out.values.push(v.clone());
            }
            out.ends.push(out.values.len());
        }
        out
    }

    /// Each row as a dict of its non-null cells.
    pub fn to_dicts(&self) -> Vec<Dict> {
        self.rows().map(|r| r.to_dict()).collect()
    }

    /// Row positions by the id of their `id` Ref, for lookups in grids of entities. Rows without
    /// a Ref `id` are left out; with duplicate ids the last row wins.
    pub fn id_index(&self) -> HashMap<&str, usize> {
        let mut out = HashMap::with_capacity(self.len());
        if let Some(c) = self.col_index("id") {
            for r in self.rows() {
                if let Some(Value::Ref(id)) = r.cell(c) {
                    out.insert(id.id(), r.index);
                }
            }
        }
        out
    }

    /// The first row whose `id` is a Ref with id `id`.
    pub fn row_by_id(&self, id: &str) -> Option<Row<'_>> {
        let c = self.col_index("id")?;
        self.rows()
            .find(|r| matches!(r.cell(c), Some(Value::Ref(x)) if x.id() == id))
    }
}

impl PartialEq for Grid {
    fn eq(&self, other: &Self) -> bool {
        self.meta == other.meta
            && self.cols == other.cols
            && self.ends == other.ends
            && self.tag_cols == other.tag_cols
            && self.values == other.values
    }
}

impl Eq for Grid {}

impl PartialOrd for Grid {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Orders by meta, then columns, then rows (an arbitrary but total order).
impl Ord for Grid {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.meta
            .cmp(&other.meta)
            .then_with(|| self.cols.cmp(&other.cols))
            .then_with(|| self.ends.cmp(&other.ends))
            .then_with(|| self.tag_cols.cmp(&other.tag_cols))
            .then_with(|| self.values.cmp(&other.values))
    }
}

impl Hash for Grid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.meta.hash(state);
        self.cols.hash(state);
        self.ends.hash(state);
        self.tag_cols.hash(state);
        self.values.hash(state);
    }
}

impl fmt::Debug for Grid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grid")
            .field("meta", &self.meta)
            .field("cols", &self.cols)
            .field(
                "rows",
                &self
                    .rows()
                    .map(|r| r.iter().collect::<Vec<_>>())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Formats the grid as a Zinc document.
impl fmt::Display for Grid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::zinc::write_grid(&mut s, self);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dict;

    #[test]
    fn from_dicts_unions_columns() {
        let a = dict! { "id" => crate::Ref::new("a").unwrap(), "site" => Value::Marker };
        let b = dict! { "id" => crate::Ref::new("b").unwrap(), "area" => 3.0 };
        let g = Grid::from_dicts([&a, &b]);
        assert_eq!(
            g.cols().iter().map(Col::name).collect::<Vec<_>>(),
            ["id", "site", "area"]
        );
        assert_eq!(g.to_dicts(), vec![a, b]);
        assert_eq!(g.id_index().get("b"), Some(&1));
        assert_eq!(g.row_by_id("a").map(|r| r.index()), Some(0));
    }

    #[test]
    fn widths_are_checked() {
        let e = GridBuilder::new()
            .col("a")
            .row(vec![Value::Null, Value::Null])
            .build();
        assert!(e.is_err());
        let mut g = GridBuilder::new()
            .col("a")
            .row(vec![1.into()])
            .build()
            .unwrap();
        g.add_col("b", Dict::new()).unwrap();
        assert_eq!(g.row(0).unwrap().to_cells(), [Value::from(1), Value::Null]);
        g.retain_rows(|_| false);
        assert!(g.is_empty());
        assert!(g.add_col("b", Dict::new()).is_err());
    }

    fn grid3() -> Grid {
        let mut g = Grid::with_cols(
            Dict::new(),
            vec![
                Col::new("a").unwrap(),
                Col::new("b").unwrap(),
                Col::new("c").unwrap(),
            ],
        )
        .unwrap();
        g.push_row(vec![1.into(), Value::Null, 3.into()]).unwrap();
        g.push_tags([(1, Value::from("x")), (0, 5.into()), (1, "y".into())])
            .unwrap();
        g.push_row(vec![Value::Null, Value::Null, Value::Null])
            .unwrap();
        g
    }

    #[test]
    fn sparse_rows_store_only_tags() {
        let mut g = grid3();
        assert_eq!(g.len(), 3);
        assert_eq!(g.tag_count(), 4);
        let r1 = g.row(1).unwrap();
        assert_eq!(r1.entries().map(|(c, _)| c).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(r1.get("b"), Some(&Value::from("y")));
        assert_eq!(r1.cell(2), None);
        assert_eq!(r1.to_cells(), [5.into(), "y".into(), Value::Null]);
        assert!(g.row(2).unwrap().is_empty());
        assert_eq!(g.cell(0, 2), Some(&Value::from(3)));
        assert!(g.push_tags([(3, Value::Marker)]).is_err());
        assert_eq!(g, grid3(), "a failed push leaves the grid unchanged");
    }

    #[test]
    fn retain_prune_and_select() {
        let mut g = grid3();
        g.retain_rows(|r| r.index() != 0);
        assert_eq!(g.len(), 2);
        assert_eq!(g.row(0).unwrap().get("a"), Some(&Value::from(5)));
        g.prune_cols();
        assert_eq!(
            g.cols().iter().map(Col::name).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(g.row(0).unwrap().get("b"), Some(&Value::from("y")));
        let s = grid3().select_rows([0, 7]);
        assert_eq!(
            s.cols().iter().map(Col::name).collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(s.row(0).unwrap().to_cells(), [1.into(), 3.into()]);
        let mut t = Grid::with_cols(Dict::new(), vec![Col::new("c").unwrap()]).unwrap();
        t.push_row_from(grid3().row(1).unwrap()).unwrap();
        assert_eq!(
            t.cols().iter().map(Col::name).collect::<Vec<_>>(),
            ["c", "a", "b"]
        );
        assert_eq!(t.row(0).unwrap().to_dict(), dict! { "a" => 5, "b" => "y" });
    }

    #[test]
    fn row_filler_sees_the_row_above() {
        let mut g = grid3();
        g.push_row_with(|r| {
            assert_eq!(r.above(0), None, "the row above is the all-null one");
            r.push(Value::Marker);
            r.push(Value::Null);
            r.push(Value::Null);
            Ok::<(), Error>(())
        })
        .unwrap();
        g.push_row_with(|r| {
            assert_eq!(r.above(0), Some(&Value::Marker));
            r.push(Value::Null);
            Ok::<(), Error>(())
        })
        .unwrap_err();
        assert_eq!(g.len(), 4);
    }
}
