//! Haystack timezone names (city names such as `New_York`) mapped to IANA zones and back, with
//! conversions between zones and `today`/`yesterday` in a zone.
//!
//! Haystack names a timezone by the last segment of its IANA zoneinfo name: `New_York` is
//! `America/New_York`, `Buenos_Aires` is `America/Argentina/Buenos_Aires`, `GMT+5` is
//! `Etc/GMT+5` and `UTC` is `Etc/UTC`. The rules come from the IANA database shipped by the
//! maintained `chrono-tz` crate; the public API speaks the `time` crate's types.
//!
//! ```
//! use haystack_core::timezone::{self, Tz, today_at, yesterday_at};
//! use time::macros::{date, datetime, offset, time};
//!
//! # fn main() -> haystack_core::Result<()> {
//! let ny = Tz::from_haystack("New_York")?;
//! assert_eq!(ny.iana_name(), "America/New_York");
//! assert_eq!(Tz::from_iana("Etc/GMT+5")?.haystack_name(), "GMT+5");
//!
//! // An instant seen in New York, in summer and in winter.
//! let noon_utc = datetime!(2024-07-01 12:00 UTC);
//! assert_eq!(ny.offset_at(noon_utc), offset!(-4));
//! assert_eq!(ny.to_local(noon_utc)?.time(), time!(08:00));
//! assert_eq!(ny.offset_at(datetime!(2024-01-01 12:00 UTC)), offset!(-5));
//!
//! // Local wall-clock time to an instant; 02:30 on 10 March 2024 does not exist in New York
//! // (clocks jump from 02:00 to 03:00), so it moves forward by the gap: 03:30 -04:00.
//! let t = ny.local_to_offset(date!(2024-03-10), time!(02:30))?;
//! assert_eq!(t, datetime!(2024-03-10 03:30 -4));
//!
//! // `today` and `yesterday` take the clock as a parameter in their `_at` forms.
//! let now = datetime!(2024-07-02 02:00 UTC); // still 1 July in New York
//! assert_eq!(today_at(ny, now)?, date!(2024-07-01));
//! assert_eq!(yesterday_at(ny, now)?, date!(2024-06-30));
//!
//! // A Haystack DateTime moved to another zone keeps its instant.
//! let dt = ny.datetime(noon_utc)?;
//! assert_eq!(dt.to_string(), "2024-07-01T08:00:00-04:00 New_York");
//! let tokyo = timezone::convert_datetime(&dt, Tz::from_haystack("Tokyo")?)?;
//! assert_eq!(tokyo.to_string(), "2024-07-01T21:00:00+09:00 Tokyo");
//! # Ok(())
//! # }
//! ```
//!
//! # Which zones, which names
//! The Haystack names are the zones of the IANA regions (`Africa`, `America`, `Antarctica`,
//! `Arctic`, `Asia`, `Atlantic`, `Australia`, `Europe`, `Indian`, `Pacific`) and `Etc`. Legacy
//! names outside them (`US/Eastern`, `EST5EDT`, `CET`) have no Haystack name and are refused;
//! Fantom's relative zone `Rel` is not an IANA zone and is refused too. Where two IANA names end
//! in the same city, the deeper one wins (`America/Argentina/Buenos_Aires` over the old link
//! `America/Buenos_Aires`), and for `Istanbul` and `Nicosia` the canonical zone of the tz
//! database (`Europe/Istanbul`, `Asia/Nicosia`). A [`Tz`] always holds the winning zone, so
//! `Tz::from_iana("America/Buenos_Aires")` equals `Tz::from_haystack("Buenos_Aires")`.
//!
//! # Gaps and overlaps
//! [`Tz::local_to_offset`] resolves a wall-clock time deterministically, as `java.time` does:
//! a time repeated when clocks go back takes the offset in force *before* the transition (the
//! earlier instant); a time skipped when clocks go forward is moved later by the length of the
//! gap (it is read with the offset before the gap). [`Tz::resolve_local`] reports the raw
//! outcome for callers that want another policy.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use chrono::{Offset as _, TimeZone as _};
use chrono_tz::{GapInfo, OffsetComponents as _};
use time::{Date, OffsetDateTime, Time, UtcOffset};

use crate::error::{Error, Result};
use crate::value::DateTime;

/// The IANA regions whose zones have Haystack names.
const REGIONS: [&str; 11] = [
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
    "Etc",
];

/// Canonical tz database zones for the city names that two same-depth IANA names share.
const PREFERRED: [&str; 2] = ["Europe/Istanbul", "Asia/Nicosia"];

