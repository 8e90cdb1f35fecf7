//! [`Grid`]: a Haystack table of grid meta, columns with meta, and rows.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::{Dict, Error, Result, Value, is_tag_name};

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

/// A Haystack Grid: grid meta, named columns with meta, and rows of one cell per column.
///
/// Cells are stored row by row in one vector; [`Grid::rows`] gives [`Row`] views without
/// copying. A null cell means the row lacks that tag.
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
/// assert_eq!(grid.rows().filter(|r| r.has("area")).count(), 1);
/// assert_eq!(grid.to_dicts()[0], dict! { "id" => haystack_core::Ref::new("a").unwrap(), "area" => 1200.0 });
/// ```
#[derive(Clone, Default)]
pub struct Grid {
    meta: Dict,
    cols: Vec<Col>,
    col_index: HashMap<Arc<str>, usize>,
    cells: Vec<Value>,
    rows: usize,
}

impl Grid {
    /// An empty grid: no meta, no columns, no rows.
    pub fn new() -> Self {
        Grid::default()
    }

    /// A grid of columns and no rows; errors on a duplicate column name.
    pub fn with_cols(meta: Dict, cols: Vec<Col>) -> Result<Self> {
        let mut col_index = HashMap::with_capacity(cols.len());
        for (i, c) in cols.iter().enumerate() {
            if col_index.insert(c.name.clone(), i).is_some() {
                return Err(Error::Invalid(format!("duplicate column {:?}", c.name())));
            }
        }
        Ok(Grid {
            meta,
            cols,
            col_index,
            cells: Vec::new(),
            rows: 0,
        })
    }

    /// A grid from meta, columns and rows; errors on duplicate columns or a row whose width is
    /// not the number of columns.
    pub fn from_parts(meta: Dict, cols: Vec<Col>, rows: Vec<Vec<Value>>) -> Result<Self> {
        let mut g = Grid::with_cols(meta, cols)?;
        g.cells.reserve(rows.len() * g.cols.len());
        for r in rows {
            g.push_row(r)?;
        }
        Ok(g)
    }

