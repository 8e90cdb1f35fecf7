//! The Haystack unit database: quantities, names, symbols, scale and offset, and conversion
//! between units of one quantity.