/// A timezone with a Haystack name, e.g. `New_York` (`America/New_York`).
///
/// `Display` and `FromStr` use the Haystack name (`FromStr` accepts full IANA names too).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tz(chrono_tz::Tz);

/// The Haystack timezones, built once from chrono-tz's zone list.
struct Zones {
    /// Sorted by Haystack name.
    sorted: Vec<Tz>,
    /// Haystack name to zone.
    by_name: HashMap<&'static str, Tz>,
}

static ZONES: LazyLock<Zones> = LazyLock::new(|| {
    let mut by_name: HashMap<&'static str, Tz> = HashMap::new();
    for zone in chrono_tz::TZ_VARIANTS.iter().copied() {
        let name = zone.name();
        if !in_regions(name) {
            continue;
        }
        let entry = by_name.entry(city(name)).or_insert(Tz(zone));
        if wins(name, entry.0.name()) {
            *entry = Tz(zone);
        }
    }
    let mut sorted: Vec<Tz> = by_name.values().copied().collect();
    sorted.sort_unstable();
    Zones { sorted, by_name }
});

fn in_regions(iana: &str) -> bool {
    iana.split_once('/')
        .is_some_and(|(region, _)| REGIONS.contains(&region))
}

/// The last segment of an IANA name.
fn city(iana: &str) -> &str {
    iana.rsplit('/').next().unwrap_or(iana)
}

/// Whether `candidate` should replace `current` as the zone of their shared city name.
fn wins(candidate: &str, current: &str) -> bool {
    let depth = |n: &str| n.matches('/').count();
    match depth(candidate).cmp(&depth(current)) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => {
            PREFERRED.contains(&candidate) || (!PREFERRED.contains(&current) && candidate < current)
        }
    }
}

/// Every Haystack timezone, sorted by Haystack name.
pub fn all() -> impl ExactSizeIterator<Item = Tz> {
    ZONES.sorted.iter().copied()
}

/// How a local wall-clock time maps to instants in a zone; see [`Tz::resolve_local`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalResolution {
    /// The local time happens exactly once.
    Single(OffsetDateTime),
    /// The local time happens twice (clocks went back).
    Ambiguous {
        /// The first occurrence, with the offset before the transition.
        earlier: OffsetDateTime,
        /// The second occurrence, with the offset after the transition.
        later: OffsetDateTime,
    },
    /// The local time never happens (clocks jumped forward over it).
    Gap {
        /// The offset in force before the gap.
        before: UtcOffset,
        /// The offset in force after the gap.
        after: UtcOffset,
    },
}

impl Tz {
    /// Coordinated Universal Time (`UTC`, IANA `Etc/UTC`).
    pub const UTC: Tz = Tz(chrono_tz::Tz::Etc__UTC);