    /// A grid with one column per tag name seen in `dicts` (in first-seen order) and one row per
    /// dict.
    pub fn from_dicts<'a>(dicts: impl IntoIterator<Item = &'a Dict>) -> Self {
        let dicts: Vec<&Dict> = dicts.into_iter().collect();
        let mut g = Grid::new();
        for d in &dicts {
            for (k, _) in d.iter_shared() {
                if !g.col_index.contains_key(&**k) {
                    g.col_index.insert(k.clone(), g.cols.len());
                    g.cols.push(Col {
                        name: k.clone(),
                        meta: Dict::new(),
                    });
                }
            }
        }
        let width = g.cols.len();
        if width == 0 {
            return g;
        }
        g.cells.reserve(dicts.len() * width);
        for d in dicts {
            let start = g.cells.len();
            g.cells.resize(start + width, Value::Null);
            for (k, v) in d.iter() {
                if let Some(slot) = g.col_index.get(k).and_then(|&i| g.cells.get_mut(start + i)) {
                    *slot = v.clone();
                }
            }
            g.rows += 1;
        }
        g
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
    pub fn col_index(&self, name: &str) -> Option<usize> {
        self.col_index.get(name).copied()
    }

    /// Whether there is a column `name`.
    pub fn has_col(&self, name: &str) -> bool {
        self.col_index.contains_key(name)
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// All cells, row by row.
    pub fn cells(&self) -> &[Value] {
        &self.cells
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> Option<Row<'_>> {
        let w = self.cols.len();
        let cells = self
            .cells
            .get(i.checked_mul(w)?..i.checked_add(1)?.checked_mul(w)?)?;
        (i < self.rows).then_some(Row {
            grid: self,
            index: i,
            cells,
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

    /// The cell at row `row`, column `col`.
    pub fn cell(&self, row: usize, col: usize) -> Option<&Value> {
        if col >= self.cols.len() || row >= self.rows {
            return None;
        }
        self.cells.get(row * self.cols.len() + col)
    }

    /// Appends a column (null in every existing row); errors on a duplicate or invalid name.
    pub fn add_col(&mut self, name: impl Into<Arc<str>>, meta: Dict) -> Result<()> {
        let col = Col::with_meta(name, meta)?;
        if self.col_index.contains_key(&col.name) {
            return Err(Error::Invalid(format!("duplicate column {:?}", col.name())));
        }
        let old_w = self.cols.len();
        self.col_index.insert(col.name.clone(), old_w);
        self.cols.push(col);
        if self.rows > 0 {
            let mut cells = Vec::with_capacity(self.rows * (old_w + 1));
            let mut it = std::mem::take(&mut self.cells).into_iter();
            for _ in 0..self.rows {
                cells.extend(it.by_ref().take(old_w));
                cells.push(Value::Null);
            }
            self.cells = cells;
        }
        Ok(())
    }

    /// Appends a row of one cell per column; errors if the width is wrong.
    pub fn push_row(&mut self, cells: Vec<Value>) -> Result<()> {
        self.push_row_iter(cells)
    }

    /// Appends a row from an iterator of exactly one cell per column; errors if the width is
    /// wrong (the grid is then left unchanged).
    pub fn push_row_iter(&mut self, cells: impl IntoIterator<Item = Value>) -> Result<()> {
        let w = self.cols.len();
        if w == 0 {
            return Err(Error::Invalid(
                "cannot add a row to a grid without columns".into(),
            ));
        }
        let start = self.cells.len();
        self.cells.extend(cells);
        let n = self.cells.len() - start;
        if n != w {
            self.cells.truncate(start);
            return Err(Error::Invalid(format!(
                "row has {n} cells but the grid has {w} columns"
            )));
        }
        self.rows += 1;
        Ok(())
    }

    /// Appends a row by moving the cells out of `cells` (left empty, its capacity kept for the
    /// next row); errors if the width is wrong (the cells are then left in place).
    pub fn append_row(&mut self, cells: &mut Vec<Value>) -> Result<()> {
        let w = self.cols.len();
        if w == 0 || cells.len() != w {
            return Err(Error::Invalid(format!(
                "row has {} cells but the grid has {w} columns",
                cells.len()
            )));
        }
        self.cells.append(cells);
        self.rows += 1;
        Ok(())
    }

    /// Appends a row whose cells `fill` pushes onto the given vector (the grid's own storage, so
    /// nothing is copied). Errors if `fill` fails or pushes a number of cells other than the
    /// number of columns; the grid is then left unchanged.
    pub fn push_row_with<E: From<Error>>(
        &mut self,
        fill: impl FnOnce(&mut Vec<Value>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let w = self.cols.len();
        let start = self.cells.len();
        let res = fill(&mut self.cells);
        let n = self.cells.len().saturating_sub(start);
        if res.is_err() || n != w || w == 0 {
            self.cells.truncate(start);
            res?;
            return Err(
                Error::Invalid(format!("row has {n} cells but the grid has {w} columns")).into(),
            );
        }
        self.rows += 1;
        Ok(())
    }

    /// Reserves room for `rows` more rows.
    pub fn reserve_rows(&mut self, rows: usize) {
        self.cells.reserve(rows.saturating_mul(self.cols.len()));
    }

    /// Appends a row from a dict, adding a column for each tag the grid lacks.
    pub fn push_dict(&mut self, dict: &Dict) -> Result<()> {
        for (k, _) in dict.iter_shared() {
            if !self.col_index.contains_key(&**k) {
                self.add_col(k.clone(), Dict::new())?;
            }
        }
        let mut row = vec![Value::Null; self.cols.len()];
        for (k, v) in dict.iter() {
            if let Some(slot) = self.col_index.get(k).and_then(|&i| row.get_mut(i)) {
                *slot = v.clone();
            }
        }
        self.push_row(row)
    }

    /// Removes every row, keeping meta and columns.
    pub fn clear_rows(&mut self) {
        self.cells.clear();
        self.rows = 0;
    }

    /// Keeps only the rows for which `keep` returns true.
    pub fn retain_rows(&mut self, mut keep: impl FnMut(&Row<'_>) -> bool) {
        let keep: Vec<bool> = self.rows().map(|r| keep(&r)).collect();
        let w = self.cols.len();
        let mut out = Vec::with_capacity(self.cells.len());
        let mut it = std::mem::take(&mut self.cells).into_iter();
        let mut rows = 0;
        for k in keep {
            if k {
                out.extend(it.by_ref().take(w));
                rows += 1;
            } else {
                it.by_ref().take(w).for_each(drop);
            }
        }
        self.cells = out;
        self.rows = rows;
    }

    /// Each row as a dict of its non-null cells.
    pub fn to_dicts(&self) -> Vec<Dict> {
        self.rows().map(|r| r.to_dict()).collect()
    }

    /// Row positions by the id of their `id` Ref, for lookups in grids of entities. Rows without
    /// a Ref `id` are left out; with duplicate ids the last row wins.
    pub fn id_index(&self) -> HashMap<&str, usize> {
        let mut out = HashMap::with_capacity(self.rows);
        if let Some(c) = self.col_index("id") {
            for r in self.rows() {
                if let Some(Value::Ref(id)) = r.cells.get(c) {
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
            .find(|r| matches!(r.cells.get(c), Some(Value::Ref(x)) if x.id() == id))
    }
}

impl PartialEq for Grid {
    fn eq(&self, other: &Self) -> bool {
        self.meta == other.meta
            && self.cols == other.cols
            && self.rows == other.rows
            && self.cells == other.cells
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
            .then_with(|| self.rows.cmp(&other.rows))
            .then_with(|| self.cells.cmp(&other.cells))
    }
}

impl Hash for Grid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.meta.hash(state);
        self.cols.hash(state);
        self.rows.hash(state);
        self.cells.hash(state);
    }
}

impl fmt::Debug for Grid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grid")
            .field("meta", &self.meta)
            .field("cols", &self.cols)
            .field("rows", &self.rows().map(|r| r.cells).collect::<Vec<_>>())
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

/// A view of one grid row: lookups by column name, without copying.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    grid: &'a Grid,
    index: usize,
    cells: &'a [Value],
}

impl<'a> Row<'a> {
    /// The row's position in the grid.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The cells, one per column.
    pub fn cells(&self) -> &'a [Value] {
        self.cells
    }

    /// The cell of column `name`, or `None` if there is no such column or the cell is null.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.grid
            .col_index(name)
            .and_then(|i| self.cells.get(i))
            .filter(|v| !v.is_null())
    }

    /// Whether the row has a non-null cell in column `name`.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The non-null cells with their column names.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.grid
            .cols
            .iter()
            .zip(self.cells)
            .filter(|(_, v)| !v.is_null())
            .map(|(c, v)| (c.name(), v))
    }

    /// The row as a dict of its non-null cells.
    pub fn to_dict(&self) -> Dict {
        let mut d = Dict::with_capacity(self.cells.len());
        for (c, v) in self.grid.cols.iter().zip(self.cells) {
            if !v.is_null() {
                d.insert_valid(c.name.clone(), v.clone());
            }
        }
        d
    }

    /// The `id` cell, if it is a Ref.
    pub fn id(&self) -> Option<&'a crate::Ref> {
        self.get("id").and_then(Value::as_ref)
    }

    /// The `dis` cell, if it is a Str.
    pub fn dis(&self) -> Option<&'a str> {
        self.get("dis").and_then(Value::as_str)
    }
}

/// The rows of a [`Grid`], in order.
#[derive(Debug, Clone)]
pub struct Rows<'a> {
    grid: &'a Grid,
    next: usize,
}

