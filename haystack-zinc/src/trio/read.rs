//! The Trio reader.

use haystack_core::zinc::{Interner, Scanner};
use haystack_core::{Dict, Grid, Position, Value};

use crate::read::Parser;
use crate::{Error, Limits, Result};

/// One line of the input: its text (without `\r\n`) and where it starts.
#[derive(Clone, Copy)]
struct Line<'a> {
    text: &'a str,
    pos: Position,
}

fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

fn is_indented(s: &str) -> bool {
    s.starts_with([' ', '\t'])
}

/// Reads Trio records with the default [`Limits`].
pub fn from_str(text: &str) -> Result<Vec<Dict>> {
    from_str_with(text, &Limits::default())
}

/// Reads Trio records.
pub fn from_str_with(text: &str, limits: &Limits) -> Result<Vec<Dict>> {
    read_records(
        text,
        Position {
            line: 1,
            column: 1,
            offset: 0,
        },
        limits,
        0,
    )
}

fn split_lines(text: &str, base: Position) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut offset = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let pos = Position {
            line: base.line + i,
            column: if i == 0 { base.column } else { 1 },
            offset: base.offset + offset,
        };
        lines.push(Line { text: line, pos });
        offset += raw.len() + 1;
    }
    lines
}

fn read_records(text: &str, base: Position, limits: &Limits, depth: usize) -> Result<Vec<Dict>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = split_lines(text, base);
    let mut records = Vec::new();
    let mut cur = Dict::new();
    let mut interner = Interner::new();
    let mut i = 0;
    while let Some(line) = lines.get(i).copied() {
        i += 1;
        let t = line.text;
        if is_blank(t) || t.starts_with("//") {
            continue;
        }
        if t.starts_with('-') && t.trim_end().bytes().all(|b| b == b'-') {
            if !cur.is_empty() {
                records.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if is_indented(t) {
            let s = Scanner::with_base(t, line.pos, Interner::new());
            return Err(s.expected("tag name").into());
        }
        let mut s = Scanner::with_base(t, line.pos, std::mem::take(&mut interner));
        let name = s.read_id()?;
        let name = s.interner().intern(name);
        s.skip_spaces();
        if s.is_eof() {
            interner = s.into_interner();
            cur.insert_valid(name, Value::Marker);
            continue;
        }
        s.expect(b':')?;
        s.skip_spaces();
        // Only ASCII spaces, tabs and CRs end a line's value: a unit may end in a non-ASCII
        // character that Unicode counts as whitespace (`2\u{a0}`), and it must survive.
        let rest = s.rest().trim_end_matches([' ', '\t', '\r']);
        let rest_pos = s.position();
        interner = s.into_interner();
        let value = if rest.is_empty() {
            let (block, _) = take_block(&lines, &mut i, false);
            Value::Str(block.join("\n").into())
        } else if rest == "Zinc:" || rest == "Trio:" {
            let (block, first) = take_block(&lines, &mut i, false);
            let body = block.join("\n");
            let (pos, indent) = first.unwrap_or((rest_pos, 0));
            if rest == "Zinc:" {
                nested_zinc(&body, pos, indent, limits)?
            } else {
                if depth + 1 >= limits.max_depth {
                    return Err(Error::LimitExceeded {
                        position: pos,
                        message: format!("nesting deeper than {}", limits.max_depth),
                    });
                }
                let recs = read_records(&body, pos, limits, depth + 1)?;
                Value::Grid(Box::new(Grid::from_dicts(&recs)))
            }
        } else if rest.starts_with(['[', '{']) || rest.starts_with("<<") {
            let (block, _) = take_block(&lines, &mut i, true);
            let mut src = rest.to_owned();
            for l in block {
                src.push('\n');
                src.push_str(&l);
            }
            read_value_at(&src, rest_pos, limits, &mut interner)?
        } else {
            scalar_or_text(rest, rest_pos, limits, &mut interner)?
        };
        cur.insert_valid(name, value);
    }
    if !cur.is_empty() {
        records.push(cur);
    }
    Ok(records)
}

/// Takes the indented lines (and blank lines between them) that follow, with their common
/// indentation removed; with `skip_comments`, lines starting with `//` are left out.
fn take_block(
    lines: &[Line<'_>],
    i: &mut usize,
    skip_comments: bool,
) -> (Vec<String>, Option<(Position, usize)>) {
    // For bracketed values (`skip_comments`), lines are kept whole so positions stay exact.
    let strip = !skip_comments;
    let mut taken: Vec<&str> = Vec::new();
    let mut first = None;
    let mut last_content = 0;
    while let Some(line) = lines.get(*i) {
        let t = line.text;
        if !is_blank(t) && !is_indented(t) {
            break;
        }
        *i += 1;
        if skip_comments && t.trim_start().starts_with("//") {
            continue;
        }
        if first.is_none() && !is_blank(t) {
            first = Some(line.pos);
        }
        taken.push(t);
        if !is_blank(t) {
            last_content = taken.len();
        }
    }
    // Trailing blank lines belong to no value: give them back.
    let extra = taken.len() - last_content;
    *i -= extra;
    taken.truncate(last_content);
    // Leading blank lines before the first indented line are part of the string.
    let indent = taken
        .iter()
        .filter(|t| !is_blank(t))
        .map(|t| t.len() - t.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0)
        * usize::from(strip);
    let block = taken
        .iter()
        .map(|t| {
            if is_blank(t) {
                String::new()
            } else {
                t.get(indent..).unwrap_or_default().to_owned()
            }
        })
        .collect();
    let first = first.map(|p| Position {
        column: p.column + indent,
        offset: p.offset + indent,
        ..p
    });
    (block, first.map(|p| (p, indent)))
}

fn nested_zinc(body: &str, pos: Position, indent: usize, limits: &Limits) -> Result<Value> {
    crate::read::read_value(body, limits).map_err(|e| rebase(e, pos, indent))
}

/// Moves the position of an error in a nested block (each line of which lost `indent` bytes of
/// indentation, the first starting at `pos`) to the position in the whole input.
fn rebase(e: Error, pos: Position, indent: usize) -> Error {
    let fix = |p: Position| Position {
        line: pos.line + p.line - 1,
        column: if p.line == 1 {
            pos.column + p.column - 1
        } else {
            p.column + indent
        },
        offset: pos.offset + p.offset + indent * (p.line - 1),
    };
    match e {
        Error::Parse(mut p) => {
            p.position = fix(p.position);
            Error::Parse(p)
        }
        Error::LimitExceeded { position, message } => Error::LimitExceeded {
            position: fix(position),
            message,
        },
        other => other,
    }
}

fn read_value_at(
    src: &str,
    pos: Position,
    limits: &Limits,
    interner: &mut Interner,
) -> Result<Value> {
    let mut p = Parser::with_base(src, pos, std::mem::take(interner), limits);
    let res = p.read_val();
    p.s.skip_whitespace();
    let trailing = (res.is_ok() && !p.s.is_eof()).then(|| p.s.expected("end of line"));
    *interner = p.into_interner();
    let v = res?;
    match trailing {
        Some(e) => Err(e.into()),
        None => Ok(v),
    }
}

/// A scalar in Zinc syntax, `true`/`false`, or else an unquoted string.
fn scalar_or_text(
    rest: &str,
    pos: Position,
    limits: &Limits,
    interner: &mut Interner,
) -> Result<Value> {
    match rest {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    let res = read_value_at(rest, pos, limits, interner);
    match res {
        Ok(v) => Ok(v),
        Err(e) => {
            let zinc_start = rest.starts_with(['"', '`', '@', '^', '-', '[', '{', '<'])
                || rest.as_bytes().first().is_some_and(u8::is_ascii_digit);
            if zinc_start {
                Err(e)
            } else {
                Ok(Value::Str(rest.into()))
            }
        }
    }
}
