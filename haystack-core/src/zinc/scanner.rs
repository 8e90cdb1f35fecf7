//! [`Scanner`]: a byte cursor over Zinc text with positions and error helpers.

use std::sync::Arc;

use super::chars;
use crate::value::{Ref, SmolStr};
use crate::{Error, Position, Result};

/// Interns small repeated strings (units, timezone names, tag names, ref ids and display names)
/// so that values read from one document share them instead of allocating each time.
///
/// Direct-mapped caches of at most [`Interner::SLOTS`] entries: a string whose slot holds
/// another string replaces it, so memory stays bounded and unique strings cannot crowd out
/// repeated ones for long. Each table starts small and grows (dropping what it held) while it
/// keeps missing, so a short document, such as a request grid, pays for a small table only.
///
/// Strings of [`Interner::intern_str`] up to [`Interner::INLINE_LEN`] bytes are held inline and
/// never remembered; longer ones up to [`Interner::MAX_STR_LEN`] bytes are shared through a
/// table of their own ([`Interner::STR_SLOTS`] entries at most).
#[derive(Debug, Default, Clone)]
pub struct Interner {
    slots: Table<Arc<str>>,
    refs: Table<Ref>,
    strs: Table<SmolStr>,
    /// Strings with escapes: their source between the quotes and their value.
    escaped: Table<(Box<str>, SmolStr)>,
    /// Where a new ref's id and display name are joined before their one allocation.
    scratch: String,
}

/// One direct-mapped cache table of an [`Interner`], power-of-two sized, indexed by the high
/// bits of a hash.
#[derive(Debug, Clone)]
struct Table<T> {
    slots: Vec<Option<T>>,
    /// Entries stored since the table last grew.
    stored: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            slots: Vec::new(),
            stored: 0,
        }
    }
}

impl<T> Table<T> {
    /// Entries of a table's first allocation.
    const FIRST: usize = 64;

    fn index(&self, hash: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        hash.checked_shr(64 - bits).unwrap_or(0) as usize
    }

    /// What the slot of `hash` holds.
    fn get(&self, hash: u64) -> Option<&T> {
        self.slots.get(self.index(hash))?.as_ref()
    }

    /// Stores `value` in the slot of `hash`. A table that has stored as many entries as it has
    /// slots first grows fourfold, up to `max` slots (a power of two), and starts empty.
    fn put(&mut self, hash: u64, value: T, max: usize) {
        if self.slots.is_empty() || (self.stored >= self.slots.len() && self.slots.len() < max) {
            let len = if self.slots.is_empty() {
                Self::FIRST.min(max)
            } else {
                (self.slots.len() * 4).min(max)
            };
            self.slots = std::iter::repeat_with(|| None).take(len).collect();
            self.stored = 0;
        }
        let i = self.index(hash);
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = Some(value);
            self.stored += 1;
        }
    }
}

/// A fast, non-cryptographic hash of a short string (FxHash-style, 8 bytes at a time).
fn fx_hash(s: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = s.len() as u64;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        for (d, s) in w.iter_mut().zip(rest) {
            *d = *s;
        }
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h
}

impl Interner {
    /// How many strings are remembered at most.
    pub const SLOTS: usize = 4096;

    /// Strings longer than this are never remembered.
    pub const MAX_LEN: usize = 96;

    /// Strings of [`Interner::intern_str`] up to this length are held inline (no allocation).
    pub const INLINE_LEN: usize = 23;

    /// How many long strings [`Interner::intern_str`] remembers at most.
    pub const STR_SLOTS: usize = 1024;

    /// Strings of [`Interner::intern_str`] longer than this are never remembered (so the table
    /// holds at most `STR_SLOTS * MAX_STR_LEN` bytes, 1 MiB).
    pub const MAX_STR_LEN: usize = 1024;

    /// An empty interner (it allocates its tables on first use).
    pub fn new() -> Self {
        Interner::default()
    }

