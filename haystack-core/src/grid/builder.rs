//! [`GridBuilder`]: a grid built step by step.

use std::sync::Arc;

use super::{Col, Grid};
use crate::{Dict, Error, Result, Value};

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
