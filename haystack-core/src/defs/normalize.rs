//! The Normalization chapter's pipeline: libs of declared def records in, a [`Namespace`] out.
//!
//! Steps: parse (def and defx records, one meta per lib, no duplicate symbols), resolve (every
//! tag name and symbol value is defined in the lib's namespace: the lib and the libs it depends
//! on directly), taxonify (the `is` tree, implied `is` of feature keys, no cycles), defx, normalize
//! tags (the inferred `lib`, list-valued tags as lists), validate (`validate.rs`), inherit.

use hashbrown::HashMap;
use std::sync::Arc;

use super::{Def, DefError, DefKind, Namespace, symbols, validate};
use crate::{Dict, Value, is_tag_name};

/// The most defs in one def's inheritance (itself and its supertypes): the standard libraries
/// need 20; a namespace keeps every def's inheritance, so this bounds its memory.
pub(super) const MAX_INHERITANCE: usize = 1024;

/// The root terms, which alone have no `is` (Subtyping chapter).
const ROOTS: [&str; 3] = ["marker", "val", "feature"];

/// A declared def while the namespace is compiled.
pub(super) struct Raw {
    pub symbol: Arc<str>,
    pub kind: DefKind,
    /// Index of the lib (in input order).
    pub lib: usize,
    pub dict: Dict,
    pub is: Vec<u32>,
    pub inheritance: Vec<u32>,
    pub sorted: Vec<u32>,
}

/// What the validation step needs to know about the defs being compiled.
pub(super) struct Ctx {
    pub defs: Vec<Raw>,
    pub index: HashMap<Arc<str>, u32>,
    /// For each lib: the index of its meta def.
    pub lib_meta: Vec<u32>,
    /// For each lib: which libs are in its namespace.
    pub scope: Vec<Vec<bool>>,
}

impl Ctx {
    pub fn id(&self, symbol: &str) -> Option<u32> {
        self.index.get(symbol).copied()
    }

    pub fn raw(&self, id: u32) -> Option<&Raw> {
        self.defs.get(id as usize)
    }

    /// Whether def `id` is `base` or one of its subtypes (after taxonify).
    pub fn fits(&self, id: u32, base: &str) -> bool {
        match (self.raw(id), self.id(base)) {
            (Some(d), Some(b)) => d.sorted.binary_search(&b).is_ok(),
            _ => false,
        }
    }

    /// Whether the def of tag `tag` declares marker `meta` (e.g. `accumulate`).
    pub fn tag_has(&self, tag: &str, meta: &str) -> bool {
        self.id(tag)
            .and_then(|i| self.raw(i))
            .is_some_and(|d| d.dict.get(meta).is_some_and(Value::is_marker))
    }

    pub fn lib_name(&self, lib: usize) -> &str {
        self.lib_meta
            .get(lib)
            .and_then(|&m| self.raw(m))
            .map_or("?", |d| &d.symbol)
    }

    /// The def named `symbol` if it is in the namespace of `lib`.
    fn visible(&self, lib: usize, symbol: &str) -> Option<u32> {
        let id = self.id(symbol)?;
        let def_lib = self.raw(id)?.lib;
        let in_scope = self.scope.get(lib)?.get(def_lib).copied()?;
        in_scope.then_some(id)
    }
}

fn def_symbol<'a>(d: &'a Dict, tag: &str) -> Option<&'a str> {
    d.get(tag).and_then(Value::as_symbol)
}

fn id32(n: usize) -> Result<u32, DefError> {
    u32::try_from(n).map_err(|_| DefError::invalid("?", "more than 2^32 defs"))
}

/// Compiles libs (each a list of declared records with one lib meta) into a namespace.
pub(super) fn compile(inputs: Vec<Vec<Dict>>) -> Result<Namespace, DefError> {
    let (mut ctx, defxs) = parse(inputs)?;
    scopes(&mut ctx)?;
    for d in &ctx.defs {
        resolve(&ctx, d.lib, &d.symbol, &d.dict)?;
    }
    for (lib, dx) in &defxs {
        let target = def_symbol(dx, "defx").unwrap_or("?");
        resolve(&ctx, *lib, target, dx)?;
    }
    taxonify(&mut ctx)?;
    apply_defx(&mut ctx, defxs)?;
    normalize_tags(&mut ctx)?;
    validate::validate(&ctx)?;
    let effective = inherit(&ctx)?;
    Ok(generate(ctx, effective))
}

type Defx = (usize, Dict);

