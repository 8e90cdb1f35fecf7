//! Every set of records the Trio reader accepts (under the documented default limits) is
//! written back to Trio that reads back equal, and writing what was read back is stable.
#![no_main]

use haystack_zinc::{Limits, trio};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    if let Ok(records) = trio::from_str_with(text, &limits) {
        let written = trio::to_string(&records);
        let again = match trio::from_str_with(&written, &limits) {
            Ok(r) => r,
            Err(e) => panic!("written Trio does not read back: {e}\n{written}"),
        };
        assert_eq!(
            again, records,
            "records changed in a round trip through\n{written}"
        );
        assert_eq!(trio::to_string(&again), written);
    }
});
