//! Haystack timezone names, offsets across DST transitions, local-time resolution and
//! today/yesterday with an injected clock.

use haystack_core::Error;
use haystack_core::timezone::{self, LocalResolution, Tz, today_at, yesterday_at};
use time::macros::{date, datetime, offset, time};
use time::{Date, OffsetDateTime, Time, UtcOffset};

fn tz(name: &str) -> Tz {
    Tz::from_haystack(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_haystack_name_round_trips() {
    let mut count = 0;
    for zone in timezone::all() {
        count += 1;
        let name = zone.haystack_name();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+')),
            "{name} is not a valid Zinc timezone name"
        );
        assert_eq!(Tz::from_haystack(name).unwrap(), zone);
        assert_eq!(Tz::from_iana(zone.iana_name()).unwrap(), zone);
        assert_eq!(zone.to_string().parse::<Tz>().unwrap(), zone);
        assert_eq!(zone.iana_name().parse::<Tz>().unwrap(), zone);
        assert!(zone.iana_name().ends_with(name));
    }
    // One Haystack name per distinct city of the IANA regions.
    let regions = [
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
    let mut cities: Vec<&str> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|z| z.name())
        .filter(|n| n.split_once('/').is_some_and(|(r, _)| regions.contains(&r)))
        .map(|n| n.rsplit('/').next().unwrap())
        .collect();
    cities.sort_unstable();
    cities.dedup();
    assert_eq!(count, cities.len());
    assert!(count > 400, "{count}");
    let names: Vec<&str> = timezone::all().map(Tz::haystack_name).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
}

#[test]
fn haystack_names_map_to_iana_zones() {
    for (haystack, iana) in [
        ("New_York", "America/New_York"),
        ("Chicago", "America/Chicago"),
        ("Denver", "America/Denver"),
        ("Los_Angeles", "America/Los_Angeles"),
        ("Phoenix", "America/Phoenix"),
        ("London", "Europe/London"),
        ("Kolkata", "Asia/Kolkata"),
        ("Sydney", "Australia/Sydney"),
        ("UTC", "Etc/UTC"),
        ("GMT", "Etc/GMT"),
        ("GMT+5", "Etc/GMT+5"),
        ("GMT-14", "Etc/GMT-14"),
        ("Buenos_Aires", "America/Argentina/Buenos_Aires"),
        ("Indianapolis", "America/Indiana/Indianapolis"),
        ("Louisville", "America/Kentucky/Louisville"),
        ("Istanbul", "Europe/Istanbul"),
        ("Nicosia", "Asia/Nicosia"),
    ] {
        assert_eq!(tz(haystack).iana_name(), iana, "{haystack}");
        assert_eq!(
            Tz::from_iana(iana).unwrap().haystack_name(),
            haystack,
            "{iana}"
        );
        assert_eq!(
            Tz::from_name(haystack).unwrap(),
            Tz::from_name(iana).unwrap()
        );
    }
    assert_eq!(Tz::UTC, tz("UTC"));
    assert_eq!(Tz::default(), Tz::UTC);
    assert_eq!(format!("{:?}", tz("New_York")), "Tz(America/New_York)");
}

#[test]
fn old_links_resolve_to_the_zone_of_their_city() {
    for (link, canonical) in [
        ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
        ("America/Indianapolis", "America/Indiana/Indianapolis"),
        ("Asia/Istanbul", "Europe/Istanbul"),
        ("Europe/Nicosia", "Asia/Nicosia"),
    ] {
        assert_eq!(Tz::from_iana(link).unwrap().iana_name(), canonical);
    }
}

#[test]
fn unknown_names_error() {
    for bad in [
        "",
        "new_york",
        "NEW_YORK",
        "US/Eastern",
        "EST5EDT",
        "CET",
        "Eastern",
        "Rel",
        "America/",
        "America/Nowhere",
        "Etc/GMT+15",
        "UTC ",
        "New York",
    ] {
        match Tz::from_name(bad) {
            Err(Error::UnknownTimezone(name)) => assert_eq!(name, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
        assert!(bad.parse::<Tz>().is_err());
    }
    // A Haystack name is not an IANA name and vice versa.
    assert!(Tz::from_iana("New_York").is_err());
    assert!(Tz::from_haystack("America/New_York").is_err());
}

#[test]
fn offsets_across_dst_transitions() {
    let cases: &[(&str, OffsetDateTime, UtcOffset, bool)] = &[
        // New York 2024: spring forward at 07:00Z, fall back at 06:00Z.
        (
            "New_York",
            datetime!(2024-03-10 06:59:59 UTC),
            offset!(-5),
            false,
        ),
        (
            "New_York",
            datetime!(2024-03-10 07:00 UTC),
            offset!(-4),
            true,
        ),
        (
            "New_York",
            datetime!(2024-11-03 05:59:59 UTC),
            offset!(-4),
            true,
        ),
        (
            "New_York",
            datetime!(2024-11-03 06:00 UTC),
            offset!(-5),
            false,
        ),
        // Historical rules: before 2007 US DST began in April.
        (
            "New_York",
            datetime!(2006-03-20 12:00 UTC),
            offset!(-5),
            false,
        ),
        (
            "New_York",
            datetime!(2006-04-02 07:00 UTC),
            offset!(-4),
            true,
        ),
        // London, Sydney (southern hemisphere), Phoenix (no DST), Kolkata (half hour).
        (
            "London",
            datetime!(2024-03-31 00:59:59 UTC),
            offset!(+0),
            false,
        ),
        ("London", datetime!(2024-03-31 01:00 UTC), offset!(+1), true),
        (
            "Sydney",
            datetime!(2024-04-06 15:59:59 UTC),
            offset!(+11),
            true,
        ),
        (
            "Sydney",
            datetime!(2024-04-06 16:00 UTC),
            offset!(+10),
            false,
        ),
        (
            "Phoenix",
            datetime!(2024-07-01 12:00 UTC),
            offset!(-7),
            false,
        ),
        (
            "Kolkata",
            datetime!(2024-07-01 12:00 UTC),
            offset!(+5:30),
            false,
        ),
        // Etc zones use POSIX signs: GMT+5 is five hours *behind* UTC.
        ("GMT+5", datetime!(2024-07-01 12:00 UTC), offset!(-5), false),
        ("UTC", datetime!(2024-07-01 12:00 UTC), offset!(UTC), false),
    ];
    for &(name, instant, offset, dst) in cases {
        let zone = tz(name);
        assert_eq!(zone.offset_at(instant), offset, "{name} at {instant}");
        assert_eq!(zone.is_dst_at(instant), dst, "{name} at {instant}");
        // Only the instant matters, not the offset it is written in.
        assert_eq!(
            zone.offset_at(instant.to_offset(offset!(+3))),
            offset,
            "{name}"
        );
        let local = zone.to_local(instant).unwrap();
        assert_eq!(local, instant, "same instant");
        assert_eq!(local.offset(), offset);
        assert_eq!(timezone::convert(instant, zone).unwrap(), local);
    }
}

#[test]
fn local_times_resolve_deterministically_at_transitions() {
    let ny = tz("New_York");
    // Ordinary time.
    assert_eq!(
        ny.local_to_offset(date!(2024 - 07 - 01), time!(12:00))
            .unwrap(),
        datetime!(2024-07-01 12:00 -4)
    );
    assert_eq!(
        ny.resolve_local(date!(2024 - 07 - 01), time!(12:00))
            .unwrap(),
        LocalResolution::Single(datetime!(2024-07-01 12:00 -4))
    );
    // Overlap: 01:30 happens twice on 3 November 2024; the earlier one (EDT) is chosen.
    assert_eq!(
        ny.resolve_local(date!(2024 - 11 - 03), time!(01:30))
            .unwrap(),
        LocalResolution::Ambiguous {
            earlier: datetime!(2024-11-03 01:30 -4),
            later: datetime!(2024-11-03 01:30 -5),
        }
    );
    let t = ny
        .local_to_offset(date!(2024 - 11 - 03), time!(01:30))
        .unwrap();
    assert_eq!(
        (t, t.offset()),
        (datetime!(2024-11-03 01:30 -4), offset!(-4))
    );
    // Gap: 02:30 never happens on 10 March 2024; it moves forward by the hour.
    assert_eq!(
        ny.resolve_local(date!(2024 - 03 - 10), time!(02:30))
            .unwrap(),
        LocalResolution::Gap {
            before: offset!(-5),
            after: offset!(-4)
        }
    );
    let t = ny
        .local_to_offset(date!(2024 - 03 - 10), time!(02:30:15.5))
        .unwrap();
    assert_eq!(
        (t, t.offset()),
        (datetime!(2024-03-10 03:30:15.5 -4), offset!(-4))
    );

    let cases: &[(&str, Date, Time, OffsetDateTime)] = &[
        (
            "London",
            date!(2024 - 10 - 27),
            time!(01:30),
            datetime!(2024-10-27 01:30 +1),
        ),
        (
            "London",
            date!(2024 - 03 - 31),
            time!(01:00),
            datetime!(2024-03-31 02:00 +1),
        ),
        (
            "Sydney",
            date!(2024 - 10 - 06),
            time!(02:30),
            datetime!(2024-10-06 03:30 +11),
        ),
        (
            "Sydney",
            date!(2024 - 04 - 07),
            time!(02:30),
            datetime!(2024-04-07 02:30 +11),
        ),
        (
            "Kolkata",
            date!(2024 - 01 - 01),
            time!(00:00),
            datetime!(2024-01-01 00:00 +5:30),
        ),
    ];
    for &(name, date, time, expected) in cases {
        let t = tz(name).local_to_offset(date, time).unwrap();
        assert_eq!(
            (t, t.offset()),
            (expected, expected.offset()),
            "{name} {date} {time}"
        );
    }
}

#[test]
fn start_of_day_skips_a_midnight_gap() {
    // Chile springs forward at 24:00: 8 September 2024 starts at 01:00 -03:00.
    let santiago = tz("Santiago");
    assert!(matches!(
        santiago
            .resolve_local(date!(2024 - 09 - 08), Time::MIDNIGHT)
            .unwrap(),
        LocalResolution::Gap { .. }
    ));
    assert_eq!(
        santiago.start_of_day(date!(2024 - 09 - 08)).unwrap(),
        datetime!(2024-09-08 01:00 -3)
    );
    assert_eq!(
        tz("New_York").start_of_day(date!(2024 - 03 - 10)).unwrap(),
        datetime!(2024-03-10 00:00 -5)
    );
}

#[test]
fn today_and_yesterday_with_an_injected_clock() {
    let cases: &[(&str, OffsetDateTime, Date, Date)] = &[
        (
            "New_York",
            datetime!(2024-01-01 03:00 UTC),
            date!(2023 - 12 - 31),
            date!(2023 - 12 - 30),
        ),
        (
            "Tokyo",
            datetime!(2024-01-01 03:00 UTC),
            date!(2024 - 01 - 01),
            date!(2023 - 12 - 31),
        ),
        (
            "Tokyo",
            datetime!(2023-12-31 15:00 UTC),
            date!(2024 - 01 - 01),
            date!(2023 - 12 - 31),
        ),
        (
            "Tokyo",
            datetime!(2023-12-31 14:59:59 UTC),
            date!(2023 - 12 - 31),
            date!(2023 - 12 - 30),
        ),
        (
            "Los_Angeles",
            datetime!(2024-03-01 01:00 UTC),
            date!(2024 - 02 - 29),
            date!(2024 - 02 - 28),
        ),
        (
            "UTC",
            datetime!(2024-03-01 00:00 +9),
            date!(2024 - 02 - 29),
            date!(2024 - 02 - 28),
        ),
        (
            "Kiritimati",
            datetime!(2024-06-30 10:00 UTC),
            date!(2024 - 07 - 01),
            date!(2024 - 06 - 30),
        ),
    ];
    for &(name, now, today, yesterday) in cases {
        assert_eq!(today_at(tz(name), now).unwrap(), today, "{name} at {now}");
        assert_eq!(
            yesterday_at(tz(name), now).unwrap(),
            yesterday,
            "{name} at {now}"
        );
    }
}

#[test]
fn today_follows_the_system_clock() {
    let zone = tz("Auckland");
    let before = OffsetDateTime::now_utc();
    let today = timezone::today(zone).unwrap();
    let yesterday = timezone::yesterday(zone).unwrap();
    let after = OffsetDateTime::now_utc();
    assert!(today == today_at(zone, before).unwrap() || today == today_at(zone, after).unwrap());
    assert!(yesterday < today);
}

#[test]
fn out_of_range_dates_are_errors_not_panics() {
    let last = Date::MAX.with_time(time!(23:00)).assume_utc();
    assert!(matches!(
        tz("Tokyo").to_local(last),
        Err(Error::InvalidValue { .. })
    ));
    assert!(today_at(tz("Tokyo"), last).is_err());
    let first = Date::MIN.midnight().assume_utc();
    assert!(today_at(tz("Los_Angeles"), first).is_err());
    assert!(yesterday_at(Tz::UTC, first).is_err());
    assert!(tz("Tokyo").local_to_offset(Date::MAX, time!(23:00)).is_ok());
    // Offsets far outside the tz data still come from the zone's rules.
    assert_eq!(tz("Kolkata").offset_at(last), offset!(+5:30));
}

#[test]
fn haystack_datetimes_convert_between_zones() {
    let instant = datetime!(2024-11-03 06:30 UTC);
    let ny = tz("New_York").datetime(instant).unwrap();
    assert_eq!(ny.tz(), "New_York");
    assert_eq!(ny.offset(), offset!(-5));
    assert_eq!(ny.offset_date_time(), instant);
    assert_eq!(Tz::of(&ny).unwrap(), tz("New_York"));
    for name in ["London", "Kolkata", "GMT+5", "UTC"] {
        let moved = timezone::convert_datetime(&ny, tz(name)).unwrap();
        assert_eq!(moved.tz(), name);
        assert_eq!(moved.offset_date_time(), instant, "{name}");
        assert_eq!(moved.offset(), tz(name).offset_at(instant), "{name}");
    }
    let full = haystack_core::DateTime::new(instant, "America/Chicago").unwrap();
    assert_eq!(Tz::of(&full).unwrap(), tz("Chicago"));
    let unknown = haystack_core::DateTime::new(instant, "Nowhere").unwrap();
    assert!(matches!(Tz::of(&unknown), Err(Error::UnknownTimezone(_))));
}
