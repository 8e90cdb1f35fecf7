//! The filter parser: a small hand-written lexer and a recursive-descent parser of the grammar
//! `condOr := condAnd ("or" condAnd)*`, `condAnd := term ("and" term)*`,
//! `term := "(" condOr ")" | "not" path | path [cmpOp val] | isSpec`,
//! `isSpec := [specLib "::"] specName`, `path := name ("->" name)*`.
//!
//! Values are read by the crate's one Zinc scalar reader ([`crate::zinc`]); only `true` and
//! `false` are filter-specific.

use super::{CmpOp, Filter, Node, Path};
use crate::error::{Error, Position, Result};
use crate::value::Value;

/// The deepest nesting of parentheses a filter may have.
pub const MAX_DEPTH: usize = 128;

/// The most names one `->` path may have (`a->b->c` has three). A longer path is a parse
/// error, so that evaluating a filter follows at most this many refs per path.
pub const MAX_PATH_LEN: usize = 64;

/// The longest filter text accepted, in bytes (1 MiB).
pub const MAX_LEN: usize = 1 << 20;

/// A token with the byte offset where it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    LParen,
    RParen,
    Arrow,
    Op(CmpOp),
    Name(&'a str),
    Other(char),
    Eof,
}

impl Tok<'_> {
    fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Arrow => "'->'".into(),
            Tok::Op(op) => format!("'{}'", op.symbol()),
            Tok::Name(n) => format!("'{n}'"),
            Tok::Other(c) => format!("{c:?}"),
            Tok::Eof => "end of input".into(),
        }
    }
}

pub(super) struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

/// The line/column position of byte `offset` in `src`.
pub(crate) fn position_of(src: &str, offset: usize) -> Position {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    Position {
        line,
        column,
        offset,
    }
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_lowercase()
}

