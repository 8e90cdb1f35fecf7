//! Haystack filters: parser, display, compiled evaluation on dicts and grids, `->` paths.
