//! The Auth chapter's header syntax: `scheme [param=value, ...]` where every value is a token
//! (no quoted strings, no token68), in `Authorization`, `WWW-Authenticate` and
//! `Authentication-Info`.

use std::fmt;

use super::AuthError;

/// Most parameters one auth header may carry (the chapter's schemes use at most three).
pub const MAX_PARAMS: usize = 16;

/// A parsed auth header: its scheme (absent in `Authentication-Info`) and parameters in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthHeader {
    /// The scheme (`HELLO`, `SCRAM`, `BEARER`), as sent; empty for `Authentication-Info`.
    pub scheme: String,
    /// The parameters, names as sent.
    pub params: Vec<(String, String)>,
}

impl AuthHeader {
    /// A header of `scheme` with `params`.
    pub fn new<'a>(scheme: &str, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            scheme: scheme.to_owned(),
            params: params
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// Parses `scheme param=value, param=value`. Names compare without case; values are kept
    /// as sent (a value may end in `=` padding).
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let text = text.trim();
        let (scheme, rest) = match text.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((s, r)) if !s.contains('=') => (s, r),
            None if !text.contains('=') => (text, ""),
            _ => ("", text),
        };
        if !scheme.chars().all(is_tchar) {
            return Err(AuthError::malformed(
                "auth header",
                format!("bad scheme {scheme:?}"),
            ));
        }
        let mut params = Vec::new();
        for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if params.len() >= MAX_PARAMS {
                return Err(AuthError::malformed(
                    "auth header",
                    format!("more than {MAX_PARAMS} parameters"),
                ));
            }
            let Some((name, value)) = part.split_once('=') else {
                return Err(AuthError::malformed(
                    "auth header",
                    format!("parameter {part:?} has no `=`"),
                ));
            };
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() || !name.chars().all(is_tchar) {
                return Err(AuthError::malformed(
                    "auth header",
                    format!("bad parameter name {name:?}"),
                ));
            }
            if value.starts_with('"') {
                return Err(AuthError::malformed(
                    "auth header",
                    format!(
                        "parameter {name} is a quoted string (the Auth chapter allows tokens only)"
                    ),
                ));
            }
            params.push((name.to_owned(), value.to_owned()));
        }
        Ok(Self {
            scheme: scheme.to_owned(),
            params,
        })
    }

    /// Whether the scheme is `scheme` (any case).
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The value of the parameter `name` (any case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or a [`AuthError::Malformed`] naming the missing parameter.
    pub fn require(&self, name: &str) -> Result<&str, AuthError> {
        self.param(name)
            .ok_or_else(|| AuthError::malformed("auth header", format!("no `{name}` parameter")))
    }
}

impl fmt::Display for AuthHeader {
    /// `SCRAM handshakeToken=..., hash=SHA-256`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        for (i, (k, v)) in self.params.iter().enumerate() {
            let sep = match (i, self.scheme.is_empty()) {
                (0, true) => "",
                (0, false) => " ",
                _ => ", ",
            };
            write!(f, "{sep}{k}={v}")?;
        }
        Ok(())
    }
}

/// RFC 7230 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_chapters_headers() {
        let h = AuthHeader::parse("HELLO username=dXNlcg").unwrap();
        assert!(h.is("hello"));
        assert_eq!(h.param("USERNAME"), Some("dXNlcg"));
        let h = AuthHeader::parse("SCRAM handshakeToken=aabbcc,\n   data=biws==").unwrap();
        assert_eq!(h.param("handshaketoken"), Some("aabbcc"));
        assert_eq!(h.param("data"), Some("biws=="));
        let h = AuthHeader::parse("authToken=xxyyzz, hash=SHA-256").unwrap();
        assert_eq!(h.scheme, "");
        assert_eq!(h.param("authToken"), Some("xxyyzz"));
        assert_eq!(h.to_string(), "authToken=xxyyzz, hash=SHA-256");
        let h = AuthHeader::parse("BEARER authToken=abc").unwrap();
        assert_eq!(h.to_string(), "BEARER authToken=abc");
        assert!(AuthHeader::parse("SCRAM").unwrap().params.is_empty());
    }

    #[test]
    fn refuses_what_the_chapter_forbids() {
        for bad in [
            "SCRAM data=\"quoted\"",
            "SCRAM data",
            "SC(RAM data=x",
            "SCRAM =x",
        ] {
            assert!(
                matches!(AuthHeader::parse(bad), Err(AuthError::Malformed { .. })),
                "{bad}"
            );
        }
        let many = format!("SCRAM {}", vec!["a=b"; MAX_PARAMS + 1].join(","));
        assert!(AuthHeader::parse(&many).is_err());
        assert!(
            AuthHeader::parse("SCRAM a=b")
                .unwrap()
                .require("data")
                .is_err()
        );
    }
}
