//! Generators of realistic test data (grids of sites, equipment and points) for tests and benchmarks.
//!
//! ```
//! let g = haystack_core::testing::realistic_grid(1000);
//! assert_eq!(g.len(), 1000);
//! assert!(g.cols().len() >= 100);
//! // Deterministic: the same size always gives the same grid.
//! assert_eq!(g, haystack_core::testing::realistic_grid(1000));
//! ```

use std::sync::Arc;

use time::{Duration, OffsetDateTime, UtcOffset};

use crate::value::{Coord, DateTime, Number, Ref, Value};
use crate::{Dict, Grid};

/// A small deterministic pseudo-random generator (SplitMix64), so generated data is the same on
/// every run and platform.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }

    /// Uniform in `[lo, hi)`, rounded to 2 decimals.
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        let x = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((lo + x * (hi - lo)) * 100.0).round() / 100.0
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // Every table passed here is a non-empty constant.
        &items[self.below(items.len())]
    }
}

/// Haystack timezone name and its (winter) UTC offset in hours.
const ZONES: [(&str, i8, &str, &str); 4] = [
    ("New_York", -5, "Richmond", "VA"),
    ("Chicago", -6, "Chicago", "IL"),
    ("Denver", -7, "Boulder", "CO"),
    ("Los_Angeles", -8, "San Diego", "CA"),
];

/// A point profile: dis, marker tags, unit (`None` for a Bool point), value range.
type PointProfile = (
    &'static str,
    &'static [&'static str],
    Option<&'static str>,
    f64,
    f64,
);

/// Point profiles.
const POINTS: &[PointProfile] = &[
    (
        "DA-T",
        &["discharge", "air", "temp", "sensor"],
        Some("°F"),
        50.0,
        70.0,
    ),
    (
        "RA-T",
        &["return", "air", "temp", "sensor"],
        Some("°F"),
        65.0,
        80.0,
    ),
    (
        "ZN-T",
        &["zone", "air", "temp", "sensor"],
        Some("°F"),
        65.0,
        78.0,
    ),
    (
        "ZN-SP",
        &["zone", "air", "temp", "sp", "writable"],
        Some("°F"),
        68.0,
        74.0,
    ),
    (
        "OA-T",
        &["outside", "air", "temp", "sensor", "weather"],
        Some("°F"),
        10.0,
        95.0,
    ),
    (
        "OA-H",
        &["outside", "air", "humidity", "sensor", "weather"],
        Some("%RH"),
        20.0,
        90.0,
    ),
    (
        "DA-Flow",
        &["discharge", "air", "flow", "sensor"],
        Some("cfm"),
        100.0,
        2000.0,
    ),
    (
        "DMPR",
        &["discharge", "air", "damper", "cmd", "writable"],
        Some("%"),
        0.0,
        100.0,
    ),
    (
        "Fan-Cmd",
        &["discharge", "air", "fan", "run", "cmd", "writable"],
        None,
        0.0,
        1.0,
    ),
    (
        "Fan-Sts",
        &["discharge", "air", "fan", "run", "sensor"],
        None,
        0.0,
        1.0,
    ),
    (
        "CLG-VLV",
        &["cool", "valve", "cmd", "writable"],
        Some("%"),
        0.0,
        100.0,
    ),
    (
        "HTG-VLV",
        &["heat", "valve", "cmd", "writable"],
        Some("%"),
        0.0,
        100.0,
    ),
    (
        "kW",
        &["elec", "power", "sensor", "siteMeter"],
        Some("kW"),
        5.0,
        900.0,
    ),
    (
        "kWh",
        &["elec", "energy", "sensor", "totalized"],
        Some("kWh"),
        1000.0,
        90000.0,
    ),
    (
        "SP",
        &["duct", "air", "pressure", "sensor", "static"],
        Some("inH₂O"),
        0.5,
        2.5,
    ),
    (
        "CO2",
        &["zone", "air", "co2", "sensor", "concentration"],
        Some("ppm"),
        400.0,
        1400.0,
    ),
    (
        "CHWS-T",
        &["chilled", "water", "leaving", "temp", "sensor"],
        Some("°F"),
        40.0,
        48.0,
    ),
    (
        "HWS-T",
        &["hot", "water", "entering", "temp", "sensor"],
        Some("°F"),
        120.0,
        180.0,
    ),
    ("Occ", &["occupied", "sensor", "zone"], None, 0.0, 1.0),
    (
        "Gas",
        &["naturalGas", "volume", "sensor", "totalized"],
        Some("ft³"),
        0.0,
        50000.0,
    ),
];

