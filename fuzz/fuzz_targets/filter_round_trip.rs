//! Every filter the parser accepts displays as text that parses back to an equal filter, and
//! displaying is stable.
#![no_main]

use haystack_core::filter::Filter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(filter) = Filter::parse(text) else {
        return;
    };
    let shown = filter.to_string();
    let again = match Filter::parse(&shown) {
        Ok(f) => f,
        Err(e) => panic!("displayed filter {shown:?} does not parse: {e}"),
    };
    assert_eq!(
        again, filter,
        "filter changed in a round trip through {shown:?}"
    );
    assert_eq!(again.to_string(), shown);
});
