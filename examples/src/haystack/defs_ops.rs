//! The `defs`, `libs` and `filetypes` ops (Ops chapter): the def dicts of the server's
//! namespace (the standard Haystack 4 libraries), all of them or those matching `filter`, at
//! most `limit` (default [`DEFAULT_DEFS_LIMIT`]); filters are def-aware, as in `read`. `libs` queries only the lib defs,
//! `filetypes` only the `filetype:` defs.

use haystack_core::defs::{Def, Namespace};
use haystack_core::{Dict, Grid, Number, Value};

use super::request::{OpError, parse_filter};

/// The most defs one response holds unless the request's `limit` says otherwise (more than
/// the standard libraries have).
pub const DEFAULT_DEFS_LIMIT: usize = 10_000;

/// Which defs an op queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefsOp {
    /// `defs`: every def.
    Defs,
    /// `libs`: the lib defs (`lib:ph`, ...).
    Libs,
    /// `filetypes`: the filetype defs (`filetype:zinc`, ...).
    Filetypes,
}

impl DefsOp {
    /// The op for a name, if it is one of these.
    pub fn named(op: &str) -> Option<DefsOp> {
        match op {
            "defs" => Some(DefsOp::Defs),
            "libs" => Some(DefsOp::Libs),
            "filetypes" => Some(DefsOp::Filetypes),
            _ => None,
        }
    }

    fn wants(self, def: &Def) -> bool {
        match self {
            DefsOp::Defs => true,
            DefsOp::Libs => def.feature_key().is_some_and(|(f, _)| f == "lib"),
            DefsOp::Filetypes => def.feature_key().is_some_and(|(f, _)| f == "filetype"),
        }
    }
}

/// Answers the op from the first request row (`filter`, `limit`, both optional).
pub fn defs_op(op: DefsOp, rows: &[Dict]) -> Result<Grid, OpError> {
    let first = rows.first().cloned().unwrap_or_default();
    let filter = match first.get("filter") {
        None | Some(Value::Null) => None,
        Some(Value::Str(text)) => Some(parse_filter(text)?),
        Some(other) => {
            return Err(OpError::op(format!(
                "filter must be a Str, not {}",
                other.kind()
            )));
        }
    };
    let limit = match first.get("limit") {
        None | Some(Value::Null) => DEFAULT_DEFS_LIMIT,
        Some(Value::Number(n)) if n.value() >= 1.0 => n.value() as usize,
        Some(Value::Number(_)) => return Err(OpError::op("limit must be at least 1")),
        Some(other) => {
            return Err(OpError::op(format!(
                "limit must be a Number, not {}",
                other.kind()
            )));
        }
    };
    let ns = Namespace::standard();
    let filter = filter
        .map(|f| f.in_namespace(ns))
        .transpose()
        .map_err(|e| OpError::op(format!("bad filter: {e}")))?;
    let mut matched = ns
        .defs()
        .filter(|d| op.wants(d))
        .filter(|d| filter.as_ref().is_none_or(|f| f.matches(d.dict())));
    let dicts: Vec<&Dict> = matched.by_ref().take(limit).map(Def::dict).collect();
    let mut grid = Grid::from_dicts(dicts.iter().copied());
    if matched.next().is_some() {
        let mut incomplete = Dict::new();
        let _ = incomplete.insert(
            "dis",
            format!("more than {limit} defs match; only the first {limit} are returned"),
        );
        let _ = incomplete.insert("limit", Number::from(limit as f64));
        let _ = grid
            .meta_mut()
            .insert("incomplete", Value::Dict(incomplete));
    }
    Ok(grid)
}
