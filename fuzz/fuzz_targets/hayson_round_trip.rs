//! Every value the Hayson (JSON v4) reader accepts is written back to Hayson that reads back
//! equal, and writing what was read back is stable.
#![no_main]

use haystack_core::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = json::from_slice(data, json::Version::V4) else {
        return;
    };
    let written = json::to_string(&value);
    let again = match json::from_str(&written) {
        Ok(v) => v,
        Err(e) => panic!("written Hayson does not read back: {e}\n{written}"),
    };
    assert_eq!(
        again, value,
        "value changed in a round trip through\n{written}"
    );
    assert_eq!(json::to_string(&again), written);
});
