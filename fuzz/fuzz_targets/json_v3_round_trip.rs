//! Every value the Haystack JSON v3 reader accepts is written back to v3 JSON that reads back
//! equal, and writing what was read back is stable.
#![no_main]

use haystack_core::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = json::from_slice(data, json::Version::V3) else {
        return;
    };
    let written = json::to_string_v3(&value);
    let again = match json::from_str_v3(&written) {
        Ok(v) => v,
        Err(e) => panic!("written v3 JSON does not read back: {e}\n{written}"),
    };
    assert_eq!(
        again, value,
        "value changed in a round trip through\n{written}"
    );
    assert_eq!(json::to_string_v3(&again), written);
});
