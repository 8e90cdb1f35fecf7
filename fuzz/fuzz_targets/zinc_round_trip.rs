//! Every grid and value the Zinc reader accepts (under the documented default limits) is
//! written back to Zinc that reads back equal, and writing what was read back is stable.
#![no_main]

use haystack_zinc::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    if let Ok(grid) = haystack_zinc::from_str_with(text, &limits) {
        let written = haystack_zinc::to_string(&grid);
        let again = match haystack_zinc::from_str_with(&written, &limits) {
            Ok(g) => g,
            Err(e) => panic!("written Zinc does not read back: {e}\n{written}"),
        };
        assert_eq!(
            again, grid,
            "grid changed in a round trip through\n{written}"
        );
        assert_eq!(haystack_zinc::to_string(&again), written);
    }
    if let Ok(value) = haystack_zinc::value_from_str_with(text, &limits) {
        let written = haystack_zinc::value_to_string(&value);
        let again = match haystack_zinc::value_from_str_with(&written, &limits) {
            Ok(v) => v,
            Err(e) => panic!("written value does not read back: {e}\n{written}"),
        };
        assert_eq!(
            again, value,
            "value changed in a round trip through {written}"
        );
    }
});