fn parse(inputs: Vec<Vec<Dict>>) -> Result<(Ctx, Vec<Defx>), DefError> {
    let mut ctx = Ctx {
        defs: Vec::new(),
        index: HashMap::new(),
        lib_meta: Vec::new(),
        scope: Vec::new(),
    };
    let mut defxs = Vec::new();
    for (lib, mut recs) in inputs.into_iter().enumerate() {
        let is_meta = |r: &Dict| def_symbol(r, "def").is_some_and(|s| s.starts_with("lib:"));
        let metas: Vec<usize> = (0..recs.len())
            .filter(|&i| recs.get(i).is_some_and(is_meta))
            .collect();
        let meta = match metas.as_slice() {
            [one] => *one,
            [] => {
                let first_def = recs
                    .iter()
                    .find_map(|r| def_symbol(r, "def").or_else(|| def_symbol(r, "defx")))
                    .unwrap_or("?")
                    .to_owned();
                return Err(DefError::MissingLibMeta { first_def });
            }
            [_, second, ..] => {
                let s = recs.get(*second).and_then(|r| def_symbol(r, "def"));
                return Err(DefError::invalid(
                    s.unwrap_or("?"),
                    "a second lib meta record in one lib",
                ));
            }
        };
        // The meta first, so that a lib's meta def precedes its other defs.
        let meta_rec = recs.remove(meta);
        ctx.lib_meta.push(id32(ctx.defs.len())?);
        for (n, rec) in std::iter::once(meta_rec).chain(recs).enumerate() {
            match (def_symbol(&rec, "def"), def_symbol(&rec, "defx")) {
                (Some(s), None) => {
                    let symbol: Arc<str> = s.into();
                    if let Some(&first) = ctx.index.get(&symbol) {
                        let first_lib = ctx.raw(first).map_or(lib, |d| d.lib);
                        let first_lib = ctx.lib_name(first_lib).to_owned();
                        let second_lib = match ctx.lib_meta.get(lib).and_then(|&m| ctx.raw(m)) {
                            Some(m) => m.symbol.to_string(),
                            None => symbol.to_string(),
                        };
                        return Err(DefError::DuplicateDef {
                            symbol: symbol.to_string(),
                            first_lib,
                            second_lib,
                        });
                    }
                    ctx.index.insert(symbol.clone(), id32(ctx.defs.len())?);
                    ctx.defs.push(Raw {
                        kind: DefKind::of(&symbol),
                        symbol,
                        lib,
                        dict: rec,
                        is: Vec::new(),
                        inheritance: Vec::new(),
                        sorted: Vec::new(),
                    });
                }
                (None, Some(_)) => defxs.push((lib, rec)),
                (Some(s), Some(_)) => {
                    return Err(DefError::invalid(s, "a record with both def and defx"));
                }
                (None, None) => {
                    let lib_name = ctx.lib_name(lib).to_owned();
                    return Err(DefError::invalid(
                        "?",
                        format!(
                            "record {n} of ^{lib_name} has no def or defx symbol: {}",
                            rec.get("dis").map(Value::to_string).unwrap_or_default()
                        ),
                    ));
                }
            }
        }
    }
    Ok((ctx, defxs))
}

/// Each lib's namespace: itself and the libs it depends on (not transitively).
fn scopes(ctx: &mut Ctx) -> Result<(), DefError> {
    let n = ctx.lib_meta.len();
    let mut scope = Vec::with_capacity(n);
    for lib in 0..n {
        let mut s = vec![false; n];
        if let Some(v) = s.get_mut(lib) {
            *v = true;
        }
        let name = ctx.lib_name(lib).to_owned();
        let meta = ctx.lib_meta.get(lib).and_then(|&m| ctx.raw(m));
        let depends: Vec<&str> = symbols(meta.and_then(|m| m.dict.get("depends"))).collect();
        for dep in &depends {
            let target = ctx
                .lib_meta
                .iter()
                .position(|&m| ctx.raw(m).is_some_and(|d| &*d.symbol == *dep));
            match target.and_then(|t| s.get_mut(t)) {
                Some(v) => *v = true,
                None => {
                    return Err(DefError::MissingLib {
                        lib: name,
                        missing: (*dep).to_owned(),
                    });
                }
            }
        }
        if name != "lib:ph" && !depends.contains(&"lib:ph") {
            return Err(DefError::MissingLib {
                lib: name,
                missing: "lib:ph".into(),
            });
        }
        scope.push(s);
    }
    ctx.scope = scope;
    Ok(())
}