    /// The shared copy of `s`.
    pub fn intern(&mut self, s: &str) -> Arc<str> {
        if s.len() > Self::MAX_LEN {
            return Arc::from(s);
        }
        let h = fx_hash(s.as_bytes());
        if let Some(a) = self.slots.get(h)
            && &**a == s
        {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.slots.put(h, a.clone(), Self::SLOTS);
        a
    }

    /// A string value: inline when short, else the shared copy of a recent equal string (a
    /// text repeated down a column costs one allocation).
    pub fn intern_str(&mut self, s: &str) -> SmolStr {
        if s.len() <= Self::INLINE_LEN || s.len() > Self::MAX_STR_LEN {
            return SmolStr::new(s);
        }
        let h = fx_hash(s.as_bytes());
        if let Some(a) = self.strs.get(h)
            && a.as_str() == s
        {
            return a.clone();
        }
        let a = SmolStr::new(s);
        self.strs.put(h, a.clone(), Self::STR_SLOTS);
        a
    }

    /// The value of a string literal whose source between the quotes is `raw`, when it is
    /// known without decoding escapes: `raw` itself if it has none (`has_escapes` false; as
    /// [`Interner::intern_str`] gives it, no temporary string), else the value remembered for
    /// the same source by [`Interner::remember_escaped`]. `None` means: decode it.
    pub fn escaped_str(&mut self, raw: &str, has_escapes: bool) -> Option<SmolStr> {
        if !has_escapes {
            return Some(self.intern_str(raw));
        }
        if raw.len() > Self::MAX_STR_LEN {
            return None;
        }
        match self.escaped.get(fx_hash(raw.as_bytes())) {
            Some((r, v)) if &**r == raw => Some(v.clone()),
            _ => None,
        }
    }

    /// Remembers `value` as the decoding of the string literal source `raw` (which has
    /// escapes), for [`Interner::escaped_str`].
    pub fn remember_escaped(&mut self, raw: &str, value: &SmolStr) {
        if raw.len() > Self::MAX_STR_LEN {
            return;
        }
        self.escaped.put(
            fx_hash(raw.as_bytes()),
            (Box::from(raw), value.clone()),
            Self::STR_SLOTS,
        );
    }

    /// The shared copy of the ref with id `id` and display name `dis` (not validated): refs
    /// repeat (every point names its site and equip), and a shared ref costs no allocation.
    pub fn intern_ref(&mut self, id: &str, dis: Option<&str>) -> Ref {
        let dis_len = dis.map_or(0, str::len);
        if id.len() + dis_len > Self::MAX_LEN {
            return Ref::from_strs(id, dis);
        }
        let h = fx_hash(id.as_bytes()) ^ dis.map_or(0, |d| fx_hash(d.as_bytes()).rotate_left(17));
        if let Some(r) = self.refs.get(h)
            && r.id() == id
            && r.dis() == dis
        {
            return r.clone();
        }
        let r = match dis {
            None => Ref::from_strs(id, None),
            Some(d) => {
                self.scratch.clear();
                self.scratch.push_str(id);
                self.scratch.push_str(d);
                Ref::from_joined(Arc::from(self.scratch.as_str()), id.len())
            }
        };
        self.refs.put(h, r.clone(), Self::SLOTS);
        r
    }
}

/// A cursor over UTF-8 Zinc text, working on bytes, that knows its line, column and byte offset
/// (computed only when asked, so scanning costs nothing extra).
///
/// It is the lexer that the Zinc reader of `haystack-zinc` and the filter parser build on: peek,
/// bump and eat bytes, read tag names and scalar literals ([`Scanner::read_scalar`]), and build
/// errors that carry the position and say what was expected and found.
///
/// ```
/// use haystack_core::zinc::Scanner;
/// use haystack_core::Value;
/// let mut s = Scanner::new("dis:\"HQ\" area:12kW");
/// assert_eq!(s.read_id().unwrap(), "dis");
/// assert!(s.eat(b':'));
/// assert_eq!(s.read_scalar().unwrap(), Value::from("HQ"));
/// s.skip_spaces();
/// assert_eq!(s.read_id().unwrap(), "area");
/// s.expect(b':').unwrap();
/// assert_eq!(s.read_scalar().unwrap().to_string(), "12kW");
/// assert!(s.is_eof());
/// let err = Scanner::new("\n  )").expect(b'(').unwrap_err();
/// assert_eq!(err.to_string(), "expected '(' but found newline at line 1, column 1");
/// ```
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    src: &'a str,
    pos: usize,
    base: Position,
    interner: Interner,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `src` (line 1, column 1, offset 0).
    pub fn new(src: &'a str) -> Self {
        Scanner::with_base(
            src,
            Position {
                line: 1,
                column: 1,
                offset: 0,
            },
            Interner::new(),
        )
    }

