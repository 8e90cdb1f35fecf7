//! A sample site of its own, so the server shows something the first time it runs: a few
//! sites, their equipment and points, each point with a day of 15-minute history.

use haystack_core::timezone::Tz;
use haystack_core::{Coord, DateTime, Dict, Grid, Number, Ref, Value};
use time::{Duration, OffsetDateTime};

/// The sample: the entity grid and, per `hisURI`, its his grid.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Sites, equips and points.
    pub entities: Grid,
    /// `(hisURI, his grid)` for every point.
    pub series: Vec<(String, Grid)>,
}

const SITES: [(&str, &str, &str, f64, f64); 3] = [
    ("hq", "Headquarters", "New_York", 40.7128, -74.006),
    ("lab", "Research Lab", "Chicago", 41.8781, -87.6298),
    ("depot", "Depot", "Los_Angeles", 34.0522, -118.2437),
];

const POINTS: [(&str, &str, &str); 3] = [
    ("dat", "Discharge Air Temp", "°F"),
    ("fan", "Fan Power", "kW"),
    ("occ", "Occupancy", ""),
];

fn tag(d: &mut Dict, name: &str, value: impl Into<Value>) {
    // Tag names here are constants known to be valid.
    let _ = d.insert(name, value);
}

fn reference(id: &str, dis: &str) -> Ref {
    Ref::with_dis(id, dis)
}

/// Builds the sample with history ending at `end` (points every 15 minutes for 24 hours).
pub fn generate(end: OffsetDateTime) -> Sample {
    let mut entities = Vec::new();
    let mut series = Vec::new();
    for (s, (site_id, site_dis, tz_name, lat, lng)) in SITES.iter().enumerate() {
        let site_ref = reference(site_id, site_dis);
        let mut site = Dict::new();
        tag(&mut site, "id", site_ref.clone());
        tag(&mut site, "dis", *site_dis);
        tag(&mut site, "site", Value::Marker);
        tag(&mut site, "tz", *tz_name);
        tag(
            &mut site,
            "area",
            Number::with_unit(10_000.0 * (s as f64 + 1.0), "ft²"),
        );
        if let Ok(c) = Coord::new(*lat, *lng) {
            tag(&mut site, "geoCoord", c);
        }
        entities.push(site);
        for e in 0..2 {
            let equip_id = format!("{site_id}.ahu{}", e + 1);
            let equip_dis = format!("{site_dis} AHU-{}", e + 1);
            let equip_ref = reference(&equip_id, &equip_dis);
            let mut equip = Dict::new();
            tag(&mut equip, "id", equip_ref.clone());
            tag(&mut equip, "dis", equip_dis.as_str());
            tag(&mut equip, "equip", Value::Marker);
            tag(&mut equip, "ahu", Value::Marker);
            tag(&mut equip, "siteRef", site_ref.clone());
            entities.push(equip);
            for (p, (kind, dis, unit)) in POINTS.iter().enumerate() {
                let point_id = format!("{equip_id}.{kind}");
                let his_uri = format!("his/{point_id}.zinc");
                let mut point = Dict::new();
                tag(
                    &mut point,
                    "id",
                    reference(&point_id, &format!("{equip_dis} {dis}")),
                );
                tag(&mut point, "dis", *dis);
                tag(&mut point, "point", Value::Marker);
                tag(&mut point, "his", Value::Marker);
                tag(&mut point, "sensor", Value::Marker);
                tag(&mut point, kind, Value::Marker);
                tag(
                    &mut point,
                    "kind",
                    if unit.is_empty() { "Bool" } else { "Number" },
                );
                if !unit.is_empty() {
                    tag(&mut point, "unit", *unit);
                }
                tag(&mut point, "tz", *tz_name);
                tag(&mut point, "equipRef", equip_ref.clone());
                tag(&mut point, "siteRef", site_ref.clone());
                tag(&mut point, "hisURI", Value::Uri((*his_uri).into()));
                entities.push(point);
                series.push((his_uri, history(end, tz_name, s * 10 + e * 3 + p, unit)));
            }
        }
    }
    Sample {
        entities: Grid::from_dicts(entities.iter()),
        series,
    }
}

fn history(end: OffsetDateTime, tz_name: &str, seed: usize, unit: &str) -> Grid {
    let tz = Tz::from_haystack(tz_name).ok();
    let mut rows = Vec::new();
    let step = Duration::minutes(15);
    let start = end - Duration::hours(24);
    let mut t = start;
    let mut i = 0usize;
    while t < end {
        let ts = match tz.and_then(|tz| tz.datetime(t).ok()) {
            Some(dt) => dt,
            None => DateTime::utc(t),
        };
        let val = if unit.is_empty() {
            Value::Bool(!(i / 16 + seed).is_multiple_of(3))
        } else {
            let x = (i as f64 / 96.0 * std::f64::consts::TAU + seed as f64).sin();
            let v = ((50.0 + 20.0 * x) * 10.0).round() / 10.0;
            Value::Number(Number::with_unit(v, unit))
        };
        let mut d = Dict::new();
        tag(&mut d, "ts", ts);
        tag(&mut d, "val", val);
        rows.push(d);
        t += step;
        i += 1;
    }
    Grid::from_dicts(rows.iter())
}

