//! Any bytes given to the streaming Hayson grid reader (`json::GridReader`), in reads of any
//! size, return, never panic; a grid it reads is the one the whole-document reader reads, row
//! for row, whatever the read size (rows are decoded straight from the reader's buffer and read
//! again when a read cuts them off).
#![no_main]

use haystack_core::Value;
use haystack_core::json::{self, GridReader, Version};
use libfuzzer_sys::fuzz_target;

/// Hands out the input in reads of at most `chunk` bytes.
struct Chunked<'a> {
    bytes: &'a [u8],
    chunk: usize,
}

impl std::io::Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.bytes.len());
        let (head, rest) = self.bytes.split_at(n);
        buf[..n].copy_from_slice(head);
        self.bytes = rest;
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    // The read size comes from the input's length (the whole input stays the document, so
    // seeds stay valid Hayson), and is compared with reading everything at once.
    let doc = data;
    let chunk = 1 + data.len() % 61;
    let streamed = GridReader::new(Chunked { bytes: doc, chunk }).and_then(|r| r.into_grid());
    let at_once = GridReader::new(doc).and_then(|r| r.into_grid());
    assert_eq!(
        streamed.as_ref().ok(),
        at_once.as_ref().ok(),
        "the read size changed what was read"
    );
    assert_eq!(streamed.is_ok(), at_once.is_ok());
    if let Ok(grid) = streamed {
        let whole = json::from_slice(doc, Version::V4)
            .expect("the whole-document reader accepts what the stream reads");
        assert_eq!(whole, Value::Grid(Box::new(grid)), "stream and whole document differ");
    }
});
