//! [`DateTime`]: a timestamp with its UTC offset and Haystack timezone name.

use std::fmt;
use std::sync::Arc;

use time::{OffsetDateTime, UtcOffset};

use crate::{Error, Result};

/// A Haystack DateTime: an instant, the UTC offset it was observed at, and a Haystack timezone
/// name such as `New_York` or `UTC` (see [`crate::timezone`] for the mapping to IANA zones).
///
/// Two datetimes are equal when instant, offset and timezone name are all equal; they order by
/// instant first.
///
/// ```
/// use haystack_core::DateTime;
/// use time::macros::datetime;
/// let dt = DateTime::new(datetime!(2010-11-28 07:23:02.773 -08:00), "Los_Angeles").unwrap();
/// assert_eq!(dt.tz(), "Los_Angeles");
/// assert_eq!(dt.to_string(), "2010-11-28T07:23:02.773-08:00 Los_Angeles");
/// assert_eq!(DateTime::utc(datetime!(2010-01-08 05:00 UTC)).to_string(), "2010-01-08T05:00:00Z UTC");
/// ```
#[derive(Debug, Clone)]
pub struct DateTime {
    dt: OffsetDateTime,
    tz: Arc<str>,
}

/// Whether `name` can be a Haystack timezone name: starts with `A-Z`, then ASCII letters,
/// digits, `_`, `-`, `+` or `/`.
pub fn is_tz_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(b'A'..=b'Z'))
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'+' | b'/'))
}

impl DateTime {
    /// A datetime in the named timezone; errors if the name is not a well-formed timezone name
    /// (whether the zone exists is [`crate::timezone`]'s business).
    pub fn new(dt: OffsetDateTime, tz: impl Into<Arc<str>>) -> Result<Self> {
        let tz = tz.into();
        if !is_tz_name(&tz) {
            return Err(Error::InvalidValue {
                kind: "DateTime",
                message: format!("invalid timezone name {tz:?}"),
            });
        }
        Ok(DateTime { dt, tz })
    }

    /// A datetime from parts already checked (for readers holding interned names).
    pub fn from_parts(dt: OffsetDateTime, tz: Arc<str>) -> Self {
        DateTime { dt, tz }
    }

    /// The same instant in UTC, timezone `UTC`.
    pub fn utc(dt: OffsetDateTime) -> Self {
        DateTime {
            dt: dt.to_offset(UtcOffset::UTC),
            tz: Arc::from("UTC"),
        }
    }

    /// The timestamp with its offset.
    pub fn offset_date_time(&self) -> OffsetDateTime {
        self.dt
    }

    /// The Haystack timezone name.
    pub fn tz(&self) -> &str {
        &self.tz
    }

    /// The Haystack timezone name, shared.
    pub fn shared_tz(&self) -> &Arc<str> {
        &self.tz
    }

    /// The UTC offset.
    pub fn offset(&self) -> UtcOffset {
        self.dt.offset()
    }

    /// The local date.
    pub fn date(&self) -> time::Date {
        self.dt.date()
    }

    /// The local time of day.
    pub fn time(&self) -> time::Time {
        self.dt.time()
    }

    /// Nanoseconds since 1970-01-01T00:00:00Z.
    pub fn unix_nanos(&self) -> i128 {
        self.dt.unix_timestamp_nanos()
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub fn unix_millis(&self) -> i64 {
        // Every representable OffsetDateTime fits in i64 milliseconds (years -9999..9999).
        (self.dt.unix_timestamp_nanos() / 1_000_000) as i64
    }
}

impl PartialEq for DateTime {
    fn eq(&self, other: &Self) -> bool {
        self.dt == other.dt && self.dt.offset() == other.dt.offset() && self.tz == other.tz
    }
}

impl Eq for DateTime {}

impl PartialOrd for DateTime {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DateTime {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.dt
            .cmp(&other.dt)
            .then_with(|| self.dt.offset().cmp(&other.dt.offset()))
            .then_with(|| self.tz.cmp(&other.tz))
    }
}

impl std::hash::Hash for DateTime {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.dt.unix_timestamp_nanos().hash(state);
        self.dt.offset().whole_seconds().hash(state);
        self.tz.hash(state);
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        crate::zinc::write_value(&mut s, &crate::Value::DateTime(self.clone()));
        f.write_str(&s)
    }
}