/// Every tag name of `dict` is a tag def, and every symbol value a def, in `lib`'s namespace.
fn resolve(ctx: &Ctx, lib: usize, def: &str, dict: &Dict) -> Result<(), DefError> {
    let unresolved = |what: String, symbol: &str| DefError::Unresolved {
        def: def.to_owned(),
        what,
        symbol: symbol.to_owned(),
        lib: ctx.lib_name(lib).to_owned(),
    };
    for (tag, value) in dict.iter() {
        let tag_def = ctx.visible(lib, tag).and_then(|i| ctx.raw(i));
        if !tag_def.is_some_and(|d| d.kind == DefKind::Tag) {
            return Err(unresolved("tag".into(), tag));
        }
        for s in symbols(Some(value)) {
            if ctx.visible(lib, s).is_none() {
                if tag == "is" {
                    return Err(DefError::UnknownSupertype {
                        def: def.to_owned(),
                        supertype: s.to_owned(),
                        lib: ctx.lib_name(lib).to_owned(),
                    });
                }
                return Err(unresolved(format!("value of {tag}"), s));
            }
        }
    }
    Ok(())
}

/// Checks the form of each symbol, computes the `is` tree (implied for feature keys) and each
/// def's inheritance, and rejects cycles.
fn taxonify(ctx: &mut Ctx) -> Result<(), DefError> {
    for i in 0..ctx.defs.len() {
        let Some(d) = ctx.defs.get(i) else { break };
        let symbol = d.symbol.clone();
        let lib = d.lib;
        let supers: Vec<u32> = match d.kind {
            DefKind::Key => {
                let (feature, name) = symbol.split_once(':').unwrap_or_default();
                if !is_tag_name(feature) || !is_tag_name(name) {
                    return Err(DefError::invalid(
                        &symbol,
                        "a feature key is feature:name, both tag names",
                    ));
                }
                if d.dict.contains_key("is") {
                    return Err(DefError::invalid(
                        &symbol,
                        "a feature key must not declare is",
                    ));
                }
                let f = ctx
                    .visible(lib, feature)
                    .ok_or_else(|| DefError::Unresolved {
                        def: symbol.to_string(),
                        what: "feature".into(),
                        symbol: feature.to_owned(),
                        lib: ctx.lib_name(lib).to_owned(),
                    })?;
                vec![f]
            }
            DefKind::Conjunct | DefKind::Tag => {
                if d.kind == DefKind::Conjunct {
                    let parts: Vec<&str> = symbol.split('-').collect();
                    for p in &parts {
                        if !is_tag_name(p) {
                            return Err(DefError::invalid(
                                &symbol,
                                "each part of a conjunct must be a tag name",
                            ));
                        }
                        if ctx.visible(lib, p).is_none() {
                            return Err(DefError::Unresolved {
                                def: symbol.to_string(),
                                what: "conjunct part".into(),
                                symbol: (*p).to_owned(),
                                lib: ctx.lib_name(lib).to_owned(),
                            });
                        }
                    }
                } else if !is_tag_name(&symbol) {
                    return Err(DefError::invalid(&symbol, "not a valid tag name"));
                }
                match d.dict.get("is") {
                    None if ROOTS.contains(&&*symbol) => Vec::new(),
                    None => {
                        return Err(DefError::invalid(
                            &symbol,
                            "missing is (every term but marker, val and feature needs one)",
                        ));
                    }
                    Some(v) => {
                        let all_symbols = match v {
                            Value::Symbol(_) => true,
                            Value::List(items) => {
                                !items.is_empty() && items.iter().all(|x| x.as_symbol().is_some())
                            }
                            _ => false,
                        };
                        if !all_symbols {
                            return Err(DefError::invalid(
                                &symbol,
                                "is must be a symbol or a list of symbols",
                            ));
                        }
                        // Resolved in scope by `resolve`.
                        symbols(Some(v)).filter_map(|s| ctx.id(s)).collect()
                    }
                }
            }
        };
        if let Some(d) = ctx.defs.get_mut(i) {
            if d.kind == DefKind::Key {
                let is: Vec<Value> = supers
                    .iter()
                    .filter_map(|_| symbol.split_once(':'))
                    .map(|(f, _)| Value::Symbol(f.into()))
                    .collect();
                d.dict.insert_valid("is".into(), Value::List(is));
            }
            d.is = supers;
        }
    }
    let order = topo_order(ctx)?;
    // seen[x] == stamp: x is already in the inheritance being built.
    let mut seen = vec![u32::MAX; ctx.defs.len()];
    for i in order {
        let Some(d) = ctx.defs.get(i as usize) else {
            continue;
        };
        let mut inh = vec![i];
        if let Some(s) = seen.get_mut(i as usize) {
            *s = i;
        }
        for &s in &d.is {
            if let Some(sd) = ctx.defs.get(s as usize) {
                for &x in &sd.inheritance {
                    if let Some(mark) = seen.get_mut(x as usize)
                        && *mark != i
                    {
                        *mark = i;
                        inh.push(x);
                    }
                }
            }
        }
        if inh.len() > MAX_INHERITANCE {
            return Err(DefError::invalid(
                &d.symbol,
                format!("more than {MAX_INHERITANCE} supertypes"),
            ));
        }
        let mut sorted = inh.clone();
        sorted.sort_unstable();
        if let Some(d) = ctx.defs.get_mut(i as usize) {
            d.inheritance = inh;
            d.sorted = sorted;
        }
    }
    Ok(())
}

