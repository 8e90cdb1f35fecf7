//! The Normalization chapter's validation step, on the declared (normalized) tags of each def.
//!
//! Checked: lib metas have `doc` and `version`; no def is named `index`; every part of a
//! conjunct is a marker; no def declares a tag computed from its reciprocal (`tags`,
//! `contains`, ...); a choice's `of` is a marker; `tagOn` only on tag defs; relationship tags
//! only on defs that subtype `ref`; a feature key's feature subtypes `feature`; and each tag
//! value has the kind its tag def declares (a tag that subtypes `str` holds a Str, one that
//! subtypes `list` a List, a marker tag a Marker; a tag under `val` with no kind, such as `enum`,
//! holds any value).

use super::normalize::Ctx;
use super::{DefError, DefKind, kind_symbol};
use crate::Value;

/// The defs of the value kinds, in the order they are tried.
const KINDS: [&str; 16] = [
    "marker", "na", "bool", "number", "str", "uri", "ref", "symbol", "date", "time", "dateTime",
    "coord", "xstr", "list", "dict", "grid",
];

pub(super) fn validate(ctx: &Ctx) -> Result<(), DefError> {
    let kind_ids: Vec<(&str, u32)> = KINDS
        .iter()
        .filter_map(|k| ctx.id(k).map(|i| (*k, i)))
        .collect();
    for &meta in &ctx.lib_meta {
        let Some(m) = ctx.raw(meta) else { continue };
        for required in ["doc", "version"] {
            if m.dict.get(required).and_then(Value::as_str).is_none() {
                return Err(DefError::invalid(
                    &m.symbol,
                    format!("a lib meta needs a {required} string"),
                ));
            }
        }
    }
    for (i, d) in ctx.defs.iter().enumerate() {
        let id = u32::try_from(i).unwrap_or(u32::MAX);
        let sym = &*d.symbol;
        if sym == "index" {
            return Err(DefError::invalid(sym, "the name index is reserved"));
        }
        match d.kind {
            DefKind::Conjunct => {
                for part in sym.split('-') {
                    if !ctx.id(part).is_some_and(|p| ctx.fits(p, "marker")) {
                        return Err(DefError::invalid(
                            sym,
                            format!("conjunct part {part} is not a marker"),
                        ));
                    }
                }
            }
            DefKind::Key => {
                let feature = d.is.first().copied();
                if !feature.is_some_and(|f| ctx.fits(f, "feature")) {
                    return Err(DefError::invalid(
                        sym,
                        "the feature of a key must subtype feature",
                    ));
                }
            }
            DefKind::Tag => {}
        }
        if d.kind != DefKind::Tag && d.dict.contains_key("tagOn") {
            return Err(DefError::invalid(sym, "tagOn is only for tag defs"));
        }
        if ctx.fits(id, "choice")
            && let Some(of) = d.dict.get("of").and_then(Value::as_symbol)
            && !ctx.id(of).is_some_and(|o| ctx.fits(o, "marker"))
        {
            return Err(DefError::invalid(
                sym,
                format!("the of of a choice must be a marker, not ^{of}"),
            ));
        }
        for (tag, value) in d.dict.iter() {
            let Some(t) = ctx.id(tag) else { continue };
            if tag != "is" && tag != "lib" && ctx.tag_has(tag, "computedFromReciprocal") {
                return Err(DefError::invalid(
                    sym,
                    format!("{tag} is computed from its reciprocal and cannot be declared"),
                ));
            }
            if ctx.fits(t, "relationship") && !ctx.fits(id, "ref") {
                return Err(DefError::invalid(
                    sym,
                    format!("relationship {tag} on a def that does not subtype ref"),
                ));
            }
            let declared: Vec<&str> = kind_ids
                .iter()
                .filter(|(name, _)| ctx.fits(t, name))
                .map(|(name, _)| *name)
                .collect();
            let actual = kind_symbol(value).unwrap_or("null");
            if !declared.is_empty() && !declared.contains(&actual) {
                return Err(DefError::invalid(
                    sym,
                    format!(
                        "tag {tag} holds a {actual} value, its def expects {}",
                        declared.join(" or ")
                    ),
                ));
            }
        }
    }
    Ok(())
}
