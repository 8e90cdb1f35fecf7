//! Views of grid rows ([`Row`], [`Rows`], [`Cells`]) and the row filler of
//! [`Grid::push_row_with`] ([`RowCells`]).

use std::iter::FusedIterator;

use super::Grid;
use crate::{Dict, Value};

/// The null every absent cell reads as.
static NULL: Value = Value::Null;

/// A view of one grid row: its tags (non-null cells) in column order, looked up by column name
/// or position without copying.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub(super) grid: &'a Grid,
    pub(super) index: usize,
    pub(super) cols: &'a [u32],
    pub(super) values: &'a [Value],
}

impl<'a> Row<'a> {
    /// The row's position in the grid.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The grid the row belongs to.
    pub fn grid(&self) -> &'a Grid {
        self.grid
    }

    /// The number of tags (non-null cells) of the row.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the row has no tags (every cell is null).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The cell of column position `col`, or `None` if it is null or there is no such column.
    #[inline]
    pub fn cell(&self, col: usize) -> Option<&'a Value> {
        let col = u32::try_from(col).ok()?;
        let i = match self.cols.len() {
            // Short rows: a scan beats the branches of a binary search.
            0..=8 => self.cols.iter().position(|&c| c == col)?,
            _ => self.cols.binary_search(&col).ok()?,
        };
        self.values.get(i)
    }

    /// One cell per column of the grid, in column order, [`Value::Null`] where the row lacks
    /// the tag.
    pub fn cells(&self) -> Cells<'a> {
        Cells {
            cols: self.cols,
            values: self.values,
            next: 0,
            width: self.grid.cols.len(),
        }
    }

    /// The row as one cell per column (nulls included), copied.
    pub fn to_cells(&self) -> Vec<Value> {
        self.cells().cloned().collect()
    }

    /// The tags as (column position, value) pairs, in column order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = (usize, &'a Value)> + 'a {
        self.cols.iter().map(|&c| c as usize).zip(self.values)
    }

    /// The cell of column `name`, or `None` if there is no such column or the cell is null.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.grid.col_index(name).and_then(|i| self.cell(i))
    }

    /// Whether the row has a non-null cell in column `name`.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The non-null cells with their column names, in column order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        let cols = &self.grid.cols;
        self.cols
            .iter()
            .zip(self.values)
            .filter_map(move |(&c, v)| Some((cols.get(c as usize)?.name(), v)))
    }

    /// The row as a dict of its non-null cells.
    pub fn to_dict(&self) -> Dict {
        let mut d = Dict::with_capacity(self.values.len());
        for (&c, v) in self.cols.iter().zip(self.values) {
            if let Some(col) = self.grid.cols.get(c as usize) {
                d.insert_valid(col.shared_name().clone(), v.clone());
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

/// One cell per column of a [`Row`], nulls included; see [`Row::cells`].
#[derive(Debug, Clone)]
pub struct Cells<'a> {
    cols: &'a [u32],
    values: &'a [Value],
    next: usize,
    width: usize,
}

impl<'a> Iterator for Cells<'a> {
    type Item = &'a Value;

    #[inline]
    fn next(&mut self) -> Option<&'a Value> {
        if self.next >= self.width {
            return None;
        }
        let col = self.next;
        self.next += 1;
        match (self.cols.split_first(), self.values.split_first()) {
            (Some((&c, cols)), Some((v, values))) if c as usize == col => {
                self.cols = cols;
                self.values = values;
                Some(v)
            }
            _ => Some(&NULL),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.width.saturating_sub(self.next);
        (n, Some(n))
    }
}

impl ExactSizeIterator for Cells<'_> {}

impl FusedIterator for Cells<'_> {}

/// The rows of a [`Grid`], in order.
#[derive(Debug, Clone)]
pub struct Rows<'a> {
    pub(super) grid: &'a Grid,
    pub(super) next: usize,
}

impl<'a> Iterator for Rows<'a> {
    type Item = Row<'a>;

    #[inline]
    fn next(&mut self) -> Option<Row<'a>> {
        let r = self.grid.row(self.next)?;
        self.next += 1;
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.grid.len().saturating_sub(self.next);
        (n, Some(n))
    }
}

impl ExactSizeIterator for Rows<'_> {}

impl FusedIterator for Rows<'_> {}

/// The row being filled by [`Grid::push_row_with`]: cells are pushed in column order, one per
/// column; nulls are counted but not stored.
#[derive(Debug)]
pub struct RowCells<'g> {
    pub(super) cols: &'g mut Vec<u32>,
    pub(super) values: &'g mut Vec<Value>,
    pub(super) width: usize,
    pub(super) pushed: usize,
    /// Where the previous row's tags start and end in `cols`/`values`.
    pub(super) above: (usize, usize),
}

impl RowCells<'_> {
    /// Appends the next cell (the cell of column [`RowCells::len`]).
    #[inline(always)]
    pub fn push(&mut self, value: Value) {
        if !value.is_null() && self.pushed < self.width {
            // `width` fits in u32 (checked when columns are added), so `pushed` does too.
            self.cols.push(self.pushed as u32);
            self.values.push(value);
        }
        self.pushed += 1;
    }

    /// Appends `n` null cells (nothing is stored: the same as pushing [`Value::Null`] `n`
    /// times, without building and dropping them).
    #[inline]
    pub fn skip(&mut self, n: usize) {
        self.pushed += n;
    }

    /// The number of cells pushed so far.
    pub fn len(&self) -> usize {
        self.pushed
    }

    /// Whether no cell was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.pushed == 0
    }

    /// The non-null cell of column `col` in the row above this one, if any (readers use it to
    /// copy a repeated cell instead of parsing it again).
    #[inline]
    pub fn above(&self, col: usize) -> Option<&Value> {
        let (a, b) = self.above;
        let col = u32::try_from(col).ok()?;
        let cols = self.cols.get(a..b)?;
        let i = cols.binary_search(&col).ok()?;
        self.values.get(a + i)
    }
}
