//! Any request given to the Haystack server's request decoding (query string, Content-Type and
//! POST body, as its handler reads them) returns, never panics, within the server's documented
//! request bounds (rows, columns, depth, filter path length); what it accepts respects them.
//!
//! Input: the query string on the first line, the Content-Type on the second (empty: none), the
//! body after it.
#![no_main]

use examples::haystack::request::{MAX_FILTER_PATH, MAX_REQUEST_COLS, MAX_REQUEST_ROWS};
use haystack_core::filter::{Filter, Node};
use libfuzzer_sys::fuzz_target;

fn longest_path(filter: &Filter) -> usize {
    let mut stack = vec![filter.node()];
    let mut longest = 0;
    while let Some(node) = stack.pop() {
        match node {
            Node::Has(p) | Node::Missing(p) | Node::Cmp(p, _, _) => {
                longest = longest.max(p.names().len());
            }
            Node::And(parts) | Node::Or(parts) => stack.extend(parts.iter()),
            // A spec term (`ph::Ahu`) has no path.
            Node::Spec(_) => {}
        }
    }
    longest
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let Some(query) = parts.next().and_then(|q| std::str::from_utf8(q).ok()) else {
        return;
    };
    let Some(content_type) = parts.next().map(|c| std::str::from_utf8(c).ok()) else {
        return;
    };
    let content_type = content_type.filter(|c| !c.is_empty());
    let body = parts.next().unwrap_or_default();
    let Ok(Some(rows)) = examples::fuzzing::haystack_request(query, content_type, body) else {
        return;
    };
    assert!(
        rows.len() <= MAX_REQUEST_ROWS.max(1),
        "{} rows accepted",
        rows.len()
    );
    for row in &rows {
        assert!(
            row.len() <= MAX_REQUEST_COLS,
            "a row of {} tags accepted",
            row.len()
        );
    }
    if let Some(text) = rows
        .first()
        .and_then(|r| r.get("filter"))
        .and_then(|v| v.as_str())
    {
        if let Ok(filter) = Filter::parse(text) {
            assert!(longest_path(&filter) <= MAX_FILTER_PATH);
        }
    }
});
