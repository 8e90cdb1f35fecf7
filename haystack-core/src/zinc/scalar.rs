//! Reading Zinc scalar literals with a [`Scanner`].

use std::borrow::Cow;
use std::sync::Arc;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::write::is_kept_uri_escape;
use super::{Scanner, chars};
use crate::value::{Coord, DateTime, Number, Ref, SmolStr, XStr};
use crate::{Result, Value};

/// Whether `b` may appear in a unit: ASCII letters, `% _ / $`, or any byte of a non-ASCII char.
#[inline]
pub fn is_unit_byte(b: u8) -> bool {
    chars::is(b, chars::UNIT)
}

#[inline]
fn is_digit(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_digit())
}

impl<'a> Scanner<'a> {
    /// Reads one scalar literal at the current position: `N M R NA T F`, numbers (with units,
    /// `INF`, `-INF`, `NaN`), strings, URIs, refs (with display names), symbols, dates, times,
    /// datetimes, coordinates and XStrs. Lists, dicts and grids are not scalars and give an
    /// error here (the `haystack-zinc` reader handles them).
    pub fn read_scalar(&mut self) -> Result<Value> {
        let start = self.pos();
        let Some(b) = self.peek() else {
            return Err(self.expected("value"));
        };
        match b {
            b'"' => {
                let Some((end, has_escapes)) = self.str_end(start + 1) else {
                    // Unterminated: the decoder says where and why.
                    let text = self.read_str_cow()?;
                    return Ok(Value::Str(self.interner().intern_str(&text)));
                };
                let raw = self.slice(start + 1, end);
                if let Some(v) = self.interner().escaped_str(raw, has_escapes) {
                    self.set_pos(end + 1);
                    return Ok(Value::Str(v));
                }
                let text = self.read_str_cow()?;
                let v = self.interner().intern_str(&text);
                self.interner().remember_escaped(raw, &v);
                Ok(Value::Str(v))
            }
            b'`' => Ok(Value::Uri(SmolStr::from(self.read_uri_literal()?))),
            b'@' => Ok(Value::Ref(self.read_ref()?)),
            b'^' => {
                self.bump();
                let s = self.skip_class(chars::REF);
                if s == 0 {
                    return Err(self.expected("symbol name"));
                }
                Ok(Value::Symbol(SmolStr::new(
                    self.slice(start + 1, self.pos()),
                )))
            }
            b'0'..=b'9' => self.read_digit_led(),
            b'-' => {
                if self.peek_at(1).is_some_and(|b| b.is_ascii_uppercase()) {
                    // `-INF` is the only word a minus may lead; `-INFINITY` is none.
                    self.bump();
                    let word_at = self.pos();
                    self.skip_class(chars::WORD);
                    let word = self.slice(word_at, self.pos());
                    if word != "INF" {
                        return Err(self.error_at(word_at, format!("unknown keyword '{word}'")));
                    }
                    let unit = self.read_unit();
                    return Ok(Value::Number(Number::with_shared_unit(
                        f64::NEG_INFINITY,
                        unit,
                    )));
                }
                if !is_digit(self.peek_at(1)) {
                    self.bump();
                    return Err(self.expected("digit"));
                }
                Ok(Value::Number(self.read_number()?))
            }
            b'A'..=b'Z' => self.read_keyword(),
            _ => Err(self.expected("value")),
        }
    }