    /// A scanner over `src`, a piece of a larger input whose first byte is at `base`; positions
    /// in errors are then positions in the larger input. Takes an interner to keep sharing
    /// strings across pieces (get it back with [`Scanner::into_interner`]).
    pub fn with_base(src: &'a str, base: Position, interner: Interner) -> Self {
        Scanner {
            src,
            pos: 0,
            base,
            interner,
        }
    }

    /// The interner, to pass to the scanner of the next piece.
    pub fn into_interner(self) -> Interner {
        self.interner
    }

    /// The interner of this scanner.
    pub fn interner(&mut self) -> &mut Interner {
        &mut self.interner
    }

    /// The whole text.
    pub fn src(&self) -> &'a str {
        self.src
    }

    /// The text as bytes.
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    /// The current byte offset within this scanner's text.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Moves to byte offset `pos` (clamped to the end). Callers must stay on char boundaries,
    /// which every ASCII delimiter is.
    #[inline]
    pub fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.src.len());
    }

    /// The text from the current position.
    pub fn rest(&self) -> &'a str {
        self.slice(self.pos, self.src.len())
    }

    /// The text between two byte offsets, or `""` if they are not char boundaries.
    #[inline]
    pub fn slice(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or_default()
    }

    /// Whether the whole text has been consumed.
    #[inline]
    pub fn is_eof(&self) -> bool {
        self.pos >= self.src.len()
    }

    /// The current byte.
    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    /// The byte `n` bytes ahead.
    #[inline]
    pub fn peek_at(&self, n: usize) -> Option<u8> {
        self.bytes().get(self.pos + n).copied()
    }

    /// Consumes and returns the current byte.
    #[inline]
    pub fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Consumes `b` if it is the current byte.
    #[inline]
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `s` if the text continues with it.
    pub fn eat_str(&mut self, s: &str) -> bool {
        if self
            .bytes()
            .get(self.pos..)
            .is_some_and(|r| r.starts_with(s.as_bytes()))
        {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Whether the text continues with `s`.
    pub fn starts_with(&self, s: &str) -> bool {
        self.bytes()
            .get(self.pos..)
            .is_some_and(|r| r.starts_with(s.as_bytes()))
    }

    /// Consumes `b` or fails with `expected 'b' but found ...`.
    pub fn expect(&mut self, b: u8) -> Result<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.expected(&format!("'{}'", char::from(b))))
        }
    }

    /// Skips spaces and tabs.
    #[inline]
    pub fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Skips spaces, tabs, carriage returns and newlines.
    pub fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    /// Consumes a newline (`\n`, `\r\n`, or a lone `\r`), after optional spaces; false if there
    /// is none.
    pub fn eat_newline(&mut self) -> bool {
        let save = self.pos;
        self.skip_spaces();
        if self.eat(b'\n') {
            return true;
        }
        if self.eat(b'\r') {
            self.eat(b'\n');
            return true;
        }
        self.pos = save;
        false
    }

    /// The position (line, column, offset) of byte offset `offset` of this scanner's text.
    pub fn position_at(&self, offset: usize) -> Position {
        let offset = offset.min(self.src.len());
        let before = self.bytes().get(..offset).unwrap_or_default();
        let newlines = memchr::memchr_iter(b'\n', before).count();
        let chars = |b: &[u8]| b.iter().filter(|&&c| (c & 0xc0) != 0x80).count();
        let (line, column) = match memchr::memrchr(b'\n', before) {
            Some(nl) => (
                self.base.line + newlines,
                1 + chars(before.get(nl + 1..).unwrap_or_default()),
            ),
            None => (self.base.line, self.base.column + chars(before)),
        };
        Position {
            line,
            column,
            offset: self.base.offset + offset,
        }
    }

    /// The current position.
    pub fn position(&self) -> Position {
        self.position_at(self.pos)
    }

    /// A parse error at byte offset `offset`.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> Error {
        Error::parse(self.position_at(offset), message)
    }

    /// A parse error at the current position.
    pub fn error(&self, message: impl Into<String>) -> Error {
        self.error_at(self.pos, message)
    }

    /// A description of what is at the current position: `'c'`, `newline` or `end of input`.
    pub fn found(&self) -> String {
        describe(self.rest())
    }

    /// `expected {what} but found {found}` at the current position.
    pub fn expected(&self, what: &str) -> Error {
        self.error(format!("expected {what} but found {}", self.found()))
    }

    /// Reads a tag name `[a-z][a-zA-Z0-9_]*`.
    pub fn read_id(&mut self) -> Result<&'a str> {
        let start = self.pos;
        if !matches!(self.peek(), Some(b'a'..=b'z')) {
            return Err(self.expected("tag name"));
        }
        self.pos += 1;
        self.skip_class(chars::WORD);
        Ok(self.slice(start, self.pos))
    }

    /// Consumes the bytes of class `class` (see [`chars`]); returns how many.
    #[inline]
    pub(crate) fn skip_class(&mut self, class: u8) -> usize {
        let n = chars::run(self.bytes().get(self.pos..).unwrap_or_default(), class);
        self.pos += n;
        n
    }

    /// Consumes bytes while `f` holds; returns how many.
    #[inline]
    pub fn skip_while(&mut self, f: impl Fn(u8) -> bool) -> usize {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if !f(b) {
                break;
            }
            self.pos += 1;
        }
        self.pos - start
    }
}

