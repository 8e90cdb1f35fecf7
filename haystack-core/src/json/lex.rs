//! The byte-level JSON lexer under the Hayson reader ([`super::read`]): whitespace, strings
//! (borrowed from the input when they have no escapes), numbers, literals, skipped values, and
//! the punctuation of arrays and objects, with serde_json's rules and error messages.
//!
//! The input is bytes. When they are all UTF-8 (always for a `&str`) strings are sliced from
//! them as they are; otherwise each string that is decoded is checked, and one that is not
//! UTF-8 is an error, while skipped strings are not checked: serde_json's rules. Every error
//! names the byte where the input went wrong, turned into a line and column by
//! [`Lexer::position`].

use std::borrow::Cow;

use crate::error::Position;

/// How many arrays and objects may be open at once while decoding: serde_json's limit (it
/// refuses the 128th level), which the serde-based reader had before.
pub(super) const MAX_DEPTH: u8 = 128;

/// An error of the lexer or of the decoding above it: a message and the byte it concerns.
#[derive(Debug)]
pub(super) struct Fail {
    /// The index of the byte where the input went wrong (the input's length at its end).
    pub(super) at: usize,
    /// What is wrong, in serde_json's words where serde_json has them.
    pub(super) msg: String,
}

/// A lexer result; the error is boxed so that results stay small on the hot path.
pub(super) type LResult<T> = Result<T, Box<Fail>>;

/// The byte classes of string scanning: 0 plain, 1 the quote, 2 a backslash, 3 a control
/// character.
static STRING_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = 3;
        i += 1;
    }
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 2;
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bits of the bytes of `w` (little-endian) that are `"`, `\` or below 0x20. Only
/// the lowest set bit is exact (a borrow may set bits above a match), which is all that
/// [`Lexer::scan`] uses.
#[inline]
fn specials(w: u64) -> u64 {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    zero(w ^ (ONES * 0x22)) | zero(w ^ (ONES * 0x5c)) | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
}

/// How many characters `bytes` hold: the bytes that do not continue a UTF-8 sequence
/// (`10xxxxxx`), counted a word at a time.
pub(super) fn chars(bytes: &[u8]) -> usize {
    let mut words = bytes.chunks_exact(8);
    let mut cont = 0;
    for chunk in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        cont += (w & !(w << 1) & HIGHS).count_ones() as usize;
    }
    cont += words
        .remainder()
        .iter()
        .filter(|&&c| c & 0xc0 == 0x80)
        .count();
    bytes.len() - cont
}

/// The index of the first `"` or `\` in `b` from `j`, a word at a time.
#[inline]
pub(super) fn find_quote_or_backslash(b: &[u8], mut j: usize) -> Option<usize> {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    while let Some(chunk) = b.get(j..j + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        let m = zero(w ^ (ONES * 0x22)) | zero(w ^ (ONES * 0x5c));
        if m != 0 {
            return Some(j + (m.trailing_zeros() / 8) as usize);
        }
        j += 8;
    }
    b.get(j..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|k| j + k)
}