impl<'a> Iterator for Rows<'a> {
    type Item = Row<'a>;

    fn next(&mut self) -> Option<Row<'a>> {
        let r = self.grid.row(self.next)?;
        self.next += 1;
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.grid.rows.saturating_sub(self.next);
        (n, Some(n))
    }
}

impl ExactSizeIterator for Rows<'_> {}

/// Builds a [`Grid`] step by step; the first error (bad name, wrong row width) is reported by
/// [`GridBuilder::build`].
#[derive(Debug, Default)]
pub struct GridBuilder {
    meta: Dict,
    cols: Vec<Col>,
    rows: Vec<Vec<Value>>,
    error: Option<Error>,
}

impl GridBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        GridBuilder::default()
    }

    fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Sets the grid meta.
    pub fn meta(mut self, meta: Dict) -> Self {
        self.meta = meta;
        self
    }

    /// Sets one grid meta tag.
    pub fn meta_tag(mut self, name: impl Into<Arc<str>>, value: impl Into<Value>) -> Self {
        if let Err(e) = self.meta.insert(name, value) {
            self.fail(e);
        }
        self
    }

    /// Adds a column without meta.
    pub fn col(self, name: impl Into<Arc<str>>) -> Self {
        self.col_with_meta(name, Dict::new())
    }

    /// Adds a column with meta.
    pub fn col_with_meta(mut self, name: impl Into<Arc<str>>, meta: Dict) -> Self {
        match Col::with_meta(name, meta) {
            Ok(c) => self.cols.push(c),
            Err(e) => self.fail(e),
        }
        self
    }

    /// Adds a row of one cell per column.
    pub fn row(mut self, cells: Vec<Value>) -> Self {
        self.rows.push(cells);
        self
    }

    /// Adds rows.
    pub fn rows(mut self, rows: impl IntoIterator<Item = Vec<Value>>) -> Self {
        self.rows.extend(rows);
        self
    }

    /// The grid, or the first error met while building.
    pub fn build(self) -> Result<Grid> {
        if let Some(e) = self.error {
            return Err(e);
        }
        Grid::from_parts(self.meta, self.cols, self.rows)
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
        assert_eq!(g.row(0).unwrap().cells(), &[Value::from(1), Value::Null]);
        g.retain_rows(|_| false);
        assert!(g.is_empty());
        assert!(g.add_col("b", Dict::new()).is_err());
    }
}
