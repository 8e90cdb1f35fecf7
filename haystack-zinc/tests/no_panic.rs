//! Feeds 100,000 random and mutated inputs to each reader: every one must return, never panic.

use haystack_zinc::{GridReader, Limits};

const CASES: usize = 100_000;

const SEEDS: &[&str] = &[
    "ver:\"3.0\" database:\"test\" dis:\"Site Energy Summary\"\nsiteName dis:\"Sites\", val dis:\"Value\" unit:\"kW\"\n\"Site 1\", 356.214kW\n\"Site 2\", 463.028kW\n",
    "ver:\"3.0\"\ntype,val\n\"list\",[1,2,3]\n\"dict\",{dis:\"Dict!\" foo}\n\"grid\",<<\n  ver:\"2.0\"\n  a,b\n  1,2\n  >>\n",
    "ver:\"3.0\"\nv,w\n@a-b \"A B\",^hot-water\n2010-11-28T07:23:02.773-08:00 Los_Angeles,C(37.55,-77.45)\nColor(\"red\"),`http://x/\\#a`\nINF,-INF\nNaN,10_000.5e-3°F\n08:12:05.123,2021-01-01\n",
    "ver:\"2.0\"\na\nN\nM\nNA\nR\nT\nF\n\"\\u00e9\\n\\$\"\n",
];

const TRIO_SEEDS: &[&str] = &[
    "dis: \"Site 1\"\nsite\narea: 3702ft²\ngeoCoord: C(37.5458,-77.4491)\nstrTag: OK if unquoted\nsummary:\n  This is a string\n  on two lines\n---\nname: \"Site 2\"\n",
    "// comment\ntype:grid\nval:Zinc:\n  ver:\"3.0\"\n  b,a\n  20,10\n---\nchildren: [\n  {fan, motor, equip},\n  // skipped\n  {damper},\n  ]\nnested:Trio:\n  a: 1\n  ---\n  b\n",
];

const TOKENS: &[&str] = &[
    "\n",
    "\r\n",
    ",",
    " ",
    "\"",
    "`",
    "\\",
    "\\u",
    "[",
    "]",
    "{",
    "}",
    "<<",
    ">>",
    ":",
    "@",
    "^",
    "-",
    "_",
    ".",
    "e",
    "E+",
    "ver:",
    "ver:\"3.0\"\n",
    "N",
    "M",
    "NA",
    "INF",
    "NaN",
    "C(",
    ")",
    "T",
    "2021-",
    "T10:",
    "Z",
    "é",
    "\u{feff}",
    "---\n",
    "  ",
    "Zinc:\n",
    "Trio:\n",
    "//",
];

/// A small xorshift generator: deterministic, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seeds: &[&str]) -> Vec<u8> {
    let mut v: Vec<u8> = if rng.below(10) == 0 {
        (0..rng.below(200)).map(|_| rng.next() as u8).collect()
    } else {
        seeds[rng.below(seeds.len())].as_bytes().to_vec()
    };
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 => {
                if at < v.len() {
                    v[at] = rng.next() as u8;
                }
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                v.splice(at..at, t.iter().copied());
            }
            2 => {
                let end = (at + rng.below(8)).min(v.len());
                v.drain(at..end);
            }
            3 => {
                let end = (at + rng.below(16)).min(v.len());
                let piece: Vec<u8> = v[at..end].to_vec();
                v.splice(at..at, piece);
            }
            4 => v.truncate(at),
            _ => {
                let b = [b'[', b'{', b'<', b'"'][rng.below(4)];
                v.splice(at..at, std::iter::repeat_n(b, rng.below(300)));
            }
        }
    }
    v
}

#[test]
fn zinc_readers_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let small = Limits {
        max_line_bytes: 4096,
        ..Limits::default()
    };
    let mut ok = 0;
    for _ in 0..CASES {
        let input = mutate(&mut rng, SEEDS);
        let whole = haystack_zinc::from_slice(&input);
        if whole.is_ok() {
            ok += 1;
        }
        let streamed =
            GridReader::with_limits(&input[..], small.clone()).and_then(|r| r.into_grid());
        if let (Ok(a), Ok(b)) = (&whole, &streamed) {
            assert_eq!(a, b, "{:?}", String::from_utf8_lossy(&input));
        }
        if let Ok(text) = std::str::from_utf8(&input) {
            let _ = haystack_zinc::value_from_str(text);
            let _ = haystack_core::zinc::read_scalar(text);
        }
    }
    // The mutations are mild enough that some inputs stay valid.
    assert!(ok > 100, "only {ok} valid inputs");
}

#[test]
fn trio_reader_never_panics() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut ok = 0;
    for _ in 0..CASES {
        let input = mutate(&mut rng, TRIO_SEEDS);
        if std::str::from_utf8(&input).is_ok_and(|text| haystack_zinc::trio::from_str(text).is_ok())
        {
            ok += 1;
        }
    }
    assert!(ok > 100, "only {ok} valid inputs");
}
