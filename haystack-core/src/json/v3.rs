//! Haystack JSON v3 scalars: strings with a one-letter type prefix, `"n:73.2 °F"`, `"r:id dis"`.
//!
//! Dates, times, datetimes and numbers use Zinc's literal forms, so they are read and written by
//! the crate's Zinc scalar code; only the prefixes and the space before a unit are v3's own.

use super::build::Shared;
use super::scalar_text;
use crate::error::{Error, Result};
use crate::value::{Coord, Number, Ref, Value, XStr};

/// The v3 string of a scalar (not a Str without a colon, which is written as is).
pub(super) fn encode_scalar(v: &Value) -> String {
    match v {
        Value::Marker => "m:".into(),
        Value::Remove => "-:".into(),
        Value::Na => "z:".into(),
        Value::Str(s) => format!("s:{s}"),
        Value::Number(n) => {
            let mut s = String::from("n:");
            s.push_str(&scalar_text(&Value::Number(Number::new(n.value()))));
            if let Some(u) = n.unit() {
                s.push(' ');
                s.push_str(u);
            }
            s
        }
        Value::Ref(r) => match r.dis() {
            Some(dis) => format!("r:{} {dis}", r.id()),
            None => format!("r:{}", r.id()),
        },
        Value::Symbol(s) => format!("y:{s}"),
        Value::Uri(u) => format!("u:{u}"),
        Value::Date(_) => format!("d:{}", scalar_text(v)),
        Value::Time(_) => format!("h:{}", scalar_text(v)),
        Value::DateTime(_) => format!("t:{}", scalar_text(v)),
        Value::Coord(c) => {
            let mut s = String::from("c:");
            s.push_str(&scalar_text(&Value::Number(Number::new(c.lat()))));
            s.push(',');
            s.push_str(&scalar_text(&Value::Number(Number::new(c.lng()))));
            s
        }
        Value::XStr(x) => format!("x:{}:{}", x.kind(), x.value()),
        // Not scalars: handled by the caller; kept total so no input can panic.
        Value::Null | Value::Bool(_) | Value::List(_) | Value::Dict(_) | Value::Grid(_) => {
            v.to_string()
        }
    }
}

fn bad(kind: &'static str, text: &str) -> Error {
    Error::InvalidValue {
        kind,
        message: format!("invalid JSON v3 encoding {text:?}"),
    }
}

/// Decodes a v3 JSON string: a prefixed scalar, or a plain Str when the second char is not `:`.
pub(super) fn decode_str(s: &str, sh: &mut Shared) -> Result<Value> {
    let b = s.as_bytes();
    if b.get(1) != Some(&b':') {
        return Ok(Value::Str(s.into()));
    }
    // The first byte is ASCII here only if it is a known prefix; anything else is a plain Str.
    let rest = s.get(2..).unwrap_or("");
    Ok(match b.first() {
        Some(b's') => Value::Str(rest.into()),
        Some(b'm') if rest.is_empty() => Value::Marker,
        Some(b'-') if rest.is_empty() => Value::Remove,
        Some(b'z') if rest.is_empty() => Value::Na,
        Some(b'm' | b'-' | b'z') => return Err(bad("singleton", s)),
        Some(b'n') => decode_number(rest, sh)?,
        Some(b'r') => {
            let (id, dis) = match rest.split_once(' ') {
                Some((id, dis)) => (id, Some(sh.intern(dis))),
                None => (rest, None),
            };
            let mut r = Ref::new(id)?;
            r.set_dis(dis);
            Value::Ref(r)
        }
        Some(b'y') => {
            if !crate::value::is_ref_id(rest) {
                return Err(bad("Symbol", s));
            }
            Value::Symbol(rest.into())
        }
        Some(b'u') => Value::Uri(rest.into()),
        Some(b'd') => expect_kind(sh.zinc(rest)?, "Date", s, |v| matches!(v, Value::Date(_)))?,
        Some(b'h') => expect_kind(sh.zinc(rest)?, "Time", s, |v| matches!(v, Value::Time(_)))?,
        Some(b't') => expect_kind(sh.zinc(rest)?, "DateTime", s, |v| {
            matches!(v, Value::DateTime(_))
        })?,
        Some(b'c') => {
            let (lat, lng) = rest.split_once(',').ok_or_else(|| bad("Coord", s))?;
            let lat: f64 = lat.trim().parse().map_err(|_| bad("Coord", s))?;
            let lng: f64 = lng.trim().parse().map_err(|_| bad("Coord", s))?;
            Value::Coord(Coord::new(lat, lng)?)
        }
        Some(b'x') => {
            let (kind, val) = rest.split_once(':').ok_or_else(|| bad("XStr", s))?;
            Value::XStr(XStr::new(kind, val)?)
        }
        _ => Value::Str(s.into()),
    })
}

fn expect_kind(
    v: Value,
    kind: &'static str,
    text: &str,
    ok: impl Fn(&Value) -> bool,
) -> Result<Value> {
    if ok(&v) { Ok(v) } else { Err(bad(kind, text)) }
}

/// `45.5`, `73.2 °F`, `INF`, `-INF`, `NaN`.
fn decode_number(rest: &str, sh: &mut Shared) -> Result<Value> {
    let (num, unit) = match rest.split_once(' ') {
        Some((n, u)) => (n, Some(u)),
        None => (rest, None),
    };
    let value = match num {
        "INF" => f64::INFINITY,
        "-INF" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => match sh.zinc(num)? {
            Value::Number(n) if n.unit().is_none() => n.value(),
            _ => return Err(bad("Number", rest)),
        },
    };
    Ok(Value::Number(match unit {
        Some(u) if !u.is_empty() => {
            if !crate::value::is_unit_symbol(u) {
                return Err(super::build::bad_unit(u));
            }
            Number::with_shared_unit(value, Some(sh.intern(u)))
        }
        _ => Number::new(value),
    }))
}