/// Equipment profiles: dis prefix and marker tags.
const EQUIPS: &[(&str, &[&str])] = &[
    ("AHU", &["ahu", "airHandlingEquip", "hvac"]),
    ("VAV", &["vav", "airTerminalUnit", "hvac", "singleDuct"]),
    ("RTU", &["rtu", "ahu", "hvac", "packagedUnit"]),
    ("Meter", &["meter", "elec", "elecMeter", "siteMeter"]),
    ("Boiler", &["boiler", "hotWaterPlant", "hvac"]),
    (
        "Chiller",
        &["chiller", "chilledWaterPlant", "hvac", "waterCooled"],
    ),
    ("FCU", &["fcu", "hvac", "fourPipe"]),
];

const FUNCTIONS: &[&str] = &[
    "Office",
    "Retail Store",
    "K-12 School",
    "Hospital",
    "Warehouse",
];
const VENDORS: &[&str] = &[
    "Acme Controls",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
];
const STATUSES: &[&str] = &["ok", "ok", "ok", "ok", "stale", "fault", "down"];

struct Ctx {
    rng: Rng,
    base: OffsetDateTime,
    units: Vec<Arc<str>>,
}

impl Ctx {
    fn datetime(&mut self, zone: usize) -> Value {
        let (tz, hours, _, _) = ZONES[zone % ZONES.len()];
        let offset = UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC);
        let secs = self.rng.below(30 * 24 * 3600) as i64;
        let millis = self.rng.below(1000) as i64;
        let dt = (self.base + Duration::seconds(secs) + Duration::milliseconds(millis))
            .to_offset(offset);
        Value::DateTime(DateTime::from_parts(dt, Arc::from(tz)))
    }

    fn number(&mut self, v: f64, unit: &str) -> Value {
        let shared = match self.units.iter().find(|u| &***u == unit) {
            Some(u) => u.clone(),
            None => {
                let u: Arc<str> = Arc::from(unit);
                self.units.push(u.clone());
                u
            }
        };
        Value::Number(Number::with_shared_unit(v, Some(shared)))
    }
}

fn set(d: &mut Dict, name: &'static str, v: impl Into<Value>) {
    // Every name passed here is a literal tag name of this module.
    d.insert_valid(Arc::from(name), v.into());
}

fn site(c: &mut Ctx, n: usize) -> (Dict, Ref, usize) {
    let zone = n % ZONES.len();
    let (tz, _, city, state) = ZONES[zone];
    let dis = format!("Site {n:03}");
    let id = Ref::with_dis(format!("s.{n:04}"), dis.as_str());
    let mut d = Dict::new();
    set(&mut d, "id", id.clone());
    set(&mut d, "dis", dis);
    set(&mut d, "site", Value::Marker);
    let area = c.rng.range(5_000.0, 250_000.0).round();
    let area = c.number(area, "ft²");
    set(&mut d, "area", area);
    set(&mut d, "geoCity", city);
    set(&mut d, "geoState", state);
    set(&mut d, "geoCountry", "US");
    set(
        &mut d,
        "geoPostalCode",
        format!("{:05}", 10_000 + c.rng.below(89_999)),
    );
    set(
        &mut d,
        "geoAddr",
        format!("{} Main St, {city}, {state}", 1 + c.rng.below(9999)),
    );
    let lat = c.rng.range(30.0, 45.0);
    let lng = c.rng.range(-120.0, -75.0);
    if let Ok(coord) = Coord::new(lat, lng) {
        set(&mut d, "geoCoord", coord);
    }
    set(&mut d, "tz", tz);
    set(&mut d, "primaryFunction", *c.rng.pick(FUNCTIONS));
    let year = c.rng.below(60) as f64 + 1960.0;
    set(&mut d, "yearBuilt", year);
    set(
        &mut d,
        "phone",
        format!("+1 555 {:04}", c.rng.below(10_000)),
    );
    if let (Ok(open), Ok(close)) = (
        time::Time::from_hms(7, 0, 0),
        time::Time::from_hms(18, 30, 0),
    ) {
        set(&mut d, "occupiedStart", open);
        set(&mut d, "occupiedEnd", close);
    }
    if c.rng.chance(50) {
        set(
            &mut d,
            "weatherStationRef",
            Ref::with_dis("w.1", "Weather Station"),
        );
    }
    let m = c.datetime(zone);
    set(&mut d, "mod", m);
    (d, id, zone)
}

