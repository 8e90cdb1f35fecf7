//! Any `Range` (and `If-Range`) header given to the cart server's range logic, for a resource of
//! a known length, returns, never panics; a part it serves lies inside the resource; and for a
//! single range in the plain grammar (`bytes=A-B`, `bytes=A-`, `bytes=-N`) the answer is the
//! one RFC 9110 section 14 gives.
//!
//! Input: the length in decimal on the first line, the `Range` value on the second, and an
//! optional `If-Range` value on the third (the resource's entity tag is `"etag-1"`).
#![no_main]

use libfuzzer_sys::fuzz_target;

const ETAG: &str = "\"etag-1\"";

/// What RFC 9110 answers for one range spec in the plain grammar, or `None` when `spec` is not
/// in it. `Some(None)`: ignore the header (an invalid range); `Some(Some(Err(())))`: 416.
type Answer = Option<Result<(u64, u64), ()>>;

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn expected(spec: &str, len: u64) -> Option<Answer> {
    let spec = spec.strip_prefix("bytes=")?;
    let (first, last) = spec.split_once('-')?;
    match (first, last) {
        ("", n) => {
            let n = digits(n)?;
            if n == 0 {
                return Some(Some(Err(())));
            }
            if len == 0 {
                // Satisfiable by the RFC, but there is no byte to send: the whole (empty)
                // resource is the answer.
                return Some(None);
            }
            Some(Some(Ok((len - n.min(len), len - 1))))
        }
        (a, "") => {
            let a = digits(a)?;
            Some(Some(if a < len { Ok((a, len - 1)) } else { Err(()) }))
        }
        (a, b) => {
            let (a, b) = (digits(a)?, digits(b)?);
            if a > b {
                return Some(None);
            }
            Some(Some(if a < len {
                Ok((a, b.min(len - 1)))
            } else {
                Err(())
            }))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let Some(len) = lines
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .and_then(|l| l.trim().parse::<u64>().ok())
    else {
        return;
    };
    let range = lines.next().unwrap_or_default();
    let raw_if_range = lines.next();
    let answer = examples::fuzzing::cart_range(range, raw_if_range, ETAG, len);
    if let Some(Ok((first, last))) = answer {
        assert!(
            first <= last && last < len,
            "part {first}-{last} of a {len}-byte resource"
        );
    }
    // A value with bytes a header cannot carry never reaches the server (the HTTP layer rejects
    // the request), so only valid header values count as an `If-Range`.
    let if_range =
        raw_if_range.filter(|v| v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)));
    if if_range.is_some_and(|v| v != ETAG.as_bytes()) {
        assert_eq!(
            answer, None,
            "a mismatched If-Range must get the whole resource"
        );
        return;
    }
    if let Some(want) = std::str::from_utf8(range)
        .ok()
        .and_then(|r| expected(r, len))
    {
        assert_eq!(
            answer,
            want,
            "Range {:?} on {len} bytes",
            String::from_utf8_lossy(range)
        );
    }
});