    /// Reads a keyword (`N`, `M`, `R`, `NA`, `T`, `F`, `INF`, `NaN`), a coord `C(..)` or an XStr.
    fn read_keyword(&mut self) -> Result<Value> {
        let start = self.pos();
        self.skip_class(chars::WORD);
        let word = self.slice(start, self.pos());
        if self.peek() == Some(b'(') {
            let paren = self.pos();
            self.bump();
            if word == "C" {
                self.skip_spaces();
                if matches!(self.peek(), Some(b'0'..=b'9' | b'-')) {
                    return self.read_coord_body(start);
                }
                self.set_pos(paren + 1);
            }
            let value = if word == "Bin" && self.peek() != Some(b'"') {
                // Zinc 2.0 `Bin(text/plain)`: the mime type unquoted, made of RFC 2045 token
                // bytes, `/`, `;`, `=` and spaces. Nothing that quotes, escapes, nests or
                // delimits (`"`, `[`, `(`, `,`, ...) may appear: the streaming reader's row
                // splitter would take it for the start of a string or a nested value, so both
                // readers stop there and fail alike.
                let s = self.pos();
                self.skip_while(is_bare_mime_byte);
                self.slice(s, self.pos()).to_owned()
            } else {
                self.read_str_literal()?
            };
            self.expect(b')')?;
            // `word` is `[A-Z][A-Za-z0-9_]*` by construction.
            return XStr::new(word, value)
                .map(Value::XStr)
                .map_err(|e| self.error_at(start, e.to_string()));
        }
        Ok(match word {
            "N" => Value::Null,
            "M" => Value::Marker,
            "R" => Value::Remove,
            "NA" => Value::Na,
            "T" => Value::Bool(true),
            "F" => Value::Bool(false),
            "NaN" => Value::Number(Number::new(f64::NAN)),
            // A unit after `INF` starts with a byte that cannot continue the word (`INF°F`).
            "INF" => Value::Number(Number::with_shared_unit(f64::INFINITY, self.read_unit())),
            _ => return Err(self.error_at(start, format!("unknown keyword '{word}'"))),
        })
    }

    /// Reads `lat, lng)` after `C(` (spaces allowed around both numbers).
    fn read_coord_body(&mut self, start: usize) -> Result<Value> {
        self.skip_spaces();
        let lat = self.read_coord_deg()?;
        self.skip_spaces();
        self.expect(b',')?;
        self.skip_spaces();
        let lng = self.read_coord_deg()?;
        self.skip_spaces();
        self.expect(b')')?;
        Coord::new(lat, lng)
            .map(Value::Coord)
            .map_err(|e| self.error_at(start, e.to_string()))
    }

    fn read_coord_deg(&mut self) -> Result<f64> {
        let start = self.pos();
        self.eat(b'-');
        if self.skip_while(|b| b.is_ascii_digit()) == 0 {
            return Err(self.expected("digit"));
        }
        if self.eat(b'.') && self.skip_while(|b| b.is_ascii_digit()) == 0 {
            return Err(self.expected("digit"));
        }
        self.slice(start, self.pos())
            .parse()
            .map_err(|_| self.error_at(start, "invalid coordinate"))
    }

    /// Reads unit bytes, interned; `None` if there are none.
    fn read_unit(&mut self) -> Option<Arc<str>> {
        let start = self.pos();
        if self.skip_class(chars::UNIT) == 0 {
            return None;
        }
        // Unit bytes stop only before an ASCII byte, so the end is a char boundary.
        let u = self.slice(start, self.pos());
        Some(self.interner().intern(u))
    }

    /// Reads a value that starts with a digit: a date, time, datetime or number.
    fn read_digit_led(&mut self) -> Result<Value> {
        let b = self.bytes().get(self.pos()..).unwrap_or_default();
        let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        if d(0) && d(1) && d(2) && d(3) && b.get(4) == Some(&b'-') {
            let start = self.pos();
            let date = self.read_date()?;
            if self.peek() == Some(b'T') {
                self.bump();
                return self.read_datetime_rest(start, date).map(Value::DateTime);
            }
            return Ok(Value::Date(date));
        }
        if d(0) && d(1) && b.get(2) == Some(&b':') {
            return self.read_time().map(Value::Time);
        }
        self.read_number().map(Value::Number)
    }