/// Writes the sample as `site.zinc` and `his/*.zinc` under `dir`; returns the path of
/// `site.zinc`.
pub fn write_to(dir: &std::path::Path, sample: &Sample) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir.join("his"))?;
    let site = dir.join("site.zinc");
    std::fs::write(&site, haystack_zinc::to_string(&sample.entities))?;
    for (uri, grid) in &sample.series {
        std::fs::write(dir.join(uri), haystack_zinc::to_string(grid))?;
    }
    Ok(site)
}

/// The cities of [`campus`] sites: site `i` is in `CITIES[i % CITIES.len()]`.
pub const CITIES: [&str; 10] = [
    "Paris", "Tokyo", "New York", "London", "Berlin", "Sydney", "Chicago", "Madrid", "Toronto",
    "Seoul",
];

/// Equips per [`campus`] site.
pub const EQUIPS_PER_SITE: usize = 20;

/// The points of every [`campus`] equip: (kind marker, display name, unit).
const CAMPUS_POINTS: [(&str, &str, &str); 9] = [
    ("discharge", "Discharge Air Temp", "°F"),
    ("return", "Return Air Temp", "°F"),
    ("zone", "Zone Temp", "°F"),
    ("power", "Fan Power", "kW"),
    ("fan", "Fan Speed", "%"),
    ("damper", "Damper Position", "%"),
    ("valve", "Valve Position", "%"),
    ("flow", "Air Flow", "cfm"),
    ("pressure", "Static Pressure", "inH₂O"),
];

/// A large generated database for benchmarks: `sites` sites (`@s0`, `@s1`, ...) in
/// [`CITIES`] in turn, [`EQUIPS_PER_SITE`] equips each (`@e0`, ...: AHUs and VAVs) and 9
/// points per equip (`@p0`, ...) with a `curVal` (Fahrenheit temperatures between 50 and
/// 100, and powers, percentages, flows, pressures), `siteRef` and `equipRef`. 500 sites make
/// 100,500 entities. The same `sites` always gives the same grid.
pub fn campus(sites: usize) -> Grid {
    let mut rows = Vec::with_capacity(sites.saturating_mul(1 + EQUIPS_PER_SITE * 10));
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        // xorshift64*: deterministic, and good enough for benchmark values.
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        (rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut equip_no, mut point_no) = (0usize, 0usize);
    for s in 0..sites {
        let city = CITIES[s % CITIES.len()];
        let site_ref = reference(&format!("s{s}"), &format!("Site {s}"));
        let mut site = Dict::new();
        tag(&mut site, "id", site_ref.clone());
        tag(&mut site, "dis", format!("Site {s}"));
        tag(&mut site, "site", Value::Marker);
        tag(&mut site, "geoCity", city);
        tag(&mut site, "tz", "UTC");
        let area = (5_000.0 + 245_000.0 * next()).round();
        tag(&mut site, "area", Number::with_unit(area, "ft²"));
        rows.push(site);
        for e in 0..EQUIPS_PER_SITE {
            let kind = if e % 4 == 0 { "ahu" } else { "vav" };
            let equip_ref = reference(&format!("e{equip_no}"), &format!("Site {s} {kind} {e}"));
            equip_no += 1;
            let mut equip = Dict::new();
            tag(&mut equip, "id", equip_ref.clone());
            tag(&mut equip, "dis", format!("Site {s} {kind} {e}"));
            tag(&mut equip, "equip", Value::Marker);
            tag(&mut equip, kind, Value::Marker);
            tag(&mut equip, "siteRef", site_ref.clone());
            rows.push(equip);
            for (marker, dis, unit) in CAMPUS_POINTS {
                let mut point = Dict::new();
                tag(&mut point, "id", reference(&format!("p{point_no}"), dis));
                point_no += 1;
                tag(&mut point, "dis", dis);
                tag(&mut point, "point", Value::Marker);
                tag(&mut point, "his", Value::Marker);
                tag(&mut point, "sensor", Value::Marker);
                tag(&mut point, marker, Value::Marker);
                tag(&mut point, "kind", "Number");
                tag(&mut point, "unit", unit);
                let value = match unit {
                    "°F" => 50.0 + 50.0 * next(),
                    "kW" => 20.0 * next(),
                    "cfm" => 2_000.0 * next(),
                    "inH₂O" => 2.0 * next(),
                    _ => 100.0 * next(),
                };
                let value = (value * 10.0).round() / 10.0;
                tag(&mut point, "curVal", Number::with_unit(value, unit));
                tag(&mut point, "tz", "UTC");
                tag(&mut point, "siteRef", site_ref.clone());
                tag(&mut point, "equipRef", equip_ref.clone());
                rows.push(point);
            }
        }
    }
    Grid::from_dicts(rows.iter())
}
