//! `haystack filter`: the rows that match a Haystack filter.
//!
//! Without `->` paths, rows stream straight from the input to the output. With paths, the
//! referenced entities' tags are needed, so the input is read three times:
//! 1. collect the ids that the paths can reach: every Ref in the columns a path starts from or
//!    goes through (`siteRef` for `siteRef->geoCity`; also `siteRef` of `equipRef->siteRef->x`);
//! 2. for the rows with one of those ids, keep only the tags the paths read after a `->`
//!    (`geoCity`);
//! 3. stream the rows and filter them with those entities.
//!
//! Memory is then the referenced ids and a few values for each (sites and equips, say), not the
//! rows. A file is simply read again; standard input is held in memory for the later passes.
//! Formats that are read whole (Trio, JSON v3) are filtered in memory with a `GridIndex`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{Cursor, Read, Write};
use std::sync::Arc;

use haystack_core::filter::Node;
use haystack_core::filter::{CompiledFilter, Filter, GridIndex, NoResolver, Resolver};
use haystack_core::{Col, Dict, Grid, Value};

use super::convert::Writer;
use super::input::format_named;
use super::stream::{RowSink, pump};
use super::{CliError, FilterArgs, Input, Outcome};
use crate::haystack::formats::Format;

pub(crate) fn run(
    args: &FilterArgs,
    lenient: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let filter = Filter::parse(&args.filter).map_err(CliError::Filter)?;
    let input = Input::from_arg(args.file.as_deref());
    let (from, reader) = input.open_detect(args.from.as_deref())?;
    let to = match &args.to {
        Some(name) => format_named(name)?,
        None => from,
    };
    let needed = path_tags(&filter);
    let mut writer = Writer::new(to, out);
    if !matches!(from, Format::Zinc | Format::Json) {
        // Read whole: filter with an index of the grid's own ids.
        let grid = input.read_grid(from, reader, lenient)?;
        let index = GridIndex::new(&grid);
        let compiled = filter.compile_for(&grid);
        writer.header(grid.meta(), grid.cols())?;
        for r in grid.rows() {
            if compiled.matches_row(&r, &index) {
                writer.row(&r.to_cells())?;
            }
        }
        writer.finish()?;
        return Ok(Outcome::Ok);
    }
    if needed.is_empty() {
        let mut sink = Matcher::new(&filter, NoResolver, &mut writer);
        pump(&input, from, reader, lenient, &mut sink)?;
    } else {
        // Pass 1: the tags paths read, per id. Pass 2: filter.
        let (first, again): (Box<dyn Read>, Reopen) = match &input {
            Input::Stdin => {
                let mut bytes = Vec::new();
                let mut reader = reader;
                reader
                    .read_to_end(&mut bytes)
                    .map_err(|e| input.read_error(e))?;
                let bytes: Arc<[u8]> = bytes.into();
                let copy = bytes.clone();
                (
                    Box::new(Cursor::new(bytes)),
                    Box::new(move || Ok(Box::new(Cursor::new(copy.clone())) as Box<dyn Read>)),
                )
            }
            Input::Path(_) => {
                let input = input.clone();
                (reader, Box::new(move || input.open()))
            }
        };
        let mut through = path_starts(&filter);
        through.extend(needed.iter().cloned());
        let mut refs = Referenced {
            cols: &through,
            at: Vec::new(),
            ids: HashSet::new(),
        };
        pump(&input, from, first, lenient, &mut refs)?;
        let mut projector = Projector::new(&needed, &refs.ids);
        pump(&input, from, again()?, lenient, &mut projector)?;
        let entities = projector.entities;
        let mut sink = Matcher::new(&filter, &entities, &mut writer);
        pump(&input, from, again()?, lenient, &mut sink)?;
    }
    writer.finish()?;
    Ok(Outcome::Ok)
}

/// Opens the input again, for one more pass.
type Reopen = Box<dyn Fn() -> Result<Box<dyn Read>, CliError>>;