    /// The zone with Haystack name `name`, e.g. `New_York`, `UTC` or `GMT+5`. Case-sensitive.
    pub fn from_haystack(name: &str) -> Result<Tz> {
        ZONES
            .by_name
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownTimezone(name.to_owned()))
    }

    /// The zone with full IANA name `name`, e.g. `America/New_York` or `Etc/GMT+5`; only zones
    /// that have a Haystack name (see the module docs). An old link such as
    /// `America/Buenos_Aires` gives the zone its city names (`America/Argentina/Buenos_Aires`).
    pub fn from_iana(name: &str) -> Result<Tz> {
        match chrono_tz::Tz::from_str(name) {
            Ok(zone) if in_regions(zone.name()) => Tz::from_haystack(city(zone.name())),
            _ => Err(Error::UnknownTimezone(name.to_owned())),
        }
    }

    /// A Haystack name, or else a full IANA name.
    pub fn from_name(name: &str) -> Result<Tz> {
        Tz::from_haystack(name).or_else(|_| Tz::from_iana(name))
    }

    /// The Haystack (city) name, e.g. `New_York`.
    pub fn haystack_name(self) -> &'static str {
        city(self.0.name())
    }

    /// The full IANA name, e.g. `America/New_York`.
    pub fn iana_name(self) -> &'static str {
        self.0.name()
    }

    /// The zone's offset from UTC at `instant` (any offset; only the instant matters).
    ///
    /// Instants outside chrono's range (about ±262,000 years, wider than `time`'s default
    /// ±9,999) use the offset at the nearest instant it can represent.
    pub fn offset_at(self, instant: OffsetDateTime) -> UtcOffset {
        let min = chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp();
        let max = chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp();
        let seconds = instant.unix_timestamp().clamp(min, max);
        // The clamp keeps `seconds` in chrono's range, so `from_timestamp` gives `Some`.
        let utc = chrono::DateTime::from_timestamp(seconds, 0)
            .unwrap_or_default()
            .naive_utc();
        seconds_to_offset(
            self.0
                .offset_from_utc_datetime(&utc)
                .fix()
                .local_minus_utc(),
        )
    }

    /// Whether daylight saving time is in force at `instant`.
    pub fn is_dst_at(self, instant: OffsetDateTime) -> bool {
        let seconds = instant.unix_timestamp();
        match chrono::DateTime::from_timestamp(seconds, 0) {
            Some(utc) => !self
                .0
                .offset_from_utc_datetime(&utc.naive_utc())
                .dst_offset()
                .is_zero(),
            None => false,
        }
    }

    /// `instant` expressed in this zone's local time (same instant, this zone's offset).
    ///
    /// Errors with [`Error::InvalidValue`] if the local date falls outside `time`'s range.
    pub fn to_local(self, instant: OffsetDateTime) -> Result<OffsetDateTime> {
        instant
            .checked_to_offset(self.offset_at(instant))
            .ok_or_else(|| out_of_range(instant))
    }

    /// How the wall-clock `date` `time` in this zone maps to instants: once, twice (clocks went
    /// back) or never (clocks jumped forward).
    pub fn resolve_local(self, date: Date, time: Time) -> Result<LocalResolution> {
        let local = to_naive(date, time)?;
        let at = |offset: UtcOffset| date.with_time(time).assume_offset(offset);
        Ok(match self.0.offset_from_local_datetime(&local) {
            chrono::LocalResult::Single(o) => LocalResolution::Single(at(tz_offset(&o))),
            chrono::LocalResult::Ambiguous(first, second) => LocalResolution::Ambiguous {
                earlier: at(tz_offset(&first)),
                later: at(tz_offset(&second)),
            },
            chrono::LocalResult::None => {
                let gap = GapInfo::new(&local, &self.0);
                let after = gap
                    .as_ref()
                    .and_then(|g| g.end)
                    .map(|end| seconds_to_offset(end.offset().fix().local_minus_utc()));
                let before = gap.and_then(|g| g.begin).map(|(_, o)| tz_offset(&o));
                // A gap always lies between two known offsets; if chrono ever reported one at
                // the very edge of its data, fall back to the offset at the local time read as UTC.
                let fallback = || self.offset_at(at(UtcOffset::UTC));
                LocalResolution::Gap {
                    before: before.unwrap_or_else(fallback),
                    after: after.unwrap_or_else(fallback),
                }
            }
        })
    }

    /// The instant of the wall-clock `date` `time` in this zone, with this zone's offset.
    ///
    /// Deterministic at transitions (see the module docs): a repeated time gives the earlier
    /// instant; a skipped time moves forward by the gap (02:30 becomes 03:30 when clocks jump
    /// from 02:00 to 03:00). Errors with [`Error::InvalidValue`] outside `time`'s range.
    pub fn local_to_offset(self, date: Date, time: Time) -> Result<OffsetDateTime> {
        match self.resolve_local(date, time)? {
            LocalResolution::Single(t) => Ok(t),
            LocalResolution::Ambiguous { earlier, .. } => Ok(earlier),
            LocalResolution::Gap { before, .. } => {
                self.to_local(date.with_time(time).assume_offset(before))
            }
        }
    }

    /// `instant` in this zone as a Haystack [`DateTime`]: this zone's offset at that instant and
    /// its Haystack name.
    pub fn datetime(self, instant: OffsetDateTime) -> Result<DateTime> {
        Ok(DateTime::from_parts(
            self.to_local(instant)?,
            Arc::from(self.haystack_name()),
        ))
    }

    /// The zone a [`DateTime`] names (a Haystack name, or a full IANA name).
    pub fn of(datetime: &DateTime) -> Result<Tz> {
        Tz::from_name(datetime.tz())
    }

    /// The first instant of `date` in this zone: midnight, or the first time after midnight
    /// when midnight falls in a gap.
    pub fn start_of_day(self, date: Date) -> Result<OffsetDateTime> {
        self.local_to_offset(date, Time::MIDNIGHT)
    }
}

