//! The column view of a grid's sparse rows: for each column, the rows that have a tag there
//! and where the tag is, in row order. Built on first use (by filters that select rows) and
//! dropped whenever the grid's rows or columns change.

use super::Grid;
use crate::Value;

/// For each column, the rows with a tag in it (ascending) and the positions of those tags in
/// the grid's value buffer: the transpose of the grid's per-row (column, value) pairs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Columns {
    /// Where each column's entries start in `rows`/`tags`; one more than the columns.
    starts: Vec<u32>,
    rows: Vec<u32>,
    tags: Vec<u32>,
}

impl Columns {
    /// The column view of `grid`, or `None` when its rows or tags do not fit `u32` positions.
    pub(crate) fn build(grid: &Grid) -> Option<Columns> {
        let ntags = u32::try_from(grid.values.len()).ok()?;
        u32::try_from(grid.ends.len()).ok()?;
        let ncols = grid.cols.len();
        let mut starts = vec![0u32; ncols + 1];
        for &c in &grid.tag_cols {
            // Tag columns are below `ncols` (checked when rows are added).
            if let Some(n) = starts.get_mut(c as usize + 1) {
                *n += 1;
            }
        }
        for i in 1..starts.len() {
            let prev = starts.get(i - 1).copied().unwrap_or(0);
            if let Some(s) = starts.get_mut(i) {
                *s += prev;
            }
        }
        let mut next: Vec<u32> = starts.clone();
        let mut rows = vec![0u32; ntags as usize];
        let mut tags = vec![0u32; ntags as usize];
        let mut start = 0usize;
        for (row, &end) in grid.ends.iter().enumerate() {
            for t in start..end {
                let Some(&c) = grid.tag_cols.get(t) else {
                    continue;
                };
                let Some(slot) = next.get_mut(c as usize) else {
                    continue;
                };
                let at = *slot as usize;
                *slot += 1;
                if let (Some(r), Some(p)) = (rows.get_mut(at), tags.get_mut(at)) {
                    // Both fit u32: checked above.
                    *r = row as u32;
                    *p = t as u32;
                }
            }
            start = end;
        }
        Some(Columns { starts, rows, tags })
    }

    /// The rows with a tag in column `col` and the tags, in row order.
    #[inline]
    pub(crate) fn entries<'g>(
        &'g self,
        grid: &'g Grid,
        col: usize,
    ) -> impl Iterator<Item = (usize, &'g Value)> + 'g {
        let a = self.starts.get(col).copied().unwrap_or(0) as usize;
        let b = self.starts.get(col + 1).copied().unwrap_or(0) as usize;
        let rows = self.rows.get(a..b).unwrap_or_default();
        let tags = self.tags.get(a..b).unwrap_or_default();
        rows.iter()
            .zip(tags)
            .filter_map(move |(&r, &t)| Some((r as usize, grid.values.get(t as usize)?)))
    }

    /// The rows with a tag in column `col`, ascending.
    #[inline]
    pub(crate) fn rows(&self, col: usize) -> &[u32] {
        let a = self.starts.get(col).copied().unwrap_or(0) as usize;
        let b = self.starts.get(col + 1).copied().unwrap_or(0) as usize;
        self.rows.get(a..b).unwrap_or_default()
    }
}