    /// Reads `n` ASCII digits as a number.
    fn read_fixed(&mut self, n: usize, what: &str) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    v = v * 10 + u32::from(c - b'0');
                    self.bump();
                }
                _ => return Err(self.expected(what)),
            }
        }
        Ok(v)
    }

    /// Reads a date `YYYY-MM-DD`.
    pub fn read_date(&mut self) -> Result<Date> {
        let start = self.pos();
        let y = self.read_fixed(4, "digit")?;
        self.expect(b'-')?;
        let m = self.read_fixed(2, "digit")?;
        self.expect(b'-')?;
        let d = self.read_fixed(2, "digit")?;
        let month = u8::try_from(m).ok().and_then(|m| Month::try_from(m).ok());
        // y < 10000 and d < 100 by construction.
        month
            .and_then(|month| Date::from_calendar_date(y as i32, month, d as u8).ok())
            .ok_or_else(|| {
                self.error_at(
                    start,
                    format!("invalid date '{}'", self.slice(start, self.pos())),
                )
            })
    }

    /// Reads a time `hh:mm[:ss[.fffffffff]]`.
    pub fn read_time(&mut self) -> Result<Time> {
        let start = self.pos();
        let h = self.read_fixed(2, "digit")?;
        self.expect(b':')?;
        let m = self.read_fixed(2, "digit")?;
        let mut s = 0;
        let mut nanos = 0u32;
        if self.eat(b':') {
            s = self.read_fixed(2, "digit")?;
            if self.peek() == Some(b'.') && is_digit(self.peek_at(1)) {
                self.bump();
                let mut scale = 100_000_000u32;
                while let Some(c @ b'0'..=b'9') = self.peek() {
                    nanos += u32::from(c - b'0') * scale;
                    scale /= 10;
                    self.bump();
                }
            }
        }
        // h, m, s < 100 by construction.
        Time::from_hms_nano(h as u8, m as u8, s as u8, nanos).map_err(|_| {
            self.error_at(
                start,
                format!("invalid time '{}'", self.slice(start, self.pos())),
            )
        })
    }

    /// Reads the rest of a datetime after `YYYY-MM-DDT`: time, offset and timezone name.
    fn read_datetime_rest(&mut self, start: usize, date: Date) -> Result<DateTime> {
        let time = self.read_time()?;
        let off_start = self.pos();
        let offset = match self.peek() {
            Some(b'Z') => {
                self.bump();
                UtcOffset::UTC
            }
            Some(sign @ (b'+' | b'-')) => {
                self.bump();
                let h = self.read_fixed(2, "digit")?;
                self.expect(b':')?;
                let m = self.read_fixed(2, "digit")?;
                let secs = (h * 3600 + m * 60) as i32;
                let secs = if sign == b'-' { -secs } else { secs };
                UtcOffset::from_whole_seconds(secs)
                    .map_err(|_| self.error_at(off_start, "invalid timezone offset"))?
            }
            _ => return Err(self.expected("timezone offset")),
        };
        let odt = PrimitiveDateTime::new(date, time).assume_offset(offset);
        let tz = if self.peek() == Some(b' ') && matches!(self.peek_at(1), Some(b'A'..=b'Z')) {
            self.bump();
            let s = self.pos();
            self.skip_class(chars::TZ);
            let name = self.slice(s, self.pos());
            self.interner().intern(name)
        } else if offset == UtcOffset::UTC {
            // The common `...Z` without a name: shared, not allocated per value.
            self.interner().intern("UTC")
        } else {
            let name = default_tz(offset).ok_or_else(|| self.expected("timezone name"))?;
            self.interner().intern(&name)
        };
        let _ = start;
        Ok(DateTime::from_parts(odt, tz))
    }

    /// Reads a number with optional exponent and unit (not `INF` or `NaN`).
    pub fn read_number(&mut self) -> Result<Number> {
        let start = self.pos();
        self.eat(b'-');
        if !is_digit(self.peek()) {
            return Err(self.expected("digit"));
        }
        let mut simple = true; // only digits so far
        let mut int: u64 = 0;
        let mut ndigits = 0;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' => {
                    int = int.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                    ndigits += 1;
                }
                // A digit separator only between digits; otherwise the unit starts here.
                b'_' if is_digit(self.peek_at(1)) => simple = false,
                _ => break,
            }
            self.bump();
        }
        if self.peek() == Some(b'.') && is_digit(self.peek_at(1)) {
            simple = false;
            self.bump();
            while let Some(c) = self.peek() {
                if !(c.is_ascii_digit() || c == b'_' && is_digit(self.peek_at(1))) {
                    break;
                }
                self.bump();
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let sign = matches!(self.peek_at(1), Some(b'+' | b'-'));
            if is_digit(self.peek_at(if sign { 2 } else { 1 })) {
                simple = false;
                self.set_pos(self.pos() + if sign { 2 } else { 1 });
                self.skip_while(|b| b.is_ascii_digit());
            }
        }
        let end = self.pos();
        let value = if simple && ndigits <= 15 {
            let v = int as f64;
            if self.bytes().get(start) == Some(&b'-') {
                -v
            } else {
                v
            }
        } else {
            let text = self.slice(start, end);
            let parsed = if text.contains('_') {
                text.replace('_', "").parse::<f64>()
            } else {
                text.parse::<f64>()
            };
            let v = parsed.map_err(|_| self.error_at(start, format!("invalid number '{text}'")))?;
            // A finite literal past f64's range would become INF, which Zinc writes without its
            // unit: refuse it rather than read a value that cannot be written back.
            if !v.is_finite() {
                return Err(self.error_at(start, format!("number '{text}' is out of range")));
            }
            v
        };
        let unit = self.read_unit();
        Ok(Number::with_shared_unit(value, unit))
    }

    /// Where the string literal whose text starts at byte `body` (after its `"`) ends: the
    /// offset of its closing quote, and whether it has escapes (`\` and the byte after it are
    /// passed over, not checked); `None` if a newline or the end of input comes first.
    fn str_end(&self, body: usize) -> Option<(usize, bool)> {
        let bytes = self.bytes();
        let mut at = body;
        let mut escapes = false;
        loop {
            let rest = bytes.get(at..)?;
            let i = chars::find_str_stop(rest)?;
            match rest.get(i) {
                Some(b'"') => return Some((at + i, escapes)),
                Some(b'\\') => {
                    escapes = true;
                    at += i + 2;
                }
                _ => return None,
            }
        }
    }

    /// Reads a quoted string literal `"..."` with Zinc escapes.
    pub fn read_str_literal(&mut self) -> Result<String> {
        self.read_str_cow().map(Cow::into_owned)
    }

    /// Reads a quoted string literal, borrowing it from the input when it has no escapes.
    pub fn read_str_cow(&mut self) -> Result<Cow<'a, str>> {
        self.expect(b'"')?;
        let bytes = self.bytes();
        let mut out: Option<String> = None;
        let mut run = self.pos();
        loop {
            let rest = bytes.get(self.pos()..).unwrap_or_default();
            let Some(i) = memchr::memchr3(b'"', b'\\', b'\n', rest) else {
                self.set_pos(bytes.len());
                return Err(self.expected("'\"'"));
            };
            self.set_pos(self.pos() + i);
            match self.peek() {
                Some(b'"') => {
                    let tail = self.slice(run, self.pos());
                    self.bump();
                    return Ok(match out {
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                        None => Cow::Borrowed(tail),
                    });
                }
                Some(b'\\') => {
                    let s = out.get_or_insert_with(String::new);
                    s.push_str(self.slice(run, self.pos()));
                    let esc_start = self.pos();
                    self.bump();
                    let c = match self.bump() {
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'$') => '$',
                        Some(b'\'') => '\'',
                        Some(b'u') => self.read_u_escape(esc_start)?,
                        _ => {
                            let bad = self.slice(esc_start, self.pos().min(esc_start + 2));
                            return Err(self.error_at(esc_start, format!("invalid escape '{bad}'")));
                        }
                    };
                    if let Some(s) = out.as_mut() {
                        s.push(c);
                    }
                    run = self.pos();
                }
                _ => return Err(self.expected("'\"'")),
            }
        }
    }

    /// Reads the 4 hex digits after `\u` (and a low surrogate escape after a high one).
    fn read_u_escape(&mut self, esc_start: usize) -> Result<char> {
        let hi = self.read_hex4(esc_start)?;
        let code = if (0xd800..0xdc00).contains(&hi) && self.starts_with("\\u") {
            let save = self.pos();
            self.set_pos(save + 2);
            let lo = self.read_hex4(esc_start)?;
            if (0xdc00..0xe000).contains(&lo) {
                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
            } else {
                self.set_pos(save);
                hi
            }
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.error_at(esc_start, "invalid unicode escape"))
    }

    fn read_hex4(&mut self, esc_start: usize) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self.peek().and_then(|b| char::from(b).to_digit(16));
            match d {
                Some(d) => {
                    v = v * 16 + d;
                    self.bump();
                }
                None => return Err(self.error_at(esc_start, "invalid unicode escape")),
            }
        }
        Ok(v)
    }

    /// Reads a back-quoted URI. `` \` `` and `\\` are unescaped, `\uXXXX` decoded, and the
    /// backslash of an escaped reserved character (`: / ? # [ ] @ & = ;`) is kept.
    pub fn read_uri_literal(&mut self) -> Result<String> {
        self.expect(b'`')?;
        let bytes = self.bytes();
        let mut out = String::new();
        let mut run = self.pos();
        loop {
            let rest = bytes.get(self.pos()..).unwrap_or_default();
            let Some(i) = memchr::memchr3(b'`', b'\\', b'\n', rest) else {
                self.set_pos(bytes.len());
                return Err(self.expected("'`'"));
            };
            self.set_pos(self.pos() + i);
            out.push_str(self.slice(run, self.pos()));
            match self.peek() {
                Some(b'`') => {
                    self.bump();
                    return Ok(out);
                }
                Some(b'\\') => {
                    let esc_start = self.pos();
                    self.bump();
                    match self.bump() {
                        Some(b'`') => out.push('`'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'u') => out.push(self.read_u_escape(esc_start)?),
                        Some(c) if is_kept_uri_escape(c) => {
                            out.push('\\');
                            out.push(char::from(c));
                        }
                        _ => {
                            let bad = self.slice(esc_start, self.pos().min(esc_start + 2));
                            return Err(self.error_at(esc_start, format!("invalid escape '{bad}'")));
                        }
                    }
                    run = self.pos();
                }
                _ => return Err(self.expected("'`'")),
            }
        }
    }

    /// Reads a ref `@id` with an optional display name `@id "dis"`.
    pub fn read_ref(&mut self) -> Result<Ref> {
        if !self.eat(b'@') {
            return Err(self.expected("'@'"));
        }
        let start = self.pos();
        if self.skip_class(chars::REF) == 0 {
            return Err(self.expected("ref id"));
        }
        let id = self.slice(start, self.pos());
        if self.peek() == Some(b' ') && self.peek_at(1) == Some(b'"') {
            self.bump();
            let body = self.pos() + 1;
            if let Some((end, false)) = self.str_end(body) {
                // No escapes: the display name is the text between the quotes.
                let dis = self.slice(body, end);
                self.set_pos(end + 1);
                return Ok(self.interner().intern_ref(id, Some(dis)));
            }
            let dis = self.read_str_cow()?;
            return Ok(self.interner().intern_ref(id, Some(&dis)));
        }
        Ok(self.interner().intern_ref(id, None))
    }
}

/// The timezone implied by an offset written without a timezone name: `UTC` for zero, and
/// `GMT+h`/`GMT-h` (sign inverted, as in the IANA `Etc` zones) for whole hours.
fn default_tz(offset: UtcOffset) -> Option<String> {
    let secs = offset.whole_seconds();
    if secs == 0 {
        return Some("UTC".to_owned());
    }
    if secs % 3600 != 0 {
        return None;
    }
    let h = -secs / 3600;
    Some(if h > 0 {
        format!("GMT+{h}")
    } else {
        format!("GMT{h}")
    })
}

/// Builds an [`OffsetDateTime`] at the given local date and time and offset (for tests and
/// callers holding parts).
pub fn offset_datetime(date: Date, time: Time, offset: UtcOffset) -> OffsetDateTime {
    PrimitiveDateTime::new(date, time).assume_offset(offset)
}

/// A byte of an unquoted (Zinc 2.0) `Bin` mime type: an RFC 2045 token byte, or the `/`, `;`,
/// `=` and space that join type, subtype and parameters.
fn is_bare_mime_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_|~/;= ".contains(&b)
}