/// `instant` expressed in zone `to`: [`Tz::to_local`] under a name that reads well at call sites.
pub fn convert(instant: OffsetDateTime, to: Tz) -> Result<OffsetDateTime> {
    to.to_local(instant)
}

/// `datetime` moved to zone `to`: the same instant, with `to`'s offset and Haystack name.
pub fn convert_datetime(datetime: &DateTime, to: Tz) -> Result<DateTime> {
    to.datetime(datetime.offset_date_time())
}

/// Today's date in `tz` according to the system clock. See [`today_at`] to pass the clock.
pub fn today(tz: Tz) -> Result<Date> {
    today_at(tz, OffsetDateTime::now_utc())
}

/// Yesterday's date in `tz` according to the system clock. See [`yesterday_at`].
pub fn yesterday(tz: Tz) -> Result<Date> {
    yesterday_at(tz, OffsetDateTime::now_utc())
}

/// The date in `tz` at the instant `now`.
pub fn today_at(tz: Tz, now: OffsetDateTime) -> Result<Date> {
    Ok(tz.to_local(now)?.date())
}

/// The day before the date in `tz` at the instant `now`.
pub fn yesterday_at(tz: Tz, now: OffsetDateTime) -> Result<Date> {
    let today = today_at(tz, now)?;
    today.previous_day().ok_or_else(|| out_of_range(now))
}

fn out_of_range(instant: OffsetDateTime) -> Error {
    Error::InvalidValue {
        kind: "DateTime",
        message: format!("{instant} is out of range"),
    }
}

fn tz_offset(offset: &chrono_tz::TzOffset) -> UtcOffset {
    seconds_to_offset(offset.fix().local_minus_utc())
}

/// tz database offsets are within ±16 hours, well inside `UtcOffset`'s ±25:59:59, so the
/// fallback to UTC is never taken.
fn seconds_to_offset(seconds: i32) -> UtcOffset {
    UtcOffset::from_whole_seconds(seconds).unwrap_or(UtcOffset::UTC)
}

fn to_naive(date: Date, time: Time) -> Result<chrono::NaiveDateTime> {
    let (hour, minute, second, nano) = time.as_hms_nano();
    chrono::NaiveDate::from_ymd_opt(
        date.year(),
        u32::from(u8::from(date.month())),
        u32::from(date.day()),
    )
    .and_then(|d| d.and_hms_nano_opt(hour.into(), minute.into(), second.into(), nano))
    .ok_or_else(|| Error::InvalidValue {
        kind: "DateTime",
        message: format!("{date} {time} is out of range"),
    })
}

impl fmt::Display for Tz {
    /// Writes the Haystack name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.haystack_name())
    }
}

impl fmt::Debug for Tz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tz({})", self.iana_name())
    }
}

impl FromStr for Tz {
    type Err = Error;

    /// [`Tz::from_name`]: a Haystack name or a full IANA name.
    fn from_str(s: &str) -> Result<Tz> {
        Tz::from_name(s)
    }
}

/// Ordered by Haystack name, the order of [`all`].
impl Ord for Tz {
    fn cmp(&self, other: &Tz) -> std::cmp::Ordering {
        self.haystack_name().cmp(other.haystack_name())
    }
}

impl PartialOrd for Tz {
    fn partial_cmp(&self, other: &Tz) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Default for Tz {
    /// [`Tz::UTC`].
    fn default() -> Tz {
        Tz::UTC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_city_collision_is_resolved_by_rule_not_by_fallback() {
        // Group region zones by city; every group of two or more must be decided by depth or by
        // PREFERRED, so the alphabetical tie-break never picks the IANA name.
        let names: Vec<&str> = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|z| z.name())
            .filter(|n| in_regions(n))
            .collect();
        for tz in all() {
            let rivals: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| city(n) == tz.haystack_name())
                .collect();
            let depth = |n: &str| n.matches('/').count();
            let deepest = rivals.iter().map(|n| depth(n)).max().unwrap_or(0);
            let tied: Vec<&str> = rivals
                .iter()
                .copied()
                .filter(|n| depth(n) == deepest)
                .collect();
            if tied.len() > 1 {
                assert!(
                    PREFERRED.contains(&tz.iana_name()),
                    "unresolved tie {tied:?}"
                );
            }
            assert_eq!(depth(tz.iana_name()), deepest, "{rivals:?}");
        }
    }

    #[test]
    fn preferred_zones_exist() {
        for name in PREFERRED {
            assert_eq!(Tz::from_iana(name).unwrap().iana_name(), name);
        }
    }
}
