//! `haystack filter`: the rows that match a Haystack filter.
//!
//! Without `->` paths, rows stream straight from the input to the output. With paths, the
//! referenced entities' tags are needed: a first pass keeps, for every row with an `id`, only
//! the tags that some path reads after a `->` (e.g. `geoCity` for `siteRef->geoCity`), so its
//! memory is a few values per entity, not whole rows; the second pass streams and filters.
//! A file is simply read twice; standard input is held in memory for the second pass.
//! Formats that are read whole (Trio, JSON v3) are filtered in memory with a `GridIndex`.

use std::collections::{BTreeSet, HashMap};
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

pub(crate) fn run(args: &FilterArgs, out: &mut dyn Write) -> Result<Outcome, CliError> {
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
        let grid = input.read_grid(from, reader)?;
        let index = GridIndex::new(&grid);
        let compiled = filter.compile_for(&grid);
        writer.header(grid.meta(), grid.cols())?;
        for r in grid.rows() {
            if compiled.matches_cells(r.cells(), &index) {
                writer.row(r.cells())?;
            }
        }
        writer.finish()?;
        return Ok(Outcome::Ok);
    }
    if needed.is_empty() {
        let mut sink = Matcher::new(&filter, NoResolver, &mut writer);
        pump(&input, from, reader, &mut sink)?;
    } else {
        // Pass 1: the tags paths read, per id. Pass 2: filter.
        let (first, second): (Box<dyn Read>, Box<dyn Read>) = match &input {
            Input::Stdin => {
                let mut bytes = Vec::new();
                let mut reader = reader;
                reader
                    .read_to_end(&mut bytes)
                    .map_err(|e| input.read_error(e))?;
                let bytes: Arc<[u8]> = bytes.into();
                (
                    Box::new(Cursor::new(bytes.clone())),
                    Box::new(Cursor::new(bytes)),
                )
            }
            Input::Path(_) => (reader, input.open()?),
        };
        let mut projector = Projector::new(&needed);
        pump(&input, from, first, &mut projector)?;
        let entities = projector.entities;
        let mut sink = Matcher::new(&filter, &entities, &mut writer);
        pump(&input, from, second, &mut sink)?;
    }
    writer.finish()?;
    Ok(Outcome::Ok)
}

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
        }
    }
    let mut out = BTreeSet::new();
    walk(filter.node(), &mut out);
    out
}

/// First pass: for each row with an `id` Ref, the non-null values of the needed tags.
struct Projector<'n> {
    needed: &'n BTreeSet<String>,
    id_col: Option<usize>,
    cols: Vec<(usize, Arc<str>)>,
    entities: HashMap<String, Dict>,
}

impl<'n> Projector<'n> {
    fn new(needed: &'n BTreeSet<String>) -> Self {
        Projector {
            needed,
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

/// Second pass: the rows that match go on to the writer.
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
    }
}