/// The tag names that paths read after a `->`: `a->b->c` needs `b` and `c`.
fn path_tags(filter: &Filter) -> BTreeSet<String> {
    fn walk(n: &Node, out: &mut BTreeSet<String>) {
        match n {
            Node::Has(p) | Node::Missing(p) | Node::Cmp(p, _, _) => {
                out.extend(p.names().iter().skip(1).cloned());
            }
            Node::And(parts) | Node::Or(parts) => {
                for p in parts {
                    walk(p, out);
                }
            }
            Node::Spec(_) => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(filter.node(), &mut out);
    out
}

/// The first tag of every path with a `->`: `siteRef` for `siteRef->geoCity`.
fn path_starts(filter: &Filter) -> BTreeSet<String> {
    fn walk(n: &Node, out: &mut BTreeSet<String>) {
        match n {
            Node::Has(p) | Node::Missing(p) | Node::Cmp(p, _, _) => {
                if p.names().len() > 1 {
                    out.insert(p.first().to_owned());
                }
            }
            Node::And(parts) | Node::Or(parts) => {
                for p in parts {
                    walk(p, out);
                }
            }
            Node::Spec(_) => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(filter.node(), &mut out);
    out
}

/// First pass: the ids of every Ref (also inside lists) in the columns paths go through.
struct Referenced<'c> {
    cols: &'c BTreeSet<String>,
    at: Vec<usize>,
    ids: HashSet<String>,
}

impl RowSink for Referenced<'_> {
    fn header(&mut self, _meta: &Dict, cols: &[Col]) -> Result<(), CliError> {
        self.at = cols
            .iter()
            .enumerate()
            .filter(|(_, c)| self.cols.contains(c.name()))
            .map(|(i, _)| i)
            .collect();
        Ok(())
    }

    fn row(&mut self, cells: &[Value]) -> Result<(), CliError> {
        for v in self.at.iter().filter_map(|&i| cells.get(i)) {
            let refs: &[Value] = match v {
                Value::List(items) => items,
                other => std::slice::from_ref(other),
            };
            for r in refs.iter().filter_map(Value::as_ref) {
                if !self.ids.contains(r.id()) {
                    self.ids.insert(r.id().to_owned());
                }
            }
        }
        Ok(())
    }
}

/// Second pass: for each referenced row, the non-null values of the needed tags.
struct Projector<'n> {
    needed: &'n BTreeSet<String>,
    referenced: &'n HashSet<String>,
    id_col: Option<usize>,
    cols: Vec<(usize, Arc<str>)>,
    entities: HashMap<String, Dict>,
}

impl<'n> Projector<'n> {
    fn new(needed: &'n BTreeSet<String>, referenced: &'n HashSet<String>) -> Self {
        Projector {
            needed,
            referenced,
            id_col: None,
            cols: Vec::new(),
            entities: HashMap::new(),
        }
    }
}

impl RowSink for Projector<'_> {
    fn header(&mut self, _meta: &Dict, cols: &[Col]) -> Result<(), CliError> {
        self.id_col = cols.iter().position(|c| c.name() == "id");
        self.cols = cols
            .iter()
            .enumerate()
            .filter(|(_, c)| self.needed.contains(c.name()))
            .map(|(i, c)| (i, c.shared_name().clone()))
            .collect();
        Ok(())
    }

    fn row(&mut self, cells: &[Value]) -> Result<(), CliError> {
        let Some(Value::Ref(id)) = self.id_col.and_then(|i| cells.get(i)) else {
            return Ok(());
        };
        if !self.referenced.contains(id.id()) {
            return Ok(());
        }
        let mut d = Dict::new();
        for (i, name) in &self.cols {
            if let Some(v) = cells.get(*i).filter(|v| !v.is_null()) {
                d.insert_valid(name.clone(), v.clone());
            }
        }
        if !d.is_empty() {
            self.entities.insert(id.id().to_owned(), d);
        }
        Ok(())
    }
}

/// Last pass: the rows that match go on to the writer.
struct Matcher<'a, 'w, R> {
    filter: &'a Filter,
    resolver: R,
    compiled: Option<CompiledFilter>,
    writer: &'a mut Writer<'w>,
}

impl<'a, 'w, R: Resolver> Matcher<'a, 'w, R> {
    fn new(filter: &'a Filter, resolver: R, writer: &'a mut Writer<'w>) -> Self {
        Matcher {
            filter,
            resolver,
            compiled: None,
            writer,
        }
    }
}

impl<R: Resolver> RowSink for Matcher<'_, '_, R> {
    fn header(&mut self, meta: &Dict, cols: &[Col]) -> Result<(), CliError> {
        let shape = Grid::with_cols(Dict::new(), cols.to_vec())
            .map_err(|e| CliError::Output(e.to_string()))?;
        self.compiled = Some(self.filter.compile_for(&shape));
        self.writer.header(meta, cols)
    }

    fn row(&mut self, cells: &[Value]) -> Result<(), CliError> {
        let hit = self
            .compiled
            .as_ref()
            .is_some_and(|c| c.matches_cells(cells, &self.resolver));
        if hit {
            self.writer.row(cells)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_tags_are_the_names_after_an_arrow() {
        let f =
            Filter::parse("point and (equipRef->siteRef->geoCity == \"X\" or not siteRef->dis)")
                .unwrap();
        let tags: Vec<String> = path_tags(&f).into_iter().collect();
        assert_eq!(tags, ["dis", "geoCity", "siteRef"]);
        let starts: Vec<String> = path_starts(&f).into_iter().collect();
        assert_eq!(starts, ["equipRef", "siteRef"]);
    }
}