/// The defs with every def after its supertypes; a cycle is an error. Iterative, so a long
/// chain of defs cannot overflow the stack.
pub(super) fn topo_order(ctx: &Ctx) -> Result<Vec<u32>, DefError> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let n = ctx.defs.len();
    let mut state = vec![NEW; n];
    let mut order = Vec::with_capacity(n);
    for start in 0..n {
        if state.get(start) != Some(&NEW) {
            continue;
        }
        // (def, next supertype to visit)
        let mut stack: Vec<(u32, usize)> = vec![(id32(start)?, 0)];
        if let Some(s) = state.get_mut(start) {
            *s = OPEN;
        }
        while let Some(&mut (d, ref mut next)) = stack.last_mut() {
            let supers = ctx.defs.get(d as usize).map_or(&[][..], |r| &r.is[..]);
            match supers.get(*next) {
                Some(&s) => {
                    *next += 1;
                    match state.get(s as usize).copied() {
                        Some(NEW) => {
                            if let Some(st) = state.get_mut(s as usize) {
                                *st = OPEN;
                            }
                            stack.push((s, 0));
                        }
                        Some(OPEN) => {
                            let from = stack.iter().position(|(x, _)| *x == s).unwrap_or(0);
                            let mut path: Vec<String> = stack
                                .iter()
                                .skip(from)
                                .filter_map(|(x, _)| ctx.raw(*x).map(|r| r.symbol.to_string()))
                                .collect();
                            if let Some(r) = ctx.raw(s) {
                                path.push(r.symbol.to_string());
                            }
                            return Err(DefError::Cycle { path });
                        }
                        _ => {}
                    }
                }
                None => {
                    if let Some(st) = state.get_mut(d as usize) {
                        *st = DONE;
                    }
                    order.push(d);
                    stack.pop();
                }
            }
        }
    }
    Ok(order)
}

/// Merges list `extra` into `into` (a list, or a single value made a list), deduplicated
/// (the chapter's `accumulate`: aggregated and deduplicated).
fn accumulate(into: &mut Value, extra: &Value) {
    let old = match std::mem::take(into) {
        Value::List(items) => items,
        Value::Null => Vec::new(),
        one => vec![one],
    };
    let more = match extra {
        Value::List(more) => more.as_slice(),
        one => std::slice::from_ref(one),
    };
    let mut items: Vec<Value> = Vec::with_capacity(old.len() + more.len());
    for m in old.into_iter().chain(more.iter().cloned()) {
        if !items.contains(&m) {
            items.push(m);
        }
    }
    *into = Value::List(items);
}

fn apply_defx(ctx: &mut Ctx, defxs: Vec<Defx>) -> Result<(), DefError> {
    for (lib, dx) in defxs {
        let target = def_symbol(&dx, "defx").unwrap_or("?").to_owned();
        let Some(t) = ctx.id(&target) else {
            return Err(DefError::invalid(&target, "defx of an undefined def"));
        };
        for (tag, value) in dx.iter_shared() {
            if &**tag == "defx" {
                continue;
            }
            if matches!(&**tag, "is" | "lib" | "def") {
                return Err(DefError::invalid(
                    &target,
                    format!("a defx (in ^{}) must not add {tag}", ctx.lib_name(lib)),
                ));
            }
            let acc = ctx.tag_has(tag, "accumulate");
            let Some(d) = ctx.defs.get_mut(t as usize) else {
                continue;
            };
            match d.dict.get_mut(tag) {
                Some(old) if acc => accumulate(old, value),
                Some(_) => {
                    let lib_name = ctx.lib_name(lib).to_owned();
                    return Err(DefError::invalid(
                        &target,
                        format!("a defx in ^{lib_name} sets {tag}, which the def already has"),
                    ));
                }
                None => {
                    d.dict.insert_valid(tag.clone(), value.clone());
                }
            }
        }
    }
    Ok(())
}