/// Powers of ten exactly representable as `f64`, for the exact fast path of number parsing.
static POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A cursor over JSON text.
#[derive(Debug)]
pub(super) struct Lexer<'a> {
    /// The input as text, when it is all UTF-8.
    text: Option<&'a str>,
    b: &'a [u8],
    /// The index of the next unread byte.
    i: usize,
    /// Arrays and objects that may still be opened.
    depth: u8,
    /// The open brackets of a value being skipped.
    frames: Vec<u8>,
    /// The decoded text of the last string with escapes read by [`Self::str_ref`].
    scratch: String,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `text`.
    pub(super) fn new(text: &'a str) -> Self {
        Lexer::with(Some(text), text.as_bytes())
    }

    /// A lexer at the start of `bytes`, which need not all be UTF-8.
    pub(super) fn from_bytes(bytes: &'a [u8]) -> Self {
        Lexer::with(std::str::from_utf8(bytes).ok(), bytes)
    }

    fn with(text: Option<&'a str>, b: &'a [u8]) -> Self {
        Lexer {
            text,
            b,
            i: 0,
            depth: MAX_DEPTH,
            frames: Vec::new(),
            scratch: String::new(),
        }
    }

    /// The text of `b[start..end]`, both ends on ASCII bytes (quotes, escapes) or the ends
    /// of a string: checked to be UTF-8 unless the whole input is.
    #[inline(always)]
    fn slice(&self, start: usize, end: usize) -> LResult<&'a str> {
        let s = match self.text {
            Some(t) => t.get(start..end),
            None => self
                .b
                .get(start..end)
                .and_then(|b| std::str::from_utf8(b).ok()),
        };
        match s {
            Some(s) => Ok(s),
            None => self.not_utf8(start, end),
        }
    }

    #[cold]
    fn not_utf8<T>(&self, start: usize, end: usize) -> LResult<T> {
        let bytes = self.b.get(start..end).unwrap_or_default();
        let at = std::str::from_utf8(bytes)
            .err()
            .map_or(0, |e| e.valid_up_to());
        self.fail_at(start + at, "invalid unicode code point")
    }

    /// The error `msg` at byte `at`.
    #[cold]
    pub(super) fn fail_at<T>(&self, at: usize, msg: impl Into<String>) -> LResult<T> {
        Err(Box::new(Fail {
            at,
            msg: msg.into(),
        }))
    }

    /// The error `msg` at the next byte (or at the end).
    #[cold]
    pub(super) fn fail<T>(&self, msg: impl Into<String>) -> LResult<T> {
        self.fail_at(self.i, msg)
    }

    /// The error `msg` at the last byte read: where a value that was found wrong ended.
    #[cold]
    pub(super) fn fail_last<T>(&self, msg: impl Into<String>) -> LResult<T> {
        self.fail_at(self.i.saturating_sub(1), msg)
    }

    /// The line and column (1-based, in characters) of byte `at`, counted from `base` (the
    /// position of the first byte). At the end of the input, the last byte's.
    pub(super) fn position(text: &[u8], at: usize, base: Position) -> Position {
        let at = at.min(text.len().saturating_sub(1));
        let before = text.get(..at).unwrap_or_default();
        let mut pos = base;
        pos.offset += before.len();
        let tail = match memchr::memrchr(b'\n', before) {
            Some(nl) => {
                pos.line += memchr::memchr_iter(b'\n', before).count();
                pos.column = 1;
                before.get(nl + 1..).unwrap_or_default()
            }
            None => before,
        };
        pos.column += chars(tail);
        pos
    }

    /// Skips whitespace and returns the next byte without consuming it.
    #[inline(always)]
    pub(super) fn peek(&mut self) -> Option<u8> {
        // Compact JSON has no whitespace: the first byte is usually the answer.
        if let Some(&c) = self.b.get(self.i)
            && c > b' '
        {
            return Some(c);
        }
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    /// The index of the next unread byte.
    pub(super) fn at(&self) -> usize {
        self.i
    }

    /// Opens an array or object (the cursor is on its bracket), within the depth limit.
    #[inline]
    pub(super) fn enter(&mut self) -> LResult<()> {
        self.depth -= 1;
        if self.depth == 0 {
            return self.fail("recursion limit exceeded");
        }
        self.i += 1;
        Ok(())
    }

    /// Closes what [`Self::enter`] opened.
    #[inline]
    pub(super) fn leave(&mut self) {
        self.depth += 1;
    }

    /// Checks that only whitespace is left.
    pub(super) fn end(&mut self) -> LResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("trailing characters"),
        }
    }

    /// Inside an array: whether another element follows (the cursor is then at it), or the
    /// closing bracket was consumed. `first` is true until the first element.
    #[inline]
    pub(super) fn next_elem(&mut self, first: &mut bool) -> LResult<bool> {
        match self.peek() {
            Some(b']') => {
                self.i += 1;
                return Ok(false);
            }
            Some(b',') if !*first => {
                self.i += 1;
                match self.peek() {
                    Some(b']') => return self.fail("trailing comma"),
                    Some(_) => {}
                    None => return self.fail("EOF while parsing a value"),
                }
            }
            Some(_) if *first => *first = false,
            Some(_) => return self.fail("expected `,` or `]`"),
            None => return self.fail("EOF while parsing a list"),
        }
        Ok(true)
    }

    /// Inside an object: the next key and its colon, or `None` once the closing brace was
    /// consumed. `first` is true until the first key.
    #[inline(always)]
    pub(super) fn next_key(&mut self, first: &mut bool) -> LResult<Option<Cow<'a, str>>> {
        match self.peek() {
            Some(b'}') => {
                self.i += 1;
                return Ok(None);
            }
            Some(b',') if !*first => {
                self.i += 1;
                match self.peek() {
                    Some(b'"') => {}
                    Some(b'}') => return self.fail("trailing comma"),
                    Some(_) => return self.fail("key must be a string"),
                    None => return self.fail("EOF while parsing a value"),
                }
            }
            Some(b'"') if *first => *first = false,
            Some(_) if *first => return self.fail("key must be a string"),
            Some(_) => return self.fail("expected `,` or `}`"),
            None => return self.fail("EOF while parsing an object"),
        }
        let key = self.string()?;
        self.colon()?;
        Ok(Some(key))
    }

    /// The colon after a key.
    #[inline]
    fn colon(&mut self) -> LResult<()> {
        match self.peek() {
            Some(b':') => {
                self.i += 1;
                Ok(())
            }
            Some(_) => self.fail("expected `:`"),
            None => self.fail("EOF while parsing an object"),
        }
    }

    /// The string whose opening quote is at the cursor, borrowed unless it has escapes.
    #[inline(always)]
    pub(super) fn string(&mut self) -> LResult<Cow<'a, str>> {
        let start = self.i + 1;
        let j = self.scan(start);
        match self.b.get(j) {
            Some(b'"') => {
                self.i = j + 1;
                self.slice(start, j).map(Cow::Borrowed)
            }
            _ => self.owned(start, j),
        }
    }

    /// [`Self::string`] of a string with escapes.
    #[cold]
    #[inline(never)]
    fn owned(&mut self, start: usize, j: usize) -> LResult<Cow<'a, str>> {
        let mut out = String::new();
        self.escaped(start, j, &mut out)?;
        Ok(Cow::Owned(out))
    }

    /// The string whose opening quote is at the cursor: borrowed from the input unless it
    /// has escapes, else decoded into a buffer that the lexer reuses.
    #[inline]
    pub(super) fn str_ref(&mut self) -> LResult<&str> {
        let start = self.i + 1;
        let j = self.scan(start);
        if self.b.get(j) == Some(&b'"') {
            self.i = j + 1;
            return self.slice(start, j);
        }
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let res = self.escaped(start, j, &mut out);
        self.scratch = out;
        res.map(|()| self.scratch.as_str())
    }

    /// The index of the first quote, backslash or control character from `j` (or the end).
    #[inline(always)]
    fn scan(&self, mut j: usize) -> usize {
        while let Some(chunk) = self.b.get(j..j + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            let m = specials(u64::from_le_bytes(w));
            if m != 0 {
                return j + (m.trailing_zeros() / 8) as usize;
            }
            j += 8;
        }
        while let Some(&c) = self.b.get(j) {
            if STRING_CLASS[usize::from(c)] != 0 {
                break;
            }
            j += 1;
        }
        j
    }

    /// The rest of a string with escapes: `start` is its first byte, `j` the first special
    /// byte (not a closing quote).
    #[cold]
    fn escaped(&mut self, start: usize, mut j: usize, out: &mut String) -> LResult<()> {
        let mut from = start;
        loop {
            // `from` and `j` are at the string's start or just after an escape or before a
            // special ASCII byte: character boundaries.
            out.push_str(self.slice(from, j)?);
            match self.b.get(j) {
                None => return self.fail_at(j, "EOF while parsing a string"),
                Some(b'"') => {
                    self.i = j + 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    let simple = match self.b.get(j + 1) {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        Some(b'r') => b'\r',
                        Some(b'/') => b'/',
                        _ => 0,
                    };
                    if simple == 0 {
                        j = self.escape(j + 1, out)?;
                    } else {
                        out.push(char::from(simple));
                        j += 2;
                    }
                }
                Some(_) => {
                    return self.fail_at(
                        j,
                        "control character (\\u0000-\\u001F) found while parsing a string",
                    );
                }
            }
            from = j;
            j = self.scan(j);
        }
    }

    /// Decodes the escape whose letter is at `j` into `out`; the index after it.
    fn escape(&self, j: usize, out: &mut String) -> LResult<usize> {
        let c = match self.b.get(j) {
            None => return self.fail_at(j, "EOF while parsing a string"),
            Some(&c) => c,
        };
        out.push(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\x08',
            b'f' => '\x0c',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let (ch, next) = self.unicode(j + 1)?;
                out.push(ch);
                return Ok(next);
            }
            _ => return self.fail_at(j, "invalid escape"),
        });
        Ok(j + 1)
    }

    /// Four hex digits at `j`.
    fn hex4(&self, j: usize) -> LResult<u16> {
        let mut n = 0u16;
        for k in 0..4 {
            let Some(&c) = self.b.get(j + k) else {
                return self.fail_at(j + k, "EOF while parsing a string");
            };
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return self.fail_at(j + k, "invalid escape"),
            };
            n = (n << 4) | u16::from(d);
        }
        Ok(n)
    }

    /// The character of a `\u` escape whose digits start at `j` (a surrogate pair takes a
    /// second escape); the index after it. Lone surrogates are errors, as in serde_json.
    fn unicode(&self, j: usize) -> LResult<(char, usize)> {
        let n = self.hex4(j)?;
        let after = j + 4;
        if (0xDC00..=0xDFFF).contains(&n) {
            return self.fail_at(after - 1, "lone leading surrogate in hex escape");
        }
        if !(0xD800..=0xDBFF).contains(&n) {
            return match char::from_u32(u32::from(n)) {
                Some(ch) => Ok((ch, after)),
                None => self.fail_at(after - 1, "invalid escape"),
            };
        }
        if self.b.get(after) != Some(&b'\\') || self.b.get(after + 1) != Some(&b'u') {
            let at = if self.b.get(after) == Some(&b'\\') {
                after + 1
            } else {
                after
            };
            return self.fail_at(at, "unexpected end of hex escape");
        }
        let n2 = self.hex4(after + 2)?;
        if !(0xDC00..=0xDFFF).contains(&n2) {
            return self.fail_at(after + 5, "lone leading surrogate in hex escape");
        }
        let c = 0x1_0000 + ((u32::from(n - 0xD800) << 10) | u32::from(n2 - 0xDC00));
        match char::from_u32(c) {
            Some(ch) => Ok((ch, after + 6)),
            None => self.fail_at(after + 5, "invalid escape"),
        }
    }

    /// The number at the cursor, correctly rounded (as serde_json's `float_roundtrip`);
    /// `-0` is negative zero and a value past `f64`'s range is an error.
    #[inline]
    pub(super) fn number(&mut self) -> LResult<f64> {
        let start = self.i;
        let mut j = start;
        let neg = self.b.get(j) == Some(&b'-');
        if neg {
            j += 1;
        }
        let mut mant: u64 = 0;
        let mut digits = 0usize;
        match self.b.get(j) {
            Some(b'0') => {
                j += 1;
                if let Some(b'0'..=b'9') = self.b.get(j) {
                    return self.fail_at(j, "invalid number");
                }
            }
            Some(b'1'..=b'9') => {
                while let Some(&c @ b'0'..=b'9') = self.b.get(j) {
                    if digits < 19 {
                        mant = mant * 10 + u64::from(c - b'0');
                    }
                    digits += 1;
                    j += 1;
                }
            }
            _ => return self.fail_at(j, "invalid number"),
        }
        let mut exp: i64 = 0;
        let mut float = false;
        if self.b.get(j) == Some(&b'.') {
            float = true;
            j += 1;
            let frac = j;
            while let Some(&c @ b'0'..=b'9') = self.b.get(j) {
                if digits < 19 {
                    mant = mant * 10 + u64::from(c - b'0');
                    exp -= 1;
                }
                if mant != 0 || c != b'0' {
                    digits += 1;
                }
                j += 1;
            }
            if j == frac {
                return self.fail_at(j, "invalid number");
            }
        }
        if let Some(b'e' | b'E') = self.b.get(j) {
            float = true;
            j += 1;
            let eneg = match self.b.get(j) {
                Some(b'-') => {
                    j += 1;
                    true
                }
                Some(b'+') => {
                    j += 1;
                    false
                }
                _ => false,
            };
            let digits_at = j;
            let mut e: i64 = 0;
            while let Some(&c @ b'0'..=b'9') = self.b.get(j) {
                e = (e * 10 + i64::from(c - b'0')).min(1 << 40);
                j += 1;
            }
            if j == digits_at {
                return self.fail_at(j, "invalid number");
            }
            exp += if eneg { -e } else { e };
        }
        self.i = j;
        // Exact when the digits fit and the power of ten is exact: one rounding, as a
        // correct parser gives.
        let v = if digits <= 19 && !float {
            Some(mant as f64)
        } else if digits <= 19 && mant <= 1 << 53 && (-22..=22).contains(&exp) {
            let m = mant as f64;
            let p = POW10
                .get(exp.unsigned_abs() as usize)
                .copied()
                .unwrap_or(1.0);
            Some(if exp < 0 { m / p } else { m * p })
        } else {
            None
        };
        let v = match v {
            Some(v) if neg => -v,
            Some(v) => v,
            // Digits, signs, dots and exponents only: ASCII, so UTF-8.
            None => match self.slice(start, j).ok().map(str::parse::<f64>) {
                Some(Ok(v)) => v,
                _ => return self.fail_at(j.saturating_sub(1), "invalid number"),
            },
        };
        if v.is_finite() {
            Ok(v)
        } else {
            self.fail_at(j.saturating_sub(1), "number out of range")
        }
    }

    /// The literal `word` (`true`, `false`, `null`) at the cursor.
    #[inline]
    pub(super) fn literal(&mut self, word: &[u8]) -> LResult<()> {
        for (k, &w) in word.iter().enumerate() {
            match self.b.get(self.i + k) {
                Some(&c) if c == w => {}
                Some(_) => return self.fail_at(self.i + k, "expected ident"),
                None => return self.fail_at(self.i + k, "EOF while parsing a value"),
            }
        }
        self.i += word.len();
        Ok(())
    }

    /// Skips one value as serde_json ignores one: syntax checked, numbers not range-checked,
    /// `\u` escapes not paired, and no depth limit (the open brackets are kept on a stack
    /// that grows with the input, not recursion).
    pub(super) fn skip_value(&mut self) -> LResult<()> {
        self.frames.clear();
        loop {
            // A value.
            match self.peek() {
                None => return self.fail("EOF while parsing a value"),
                Some(b'n') => self.literal(b"null")?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'-' | b'0'..=b'9') => self.skip_number()?,
                Some(b'"') => self.skip_string()?,
                Some(c @ (b'[' | b'{')) => {
                    self.i += 1;
                    let close = if c == b'[' { b']' } else { b'}' };
                    match self.peek() {
                        Some(x) if x == close => self.i += 1,
                        _ => {
                            self.frames.push(c);
                            if c == b'{' {
                                self.skip_key()?;
                            }
                            continue;
                        }
                    }
                }
                Some(_) => return self.fail("expected value"),
            }
            // After a value: a comma (then the next one) or closing brackets.
            loop {
                let Some(&frame) = self.frames.last() else {
                    return Ok(());
                };
                match (self.peek(), frame) {
                    (Some(b','), _) => {
                        self.i += 1;
                        if frame == b'{' {
                            self.skip_key()?;
                        }
                        break;
                    }
                    (Some(b']'), b'[') | (Some(b'}'), b'{') => {
                        self.i += 1;
                        self.frames.pop();
                    }
                    (Some(_), b'[') => return self.fail("expected `,` or `]`"),
                    (Some(_), _) => return self.fail("expected `,` or `}`"),
                    (None, b'[') => return self.fail("EOF while parsing a list"),
                    (None, _) => return self.fail("EOF while parsing an object"),
                }
            }
        }
    }

    /// A key and its colon, skipped.
    fn skip_key(&mut self) -> LResult<()> {
        match self.peek() {
            Some(b'"') => self.skip_string()?,
            Some(_) => return self.fail("key must be a string"),
            None => return self.fail("EOF while parsing an object"),
        }
        self.colon()
    }

    /// A string, checked but not decoded.
    fn skip_string(&mut self) -> LResult<()> {
        let mut j = self.i + 1;
        loop {
            j = self.scan(j);
            match self.b.get(j) {
                None => return self.fail_at(j, "EOF while parsing a string"),
                Some(b'"') => {
                    self.i = j + 1;
                    return Ok(());
                }
                Some(b'\\') => match self.b.get(j + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j += 2,
                    Some(b'u') => {
                        self.hex4(j + 2)?;
                        j += 6;
                    }
                    Some(_) => return self.fail_at(j + 1, "invalid escape"),
                    None => return self.fail_at(j + 1, "EOF while parsing a string"),
                },
                Some(_) => {
                    return self.fail_at(
                        j,
                        "control character (\\u0000-\\u001F) found while parsing a string",
                    );
                }
            }
        }
    }

    /// A number, checked for syntax only.
    fn skip_number(&mut self) -> LResult<()> {
        let digits = |lx: &mut Self| {
            let from = lx.i;
            while let Some(b'0'..=b'9') = lx.b.get(lx.i) {
                lx.i += 1;
            }
            lx.i > from
        };
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.b.get(self.i) {
                    return self.fail("invalid number");
                }
            }
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return self.fail("invalid number"),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !digits(self) {
                return self.fail("invalid number");
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if !digits(self) {
                return self.fail("invalid number");
            }
        }
        Ok(())
    }
}
