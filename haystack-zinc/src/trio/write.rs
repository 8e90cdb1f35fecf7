//! The Trio writer.

use std::io::Write;

use haystack_core::zinc::{write_grid, write_value};
use haystack_core::{Dict, Value};

use crate::Result;

/// The Trio text of records, separated by `---`.
pub fn to_string(records: &[Dict]) -> String {
    let mut out = String::new();
    for (i, d) in records.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        write_record(&mut out, d);
    }
    out
}

/// Writes the Trio text of records to `w`.
pub fn to_writer<W: Write>(mut w: W, records: &[Dict]) -> Result<()> {
    let mut out = String::new();
    for (i, d) in records.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        write_record(&mut out, d);
        if out.len() > 64 * 1024 {
            w.write_all(out.as_bytes())?;
            out.clear();
        }
    }
    w.write_all(out.as_bytes())?;
    w.flush()?;
    Ok(())
}

/// Whether a string can be written without quotes and read back the same.
fn is_safe_unquoted(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(b'a'..=b'z'))
        && b.all(|c| c.is_ascii_alphabetic() || c == b'_')
        && s != "true"
        && s != "false"
}

/// Whether a string can be written as an indented multi-line block and read back the same.
fn is_multiline_safe(s: &str) -> bool {
    s.contains('\n')
        && !s.ends_with('\n')
        && s.split('\n')
            .all(|l| !l.starts_with([' ', '\t']) && !l.chars().any(|c| c.is_control() && c != '\t'))
}

fn indent_block(out: &mut String, text: &str) {
    for l in text.split('\n') {
        if !l.is_empty() {
            out.push_str("  ");
            out.push_str(l);
        }
        out.push('\n');
    }
}

fn write_record(out: &mut String, d: &Dict) {
    for (k, v) in d.iter() {
        out.push_str(k);
        match v {
            Value::Marker => {}
            Value::Str(s) if is_safe_unquoted(s) => {
                out.push_str(": ");
                out.push_str(s);
            }
            Value::Str(s) if is_multiline_safe(s) => {
                out.push_str(":\n");
                indent_block(out, s);
                continue;
            }
            Value::Grid(g) => {
                out.push_str(":Zinc:\n");
                let mut z = String::new();
                write_grid(&mut z, g);
                indent_block(out, z.trim_end_matches('\n'));
                continue;
            }
            other => {
                let mut z = String::new();
                write_value(&mut z, other);
                if z.contains('\n') {
                    out.push_str(":Zinc:\n");
                    indent_block(out, &z);
                    continue;
                }
                out.push_str(": ");
                out.push_str(&z);
            }
        }
        out.push('\n');
    }
}
