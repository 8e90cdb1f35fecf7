//! API spec and credential storage over DynamoDB, table-compatible with the OpenAlchemy package
//! database.
//!
//! ```
//! assert_eq!(package_database::canonicalize_name("My_Spec.Name"), "my-spec-name");
//! ```

/// The spec id of a spec name: every run of `-`, `_` or `.` becomes one `-`, then lowercase.
pub fn canonicalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            in_run = false;
            out.push(c);
        }
    }
    out.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names() {
        assert_eq!(canonicalize_name("My_Spec.Name"), "my-spec-name");
        assert_eq!(canonicalize_name("NAME 1"), "name 1");
        assert_eq!(canonicalize_name("a-_.b"), "a-b");
    }
}