fn is_name_part(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Parser {
            src,
            pos: 0,
            depth: 0,
        }
    }

    fn err(&self, offset: usize, message: impl Into<String>) -> Error {
        Error::parse(position_of(self.src, offset), message)
    }

    fn skip_ws(&mut self) {
        let bytes = self.src.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if b == b' ' || b == b'\t' || b == b'\n' || b == b'\r' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The next token and its start offset, without consuming it.
    fn peek(&mut self) -> (Tok<'a>, usize, usize) {
        self.skip_ws();
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let Some(&b) = bytes.get(start) else {
            return (Tok::Eof, start, start);
        };
        let next = bytes.get(start + 1).copied();
        let (tok, len) = match b {
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b'-' if next == Some(b'>') => (Tok::Arrow, 2),
            b'=' if next == Some(b'=') => (Tok::Op(CmpOp::Eq), 2),
            b'!' if next == Some(b'=') => (Tok::Op(CmpOp::Ne), 2),
            b'<' if next == Some(b'=') => (Tok::Op(CmpOp::Le), 2),
            b'>' if next == Some(b'=') => (Tok::Op(CmpOp::Ge), 2),
            b'<' => (Tok::Op(CmpOp::Lt), 1),
            b'>' => (Tok::Op(CmpOp::Gt), 1),
            _ if is_name_start(b) => {
                let len = bytes.get(start..).map_or(0, |rest| {
                    rest.iter().take_while(|&&c| is_name_part(c)).count()
                });
                (
                    Tok::Name(self.src.get(start..start + len).unwrap_or("")),
                    len,
                )
            }
            _ => {
                let c = self
                    .src
                    .get(start..)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('?');
                (Tok::Other(c), c.len_utf8())
            }
        };
        (tok, start, start + len)
    }

    fn expected(&mut self, what: &str) -> Error {
        let (tok, start, _) = self.peek();
        self.err(
            start,
            format!("expected {what} but found {}", tok.describe()),
        )
    }

    /// Parses the whole input as one filter.
    pub(super) fn parse_filter(mut self) -> Result<Filter> {
        if self.src.len() > MAX_LEN {
            return Err(Error::LimitExceeded(format!(
                "filter of {} bytes is longer than {MAX_LEN}",
                self.src.len()
            )));
        }
        let node = self.cond_or()?;
        match self.peek() {
            (Tok::Eof, _, _) => Ok(Filter { node }),
            _ => Err(self.expected("'and', 'or' or end of input")),
        }
    }

    fn keyword(&mut self, kw: &str) -> bool {
        match self.peek() {
            (Tok::Name(n), _, end) if n == kw => {
                self.pos = end;
                true
            }
            _ => false,
        }
    }

    fn cond_or(&mut self) -> Result<Node> {
        let mut parts = vec![self.cond_and()?];
        while self.keyword("or") {
            parts.push(self.cond_and()?);
        }
        Ok(Node::or_of(parts))
    }

    fn cond_and(&mut self) -> Result<Node> {
        let mut parts = vec![self.term()?];
        while self.keyword("and") {
            parts.push(self.term()?);
        }
        Ok(Node::and_of(parts))
    }

    fn term(&mut self) -> Result<Node> {
        match self.peek() {
            (Tok::LParen, start, end) => {
                if self.depth >= MAX_DEPTH {
                    return Err(
                        self.err(start, format!("parentheses nested deeper than {MAX_DEPTH}"))
                    );
                }
                self.pos = end;
                self.depth += 1;
                let inner = self.cond_or()?;
                self.depth -= 1;
                match self.peek() {
                    (Tok::RParen, _, end) => {
                        self.pos = end;
                        Ok(inner)
                    }
                    _ => Err(self.expected("')'")),
                }
            }
            (Tok::Name("not"), _, end) => {
                self.pos = end;
                Ok(Node::Missing(self.path()?))
            }
            _ => {
                if let Some(spec) = self.spec()? {
                    return Ok(Node::Spec(spec));
                }
                let path = self.path()?;
                match self.peek() {
                    (Tok::Op(op), _, end) => {
                        self.pos = end;
                        let value = self.value(op)?;
                        Ok(Node::Cmp(path, op, value))
                    }
                    _ => Ok(Node::Has(path)),
                }
            }
        }
    }

    /// A spec term at the cursor, `[lib ("." lib)* "::"] Name`, if there is one.
    fn spec(&mut self) -> Result<Option<super::Spec>> {
        self.skip_ws();
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let name_len = |i: usize| {
            bytes
                .get(i..)
                .map_or(0, |r| r.iter().take_while(|&&c| is_name_part(c)).count())
        };
        let mut i = start;
        let mut lib = None;
        if bytes.get(i).copied().is_some_and(is_name_start) {
            i += name_len(i);
            while bytes.get(i) == Some(&b'.')
                && bytes.get(i + 1).copied().is_some_and(is_name_start)
            {
                i += 1 + name_len(i + 1);
            }
            if bytes.get(i..i + 2) != Some(b"::") {
                return Ok(None);
            }
            lib = self.src.get(start..i);
            i += 2;
        }
        if !bytes.get(i).is_some_and(u8::is_ascii_uppercase) {
            return match lib {
                Some(_) => Err(self.err(i, "expected a spec name (such as Ahu) after '::'")),
                None => Ok(None),
            };
        }
        let end = i + name_len(i);
        let name = self.src.get(i..end).unwrap_or_default();
        if !cfg!(feature = "defs") {
            return Err(self.err(start, "spec terms need the defs feature of haystack-core"));
        }
        let spec = super::Spec::new(lib, name).map_err(|e| self.err(start, e.to_string()))?;
        self.pos = end;
        Ok(Some(spec))
    }

    fn name(&mut self) -> Result<&'a str> {
        match self.peek() {
            (Tok::Name(n), start, end) => {
                if super::is_keyword(n) {
                    return Err(
                        self.err(start, format!("expected tag name but found keyword '{n}'"))
                    );
                }
                self.pos = end;
                Ok(n)
            }
            _ => Err(self.expected("tag name")),
        }
    }

    fn path(&mut self) -> Result<Path> {
        let mut names = vec![self.name()?.to_owned()];
        while let (Tok::Arrow, start, end) = self.peek() {
            if names.len() >= MAX_PATH_LEN {
                return Err(self.err(start, format!("path longer than {MAX_PATH_LEN} names")));
            }
            self.pos = end;
            names.push(self.name()?.to_owned());
        }
        Ok(Path::from_checked(names))
    }

    fn value(&mut self, op: CmpOp) -> Result<Value> {
        let what = || format!("expected value after '{}'", op.symbol());
        match self.peek() {
            (Tok::Name("true"), _, end) => {
                self.pos = end;
                return Ok(Value::Bool(true));
            }
            (Tok::Name("false"), _, end) => {
                self.pos = end;
                return Ok(Value::Bool(false));
            }
            (Tok::Eof, start, _) => {
                return Err(self.err(start, format!("{} but found end of input", what())));
            }
            _ => {}
        }
        let start = self.pos;
        let (value, end) = super::scalar::read(self.src, start).map_err(|e| match e {
            Error::Parse(mut p) => {
                p.message = format!("{}: {}", what(), p.message);
                Error::Parse(p)
            }
            other => other,
        })?;
        if !super::is_filter_value(&value) {
            return Err(self.err(start, format!("{} but found {value}", what())));
        }
        self.pos = end;
        Ok(value)
    }
}