/// Adds the inferred `lib` tag, and makes the value of every list-typed tag a list.
fn normalize_tags(ctx: &mut Ctx) -> Result<(), DefError> {
    let list_tags: Vec<bool> = (0..ctx.defs.len())
        .map(|i| id32(i).is_ok_and(|i| ctx.fits(i, "list")))
        .collect();
    for i in 0..ctx.defs.len() {
        let Some(d) = ctx.defs.get(i) else { break };
        if d.dict.contains_key("lib") {
            return Err(DefError::invalid(
                &d.symbol,
                "the lib tag is inferred, not declared",
            ));
        }
        let lib = Value::Symbol(ctx.lib_name(d.lib).into());
        let wrap: Vec<Arc<str>> = d
            .dict
            .iter_shared()
            .filter(|(tag, v)| {
                !matches!(v, Value::List(_))
                    && ctx
                        .id(tag)
                        .is_some_and(|t| list_tags.get(t as usize) == Some(&true))
            })
            .map(|(tag, _)| tag.clone())
            .collect();
        if let Some(d) = ctx.defs.get_mut(i) {
            for tag in wrap {
                if let Some(v) = d.dict.get_mut(&tag) {
                    *v = Value::List(vec![std::mem::take(v)]);
                }
            }
            d.dict.insert_valid("lib".into(), lib);
        }
    }
    Ok(())
}

/// The effective dict of every def: declared tags, then the tags of each supertype (in `is`
/// order) not marked `notInherited` and not yet present; `accumulate` tags are merged.
fn inherit(ctx: &Ctx) -> Result<Vec<Dict>, DefError> {
    let n = ctx.defs.len();
    let flag = |meta: &str| -> Vec<bool> {
        ctx.defs
            .iter()
            .map(|d| d.dict.get(meta).is_some_and(Value::is_marker))
            .collect()
    };
    let not_inherited = flag("notInherited");
    let accumulates = flag("accumulate");
    let tag_flag = |flags: &[bool], tag: &str| {
        ctx.id(tag)
            .is_some_and(|t| flags.get(t as usize) == Some(&true))
    };
    let mut effective: Vec<Option<Dict>> = vec![None; n];
    for i in topo_order(ctx)? {
        let Some(d) = ctx.raw(i) else { continue };
        let mut eff = d.dict.clone();
        for &s in &d.is {
            let Some(Some(sup)) = effective.get(s as usize) else {
                continue;
            };
            for (tag, value) in sup.iter_shared() {
                if tag_flag(&not_inherited, tag) {
                    continue;
                }
                match eff.get_mut(tag) {
                    None => {
                        eff.insert_valid(tag.clone(), value.clone());
                    }
                    Some(old) if tag_flag(&accumulates, tag) => accumulate(old, value),
                    Some(_) => {}
                }
            }
        }
        if let Some(slot) = effective.get_mut(i as usize) {
            *slot = Some(eff);
        }
    }
    Ok(effective
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}

fn generate(ctx: Ctx, effective: Vec<Dict>) -> Namespace {
    let mut subtypes: Vec<Vec<u32>> = vec![Vec::new(); ctx.defs.len()];
    for (i, d) in ctx.defs.iter().enumerate() {
        for &s in &d.is {
            if let (Some(list), Ok(i)) = (subtypes.get_mut(s as usize), u32::try_from(i)) {
                list.push(i);
            }
        }
    }
    let mut conjuncts_by_first: HashMap<Arc<str>, Vec<u32>> = HashMap::new();
    let mut conjuncts = Vec::new();
    for (i, d) in ctx.defs.iter().enumerate() {
        if d.kind == DefKind::Conjunct
            && let (Some(first), Ok(i)) = (d.symbol.split('-').next(), u32::try_from(i))
        {
            conjuncts_by_first.entry(first.into()).or_default().push(i);
            conjuncts.push(i);
        }
    }
    let lib_meta = ctx.lib_meta.clone();
    let defs = ctx
        .defs
        .into_iter()
        .zip(effective)
        .zip(subtypes)
        .map(|((r, dict), subtypes)| Def {
            parts: match r.kind {
                DefKind::Tag => vec![r.symbol.clone()],
                DefKind::Conjunct => r.symbol.split('-').map(Arc::from).collect(),
                DefKind::Key => Vec::new(),
            },
            symbol: r.symbol,
            kind: r.kind,
            dict,
            is: r.is,
            inheritance: r.inheritance,
            sorted: r.sorted,
            subtypes,
        })
        .collect();
    Namespace {
        defs,
        index: ctx.index,
        libs: lib_meta,
        conjuncts_by_first,
        conjuncts,
    }
}