fn equip(c: &mut Ctx, n: usize, site: &Ref, zone: usize) -> (Dict, Ref) {
    let (prefix, markers) = *c.rng.pick(EQUIPS);
    let dis = format!("{} {prefix}-{n}", site.display_name());
    let id = Ref::with_dis(format!("e.{n:05}"), dis.as_str());
    let mut d = Dict::new();
    set(&mut d, "id", id.clone());
    set(&mut d, "dis", dis);
    set(&mut d, "equip", Value::Marker);
    for &m in markers {
        d.insert_valid(Arc::from(m), Value::Marker);
    }
    set(&mut d, "navName", format!("{prefix}-{n}"));
    set(&mut d, "siteRef", site.clone());
    set(&mut d, "vendor", *c.rng.pick(VENDORS));
    set(&mut d, "model", format!("M{}", 100 + c.rng.below(900)));
    if c.rng.chance(40) {
        set(
            &mut d,
            "floorRef",
            Ref::with_dis(format!("f.{}", c.rng.below(10)), "Floor"),
        );
    }
    if c.rng.chance(30) {
        let date = time::Date::from_ordinal_date(
            2000 + c.rng.below(20) as i32,
            1 + c.rng.below(365) as u16,
        );
        if let Ok(date) = date {
            set(&mut d, "installed", date);
        }
    }
    let m = c.datetime(zone);
    set(&mut d, "mod", m);
    (d, id)
}

fn point(c: &mut Ctx, n: usize, site: &Ref, equip: &Ref, zone: usize) -> Dict {
    let (name, markers, unit, lo, hi) = *c.rng.pick(POINTS);
    let dis = format!("{} {name}", equip.display_name());
    let mut d = Dict::new();
    set(
        &mut d,
        "id",
        Ref::with_dis(format!("p.{n:06}"), dis.as_str()),
    );
    set(&mut d, "dis", dis);
    set(&mut d, "point", Value::Marker);
    for &m in markers {
        d.insert_valid(Arc::from(m), Value::Marker);
    }
    set(&mut d, "navName", name);
    set(&mut d, "siteRef", site.clone());
    set(&mut d, "equipRef", equip.clone());
    set(&mut d, "tz", ZONES[zone].0);
    set(&mut d, "his", Value::Marker);
    set(&mut d, "cur", Value::Marker);
    match unit {
        Some(u) => {
            set(&mut d, "kind", "Number");
            set(&mut d, "unit", u);
            let v = c.rng.range(lo, hi);
            let v = c.number(v, u);
            set(&mut d, "curVal", v);
            if c.rng.chance(40) {
                let v = c.number(lo, u);
                set(&mut d, "minVal", v);
                let v = c.number(hi, u);
                set(&mut d, "maxVal", v);
            }
            if c.rng.chance(30) {
                set(&mut d, "precision", 1.0 + c.rng.below(3) as f64);
            }
            set(
                &mut d,
                "hisInterpolate",
                if c.rng.chance(70) { "linear" } else { "cov" },
            );
        }
        None => {
            set(&mut d, "kind", "Bool");
            set(&mut d, "curVal", c.rng.chance(50));
            set(&mut d, "enum", "off,on");
            set(&mut d, "hisInterpolate", "cov");
        }
    }
    set(&mut d, "curStatus", *c.rng.pick(STATUSES));
    if c.rng.chance(60) {
        set(&mut d, "bacnetCur", format!("AV{}", c.rng.below(4000)));
        set(
            &mut d,
            "bacnetConnRef",
            Ref::with_dis(format!("c.{}", c.rng.below(40)), "BACnet Conn"),
        );
        if c.rng.chance(30) {
            set(&mut d, "bacnetHis", format!("TL{}", c.rng.below(500)));
        }
    } else if c.rng.chance(50) {
        set(
            &mut d,
            "modbusCur",
            format!("{}", 40_001 + c.rng.below(9999)),
        );
        set(
            &mut d,
            "modbusConnRef",
            Ref::with_dis(format!("m.{}", c.rng.below(20)), "Modbus Conn"),
        );
    } else {
        set(
            &mut d,
            "haystackCur",
            format!("@remote.{}", c.rng.below(100_000)),
        );
        set(
            &mut d,
            "haystackConnRef",
            Ref::with_dis("h.1", "Remote Haystack"),
        );
    }
    if markers.contains(&"writable") {
        set(&mut d, "writeLevel", 8.0 + c.rng.below(9) as f64);
        if c.rng.chance(50) {
            set(&mut d, "writeVal", c.rng.range(lo, hi));
        }
    }
    if c.rng.chance(20) {
        set(
            &mut d,
            "spaceRef",
            Ref::with_dis(format!("sp.{}", c.rng.below(300)), "Space"),
        );
    }
    if c.rng.chance(10) {
        set(&mut d, "disabled", Value::Marker);
    }
    // Rarer tags, as real databases accumulate them.
    if c.rng.chance(8) {
        set(&mut d, "alarm", Value::Marker);
        set(
            &mut d,
            "alarmRef",
            Ref::with_dis(format!("a.{}", c.rng.below(50)), "Alarm Class"),
        );
        set(&mut d, "alarmLimit", c.rng.range(lo, hi));
    }
    if c.rng.chance(6) {
        set(&mut d, "faultCode", format!("F{:03}", c.rng.below(200)));
        let v = c.datetime(zone);
        set(&mut d, "faultTime", v);
    }
    if let (Some(u), true) = (unit, c.rng.chance(12)) {
        let x = c.rng.range(0.1, 2.0);
        let v = c.number(x, u);
        set(&mut d, "deadband", v);
        let x = c.rng.range(-1.0, 1.0);
        let v = c.number(x, u);
        set(&mut d, "calibrationOffset", v);
    }
    if c.rng.chance(10) {
        let v = c.datetime(zone);
        set(&mut d, "lastWrite", v);
        set(
            &mut d,
            "writeWho",
            *c.rng.pick(&["admin", "scheduler", "optimizer"]),
        );
    }
    if c.rng.chance(5) {
        set(&mut d, "stale", Value::Marker);
    }
    if c.rng.chance(7) {
        set(
            &mut d,
            "meterRef",
            Ref::with_dis(format!("e.{}", c.rng.below(100)), "Main Meter"),
        );
        set(&mut d, "meterScale", 10f64.powi(c.rng.below(4) as i32));
    }
    if c.rng.chance(9) {
        set(
            &mut d,
            "desc",
            format!(
                "Point {n} \"{name}\" added by commissioning: see sheet {}",
                c.rng.below(99)
            ),
        );
    }
    if c.rng.chance(15) {
        set(&mut d, "trend", Value::Marker);
        set(&mut d, "hisCollectInterval", c.rng.range(1.0, 15.0).round());
    }
    if c.rng.chance(25) {
        let v = c.datetime(zone);
        set(&mut d, "hisStart", v);
        let v = c.datetime(zone);
        set(&mut d, "hisEnd", v);
        set(&mut d, "hisSize", c.rng.below(1_000_000) as f64);
    }
    let m = c.datetime(zone);
    set(&mut d, "mod", m);
    d
}