/// Describes the start of `rest` for error messages: `'c'`, `newline` or `end of input`.
pub fn describe(rest: &str) -> String {
    match rest.chars().next() {
        None => "end of input".to_owned(),
        Some('\n') => "newline".to_owned(),
        Some('\r') => "carriage return".to_owned(),
        Some('\t') => "tab".to_owned(),
        Some(c) if c.is_control() => format!("{:?}", c),
        Some(c) => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_chars() {
        let s = Scanner::new("ab\ncé\nx");
        assert_eq!(
            s.position_at(0),
            Position {
                line: 1,
                column: 1,
                offset: 0
            }
        );
        assert_eq!(
            s.position_at(3),
            Position {
                line: 2,
                column: 1,
                offset: 3
            }
        );
        assert_eq!(
            s.position_at(6),
            Position {
                line: 2,
                column: 3,
                offset: 6
            }
        );
        assert_eq!(
            s.position_at(7),
            Position {
                line: 3,
                column: 1,
                offset: 7
            }
        );
        let b = Scanner::with_base(
            "x\ny",
            Position {
                line: 5,
                column: 3,
                offset: 100,
            },
            Interner::new(),
        );
        assert_eq!(
            b.position_at(1),
            Position {
                line: 5,
                column: 4,
                offset: 101
            }
        );
        assert_eq!(
            b.position_at(2),
            Position {
                line: 6,
                column: 1,
                offset: 102
            }
        );
    }

    #[test]
    fn interner_shares() {
        let mut i = Interner::new();
        let a = i.intern("kW");
        let _ = i.intern("°F");
        let b = i.intern("kW");
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn interner_tables_start_small_and_grow_while_they_miss() {
        let mut i = Interner::new();
        let _ = i.intern("kW");
        assert_eq!(i.slots.slots.len(), Table::<Arc<str>>::FIRST);
        for n in 0..20_000 {
            let _ = i.intern(&format!("tag{n}"));
        }
        assert_eq!(i.slots.slots.len(), Interner::SLOTS);
        // Still a cache once grown: a string interned twice in a row is shared.
        let a = i.intern("siteRef");
        let b = i.intern("siteRef");
        assert!(Arc::ptr_eq(&a, &b));
        let long = "a display name longer than the inline limit";
        let s1 = i.intern_str(long);
        let s2 = i.intern_str(long);
        assert_eq!(s1, s2);
        assert!(i.strs.slots.len() <= Interner::STR_SLOTS);
    }
}
