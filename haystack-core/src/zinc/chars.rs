//! Byte classes of the Zinc scanner, looked up in one 256-entry table instead of chains of
//! range comparisons.

/// A byte of a ref id or symbol name: `a-z A-Z 0-9 _ : - . ~`.
pub(crate) const REF: u8 = 1;
/// A byte that continues a tag name, keyword or XStr type name: `a-z A-Z 0-9 _`.
pub(crate) const WORD: u8 = 2;
/// A byte of a unit: ASCII letters, `% _ / $`, or any byte of a non-ASCII char.
pub(crate) const UNIT: u8 = 4;
/// An ASCII digit.
pub(crate) const DIGIT: u8 = 8;
/// A byte of a timezone name: `a-z A-Z 0-9 _ - + /`.
pub(crate) const TZ: u8 = 16;

/// The classes of every byte.
static CLASSES: [u8; 256] = build();

const fn build() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let alpha = b.is_ascii_alphabetic();
        let digit = b.is_ascii_digit();
        let mut c = 0;
        if alpha || digit || matches!(b, b'_' | b':' | b'-' | b'.' | b'~') {
            c |= REF;
        }
        if alpha || digit || b == b'_' {
            c |= WORD;
        }
        if alpha || matches!(b, b'%' | b'_' | b'/' | b'$') || b >= 0x80 {
            c |= UNIT;
        }
        if digit {
            c |= DIGIT;
        }
        if alpha || digit || matches!(b, b'_' | b'-' | b'+' | b'/') {
            c |= TZ;
        }
        t[i] = c;
        i += 1;
    }
    t
}

/// Whether `b` is in class `class` (one of the constants of this module, or several or-ed: any).
#[inline(always)]
pub(crate) fn is(b: u8, class: u8) -> bool {
    CLASSES[b as usize] & class != 0
}

/// The length of the run of bytes of class `class` at the start of `bytes`.
#[inline(always)]
pub(crate) fn run(bytes: &[u8], class: u8) -> usize {
    bytes
        .iter()
        .position(|&b| !is(b, class))
        .unwrap_or(bytes.len())
}

/// Where the first `"`, `\` or newline of `bytes` is, looked for 8 bytes at a time in a
/// word (cheaper than `memchr`'s set-up for the short runs between a string's escapes).
#[inline]
pub(crate) fn find_str_stop(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
    const SLASHES: u64 = u64::from_le_bytes([b'\\'; 8]);
    const NEWLINES: u64 = u64::from_le_bytes([b'\n'; 8]);
    // The high bit of each zero byte of `x` (and maybe of bytes above the first zero byte,
    // which the lowest set bit ignores).
    let zeros = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let hits = |w: u64| zeros(w ^ QUOTES) | zeros(w ^ SLASHES) | zeros(w ^ NEWLINES);
    let mut at = 0;
    while let Some(Ok(w)) = bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
        let h = hits(u64::from_le_bytes(w));
        if h != 0 {
            return Some(at + (h.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    // The last bytes, padded with zero bytes (which match none of the three).
    let mut w = [0u8; 8];
    for (d, s) in w.iter_mut().zip(bytes.get(at..).unwrap_or_default()) {
        *d = *s;
    }
    let h = hits(u64::from_le_bytes(w));
    if h != 0 {
        return Some(at + (h.trailing_zeros() / 8) as usize);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_definitions() {
        for b in 0..=255u8 {
            let ref_char = b.is_ascii_alphanumeric() || b"_:-.~".contains(&b);
            assert_eq!(is(b, REF), ref_char, "REF {b}");
            assert_eq!(
                is(b, WORD),
                b.is_ascii_alphanumeric() || b == b'_',
                "WORD {b}"
            );
            let unit = b.is_ascii_alphabetic() || b"%_/$".contains(&b) || b >= 0x80;
            assert_eq!(is(b, UNIT), unit, "UNIT {b}");
            assert_eq!(is(b, DIGIT), b.is_ascii_digit(), "DIGIT {b}");
            let tz = b.is_ascii_alphanumeric() || b"_-+/".contains(&b);
            assert_eq!(is(b, TZ), tz, "TZ {b}");
        }
        assert_eq!(run(b"abc-1 x", REF), 5);
        assert_eq!(run(b"", REF), 0);
        assert_eq!(run(b"kW", UNIT), 2);
    }

    #[test]
    fn str_stops_are_found_at_every_offset() {
        for len in 0..40 {
            for stop in [b'"', b'\\', b'\n'] {
                for at in 0..len {
                    let mut b = vec![b'a'; len];
                    // Bytes just above and below the stops must not match.
                    for (i, x) in b.iter_mut().enumerate() {
                        *x = [b'!', b'#', b'[', b']', 0x0b, 0x09, 0xff, 0x80][i % 8];
                    }
                    b[at] = stop;
                    if at + 1 < len {
                        b[at + 1] = b'"';
                    }
                    assert_eq!(find_str_stop(&b), Some(at), "{len} {stop} {at}");
                }
                assert_eq!(find_str_stop(&vec![b'x'; len]), None);
            }
        }
    }
}