/// A deterministic grid of `rows` Haystack entities: roughly one site per 250 rows, one equip
/// per 12 rows, the rest points. Rows are sparse over about 120 columns and include refs with
/// display names, numbers with units, datetimes in several timezones, dates, coordinates and
/// many markers, like a real building's database.
pub fn realistic_grid(rows: usize) -> Grid {
    let mut c = Ctx {
        rng: Rng(0x5EED_1234_ABCD_0042),
        base: OffsetDateTime::from_unix_timestamp(1_700_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        units: Vec::new(),
    };
    let mut dicts: Vec<Dict> = Vec::with_capacity(rows);
    let mut site_ref: Option<(Ref, usize)> = None;
    let mut equip_ref: Option<Ref> = None;
    let (mut sites, mut equips) = (0usize, 0usize);
    for i in 0..rows {
        let need_site = site_ref.is_none() || i % 250 == 0;
        if need_site {
            let (d, id, zone) = site(&mut c, sites);
            sites += 1;
            site_ref = Some((id, zone));
            equip_ref = None;
            dicts.push(d);
            continue;
        }
        let Some((s, zone)) = site_ref.clone() else {
            continue;
        };
        match &equip_ref {
            Some(e) if i % 12 != 0 => {
                let e = e.clone();
                dicts.push(point(&mut c, i, &s, &e, zone));
            }
            _ => {
                let (d, id) = equip(&mut c, equips, &s, zone);
                equips += 1;
                equip_ref = Some(id);
                dicts.push(d);
            }
        }
    }
    let mut grid = Grid::from_dicts(&dicts);
    grid.meta_mut()
        .insert_valid(Arc::from("ver"), Value::from("3.0"));
    grid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let g = realistic_grid(3000);
        assert_eq!(g.len(), 3000);
        assert!((100..=140).contains(&g.cols().len()), "{}", g.cols().len());
        let sites = g.rows().filter(|r| r.has("site")).count();
        let equips = g.rows().filter(|r| r.has("equip")).count();
        assert_eq!(sites, 12);
        assert!((200..300).contains(&equips), "{equips}");
        let with_unit = g
            .rows()
            .filter(|r| matches!(r.get("curVal"), Some(Value::Number(n)) if n.unit().is_some()))
            .count();
        assert!(with_unit > 1000, "{with_unit}");
        let ids = g.id_index();
        assert_eq!(ids.len(), 3000);
        // Every equipRef points at an equip of the grid.
        for r in g.rows() {
            if let Some(Value::Ref(e)) = r.get("equipRef") {
                assert!(ids.contains_key(e.id()));
            }
        }
    }
}
