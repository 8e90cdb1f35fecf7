//! Every grid and value the Zinc reader accepts is written back to Zinc that reads back equal,
//! and writing is stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(grid) = haystack_zinc::from_str(text) {
        let written = haystack_zinc::to_string(&grid);
        let again = haystack_zinc::from_str(&written).expect("written Zinc reads back");
        assert_eq!(again, grid);
        assert_eq!(haystack_zinc::to_string(&again), written);
    }
    if let Ok(value) = haystack_zinc::value_from_str(text) {
        let written = haystack_zinc::value_to_string(&value);
        let again = haystack_zinc::value_from_str(&written).expect("written value reads back");
        assert_eq!(again, value);
    }
});
