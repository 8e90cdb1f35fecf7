//! `haystack reflect`: each entity with the defs it implements (Reflection chapter), through the
//! standard def libraries plus any libs given with `--lib`.
//!
//! Output: one row per input row, with `id` and `dis` (when the row has them), `entityTypes`
//! (the most specific entity types, e.g. `[^ahu]`) and `defs` (every def implemented, tags,
//! conjuncts such as `^hot-water`, and all their supertypes), as symbol lists. Rows stream for
//! Zinc input, like `convert`.

use std::io::Write;
use std::sync::Arc;

use haystack_core::defs::Namespace;
use haystack_core::{Col, Dict, Value};

use super::convert::Writer;
use super::input::format_named;
use super::stream::{RowSink, pump};
use super::{CliError, Input, Outcome, ReflectArgs};

/// The output columns.
const COLS: [&str; 4] = ["id", "dis", "entityTypes", "defs"];

/// Reflects each row and writes one output row for it.
struct Reflector<'a, 'w> {
    ns: &'a Namespace,
    names: Vec<Arc<str>>,
    out: Writer<'w>,
}

impl RowSink for Reflector<'_, '_> {
    fn header(&mut self, _meta: &Dict, cols: &[Col]) -> Result<(), CliError> {
        self.names = cols.iter().map(|c| c.shared_name().clone()).collect();
        let out_cols: Vec<Col> = COLS
            .iter()
            .map(|n| Col::new(*n).map_err(|e| CliError::Output(e.to_string())))
            .collect::<Result<_, _>>()?;
        self.out.header(&Dict::new(), &out_cols)
    }

    fn row(&mut self, cells: &[Value]) -> Result<(), CliError> {
        let mut dict = Dict::with_capacity(cells.len());
        for (name, value) in self.names.iter().zip(cells) {
            if !value.is_null() {
                dict.insert_valid(name.clone(), value.clone());
            }
        }
        let r = self.ns.reflect(&dict);
        let symbols = |defs: &mut dyn Iterator<Item = &haystack_core::defs::Def>| {
            Value::List(defs.map(|d| Value::Symbol(d.symbol().into())).collect())
        };
        let row = [
            dict.get("id").cloned().unwrap_or_default(),
            dict.get("dis").cloned().unwrap_or_default(),
            symbols(&mut r.entity_types().into_iter()),
            symbols(&mut r.defs()),
        ];
        self.out.row(&row)
    }
}

/// The namespace: the standard libraries, plus each `--lib` Trio file as one lib.
fn namespace(libs: &[String]) -> Result<Namespace, CliError> {
    let mut builder = Namespace::builder();
    for path in libs {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::Read {
            name: path.clone(),
            source: e,
        })?;
        let records =
            haystack_zinc::trio::from_str(&text).map_err(|e| CliError::from_zinc(path, e))?;
        builder = builder.lib(records);
    }
    builder
        .build()
        .map_err(|e| CliError::Usage(format!("the def libraries do not compile: {e}")))
}

pub(crate) fn run(
    args: &ReflectArgs,
    lenient: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let to = format_named(args.to.as_deref().unwrap_or("zinc"))?;
    let built;
    let ns = if args.lib.is_empty() {
        Namespace::standard()
    } else {
        built = namespace(&args.lib)?;
        &built
    };
    let input = Input::from_arg(args.file.as_deref());
    let (from, reader) = input.open_detect(args.from.as_deref())?;
    let mut sink = Reflector {
        ns,
        names: Vec::new(),
        out: Writer::new(to, out),
    };
    pump(&input, from, reader, lenient, &mut sink)?;
    sink.out.finish()?;
    Ok(Outcome::Ok)
}
