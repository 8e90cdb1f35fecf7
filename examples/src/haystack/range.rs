//! The `range` argument of `hisRead`: `today`, `yesterday`, `{date}`, `{date},{date}`,
//! `{dateTime}` and `{dateTime},{dateTime}`, resolved in the point's timezone.

use haystack_core::timezone::{self, Tz};
use haystack_core::{Value, zinc};
use time::{Date, Duration, OffsetDateTime};

/// A resolved time range: start inclusive, end exclusive (`None`: open-ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The first instant included.
    pub start: OffsetDateTime,
    /// The first instant excluded, or `None` for "anything after `start`".
    pub end: Option<OffsetDateTime>,
}

impl Span {
    /// Whether `t` lies in the span.
    pub fn contains(&self, t: OffsetDateTime) -> bool {
        t >= self.start && self.end.is_none_or(|end| t < end)
    }
}

enum Bound {
    Date(Date),
    DateTime(OffsetDateTime),
}

fn parse_bound(text: &str) -> Result<Bound, String> {
    match zinc::read_scalar(text.trim()) {
        Ok(Value::Date(d)) => Ok(Bound::Date(d)),
        Ok(Value::DateTime(dt)) => Ok(Bound::DateTime(dt.offset_date_time())),
        Ok(other) => Err(format!(
            "range bound must be a date or dateTime, not {}",
            other.kind()
        )),
        Err(e) => Err(format!("bad range bound {text:?}: {e}")),
    }
}

fn day_start(tz: Tz, d: Date) -> Result<OffsetDateTime, String> {
    tz.start_of_day(d).map_err(|e| e.to_string())
}

fn next_day(d: Date) -> Result<Date, String> {
    d.next_day().ok_or_else(|| "date out of range".to_owned())
}

/// Resolves `range` in `tz` with `now` as the current instant.
pub fn resolve(range: &str, tz: Tz, now: OffsetDateTime) -> Result<Span, String> {
    let range = range.trim();
    let range = range
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(range);
    let whole_days = |first: Date, last: Date| -> Result<Span, String> {
        if last < first {
            return Err(format!("range end {last} is before its start {first}"));
        }
        Ok(Span {
            start: day_start(tz, first)?,
            end: Some(day_start(tz, next_day(last)?)?),
        })
    };
    match range {
        "today" => {
            let d = timezone::today_at(tz, now).map_err(|e| e.to_string())?;
            whole_days(d, d)
        }
        "yesterday" => {
            let d = timezone::yesterday_at(tz, now).map_err(|e| e.to_string())?;
            whole_days(d, d)
        }
        _ => {
            let (a, b) = match range.split_once(',') {
                Some((a, b)) => (parse_bound(a)?, Some(parse_bound(b)?)),
                None => (parse_bound(range)?, None),
            };
            match (a, b) {
                (Bound::Date(d), None) => whole_days(d, d),
                (Bound::Date(a), Some(Bound::Date(b))) => whole_days(a, b),
                (Bound::DateTime(a), None) => Ok(Span {
                    start: a,
                    end: None,
                }),
                (Bound::DateTime(a), Some(Bound::DateTime(b))) => {
                    if b < a {
                        return Err("range end is before its start".to_owned());
                    }
                    Ok(Span {
                        start: a,
                        end: Some(b),
                    })
                }
                (Bound::Date(a), Some(Bound::DateTime(b))) => Ok(Span {
                    start: day_start(tz, a)?,
                    end: Some(b),
                }),
                (Bound::DateTime(a), Some(Bound::Date(b))) => Ok(Span {
                    start: a,
                    end: Some(day_start(tz, next_day(b)?)?),
                }),
            }
        }
    }
}

/// A span that covers no more than `max` of time, for callers that must bound work.
pub fn duration(span: &Span) -> Option<Duration> {
    span.end.map(|end| end - span.start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ny() -> Tz {
        Tz::from_haystack("New_York").unwrap()
    }

    #[test]
    fn forms() {
        let now = datetime!(2024-03-10 15:00 UTC);
        let today = resolve("today", ny(), now).unwrap();
        assert_eq!(today.start, datetime!(2024-03-10 00:00 -5));
        // The day of the spring-forward change is 23 hours long.
        assert_eq!(today.end, Some(datetime!(2024-03-11 00:00 -4)));
        let y = resolve("yesterday", ny(), now).unwrap();
        assert_eq!(y.start, datetime!(2024-03-09 00:00 -5));

        let d = resolve("2012-10-01", ny(), now).unwrap();
        assert_eq!(d.start, datetime!(2012-10-01 00:00 -4));
        assert_eq!(d.end, Some(datetime!(2012-10-02 00:00 -4)));

        let dd = resolve("2012-10-01,2012-10-03", ny(), now).unwrap();
        assert_eq!(dd.end, Some(datetime!(2012-10-04 00:00 -4)));

        let dt = resolve("2012-10-01T12:00:00-04:00 New_York", ny(), now).unwrap();
        assert_eq!(dt.end, None);
        assert!(dt.contains(datetime!(2030-01-01 00:00 UTC)));
        assert!(!dt.contains(datetime!(2012-10-01 11:59 -4)));

        let two = resolve(
            "2012-10-01T00:00:00Z UTC,2012-10-01T01:00:00Z UTC",
            ny(),
            now,
        )
        .unwrap();
        assert!(two.contains(datetime!(2012-10-01 00:00 UTC)));
        assert!(
            !two.contains(datetime!(2012-10-01 01:00 UTC)),
            "end is exclusive"
        );
    }

    #[test]
    fn errors() {
        let now = datetime!(2024-03-10 15:00 UTC);
        for bad in [
            "",
            "tomorrow",
            "2012-13-01",
            "2012-10-03,2012-10-01",
            "5",
            "2012-10-01,",
        ] {
            assert!(resolve(bad, ny(), now).is_err(), "{bad:?}");
        }
    }
}
