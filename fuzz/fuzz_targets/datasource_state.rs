//! Any bytes given to the datasource-sdk checkpoint decoder (what `FileStateStore::load` reads
//! from disk) return, never panic, with serde_json's nesting limit of 128; a checkpoint that
//! decodes is written back (as `FileStateStore::save` writes it) to JSON that decodes equal, and
//! writing is stable.
#![no_main]

use datasource_sdk::Checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(checkpoint) = Checkpoint::from_json(data) else {
        return;
    };
    let written = match checkpoint.to_json() {
        Ok(w) => w,
        Err(e) => panic!("a decoded checkpoint does not encode: {e}"),
    };
    let again = match Checkpoint::from_json(&written) {
        Ok(c) => c,
        Err(e) => panic!(
            "a written checkpoint does not decode: {e}\n{}",
            String::from_utf8_lossy(&written)
        ),
    };
    assert_eq!(again, checkpoint, "checkpoint changed in a round trip");
    assert_eq!(again.to_json().ok(), Some(written));
});
