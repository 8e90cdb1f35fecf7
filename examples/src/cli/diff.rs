//! `haystack diff`: two sets of entities compared by `id`.

use std::collections::HashMap;
use std::io::Write;

use haystack_core::{Dict, Grid, Value};

use super::{CliError, DiffArgs, Input, Outcome};

/// The entities of a grid by id, in row order; rows without an `id` Ref are counted apart.
struct Entities {
    order: Vec<(Value, Dict)>,
    by_id: HashMap<String, usize>,
    without_id: usize,
}

impl Entities {
    fn of(grid: &Grid) -> Entities {
        let mut e = Entities {
            order: Vec::with_capacity(grid.len()),
            by_id: HashMap::with_capacity(grid.len()),
            without_id: 0,
        };
        for r in grid.rows() {
            let Some(id) = r.id() else {
                e.without_id += 1;
                continue;
            };
            let dict = r.to_dict();
            match e.by_id.get(id.id()) {
                // A repeated id: the last row wins, as a later write would.
                Some(&i) => {
                    if let Some(slot) = e.order.get_mut(i) {
                        slot.1 = dict;
                    }
                }
                None => {
                    e.by_id.insert(id.id().to_owned(), e.order.len());
                    e.order.push((Value::Ref(id.clone()), dict));
                }
            }
        }
        e
    }

    fn get(&self, id: &Value) -> Option<&Dict> {
        let id = id.as_ref()?.id();
        self.by_id
            .get(id)
            .and_then(|&i| self.order.get(i))
            .map(|(_, d)| d)
    }
}

fn load(arg: &str, from: Option<&str>, lenient: bool) -> Result<Grid, CliError> {
    let input = Input::from_arg(Some(arg));
    let (format, reader) = input.open_detect(from)?;
    input.read_grid(format, reader, lenient)
}

pub(crate) fn run(
    args: &DiffArgs,
    lenient: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    if args.a == "-" && args.b == "-" {
        return Err(CliError::Usage(
            "only one of A and B can be standard input".into(),
        ));
    }
    let a = Entities::of(&load(&args.a, args.from.as_deref(), lenient)?);
    let b = Entities::of(&load(&args.b, args.from.as_deref(), lenient)?);
    let text = diff(&a, &b);
    out.write_all(text.as_bytes()).map_err(CliError::Write)?;
    Ok(if text.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Finding
    })
}

/// The text of the differences, empty when there are none.
fn diff(a: &Entities, b: &Entities) -> String {
    let mut text = String::new();
    let (mut added, mut removed, mut changed) = (0usize, 0usize, 0usize);
    for (id, old) in &a.order {
        match b.get(id) {
            None => {
                removed += 1;
                text.push_str(&format!("- {id}\n"));
            }
            Some(new) => {
                let tags = changed_tags(old, new);
                if !tags.is_empty() {
                    changed += 1;
                    text.push_str(&format!("~ {id}\n{tags}"));
                }
            }
        }
    }
    for (id, _) in &b.order {
        if a.get(id).is_none() {
            added += 1;
            text.push_str(&format!("+ {id}\n"));
        }
    }
    if !text.is_empty() {
        text.push_str(&format!(
            "{added} added, {removed} removed, {changed} changed (A: {} entities, B: {})\n",
            a.order.len(),
            b.order.len()
        ));
    }
    if a.without_id + b.without_id > 0 && !text.is_empty() {
        text.push_str(&format!(
            "skipped rows without an id: {} in A, {} in B\n",
            a.without_id, b.without_id
        ));
    }
    text
}

/// One line per changed tag: `tag: OLD -> NEW`, `- tag: OLD`, `+ tag: NEW` (values in Zinc).
fn changed_tags(old: &Dict, new: &Dict) -> String {
    let mut s = String::new();
    for (k, v) in old.iter() {
        match new.get(k) {
            None => s.push_str(&format!("    - {k}: {v}\n")),
            Some(w) if !same(v, w) => s.push_str(&format!("    {k}: {v} -> {w}\n")),
            Some(_) => {}
        }
    }
    for (k, w) in new.iter() {
        if old.get(k).is_none() {
            s.push_str(&format!("    + {k}: {w}\n"));
        }
    }
    s
}

/// Equal values; refs also need the same display name, so a renamed reference shows.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Ref(x), Value::Ref(y)) => x.id() == y.id() && x.dis() == y.dis(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(zinc: &str) -> Grid {
        haystack_zinc::from_str(zinc).unwrap()
    }

    #[test]
    fn added_removed_changed() {
        let a = grid("ver:\"3.0\"\nid,dis,area,site\n@a,\"A\",1,M\n@b,\"B\",,M\n,\"no id\",,\n");
        let b = grid("ver:\"3.0\"\nid,dis,area,geoCity\n@a,\"A2\",1,\"X\"\n@c,\"C\",,\n");
        let text = diff(&Entities::of(&a), &Entities::of(&b));
        assert_eq!(
            text,
            "~ @a\n    dis: \"A\" -> \"A2\"\n    - site: M\n    + geoCity: \"X\"\n- @b\n+ @c\n\
             1 added, 1 removed, 1 changed (A: 2 entities, B: 2)\n\
             skipped rows without an id: 1 in A, 0 in B\n"
        );
        assert_eq!(diff(&Entities::of(&a), &Entities::of(&a)), "");
    }
}
