//! Every filter the parser accepts evaluates over a small site database, never panics, and the
//! three evaluators agree: the compiled filter over the grid's rows (`Filter::select` with a
//! `GridIndex` resolver), the dict evaluator with the same resolver, and the dict evaluator with
//! a `HashMap` resolver. The database has ref cycles (`->` paths must end), refs to nothing,
//! nested dicts, numbers with and without units, and dateTimes in several timezones.
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use haystack_core::filter::{Filter, GridIndex};
use haystack_core::{Dict, Grid, Value};
use libfuzzer_sys::fuzz_target;

const SITE: &str = r#"[
{id:@s1 dis:"Site One" site area:1000ft² tz:"New_York" geoCity:"Richmond" on:T start:2020-01-01T00:00:00-05:00 New_York day:2020-01-01 nested:{a:1 b:"x"} tags:[1,2,"a"] uri:`http://x/`},
{id:@s2 site next:@s1 area:20000ft² tz:"Chicago" geoCity:"Chicago" on:F start:2020-01-01T05:00:00Z UTC day:2021-06-30},
{id:@e1 dis:"AHU-1" equip siteRef:@s1 next:@e2 on:T nested:{siteRef:@s2}},
{id:@e2 dis:"AHU-2" equip siteRef:@s2 equipRef:@e1 next:@e1},
{id:@p1 dis:"Zone Temp" point his siteRef:@s1 equipRef:@e1 curVal:72.5°F unit:"°F" kind:"Number" tz:"New_York" start:2020-01-01T00:00:00Z UTC},
{id:@p2 dis:"Fan" point siteRef:@s2 equipRef:@e2 next:@missing curVal:F kind:"Bool" tz:"Chicago" on:T},
{id:@p3 dis:"Humidity" point his siteRef:@s1 equipRef:@e1 next:@p3 curVal:45% unit:"%" kind:"Number" tz:"New_York"},
{dis:"no id" siteRef:@s1 curVal:NaN kind:"Str" geoCity:"Richmond" day:2020-01-01}
]"#;

struct Db {
    grid: Grid,
    by_id: HashMap<String, Dict>,
    rows: Vec<Dict>,
}

fn db() -> &'static Db {
    static DB: OnceLock<Db> = OnceLock::new();
    DB.get_or_init(|| {
        let dicts: Vec<Dict> = match haystack_zinc::value_from_str(SITE) {
            Ok(Value::List(items)) => items
                .into_iter()
                .filter_map(|v| match v {
                    Value::Dict(d) => Some(d),
                    _ => None,
                })
                .collect(),
            other => panic!("the fuzz database does not read: {other:?}"),
        };
        let grid = Grid::from_dicts(dicts.iter());
        let rows = grid.to_dicts();
        let by_id = rows
            .iter()
            .filter_map(|d| match d.get("id") {
                Some(Value::Ref(r)) => Some((r.id().to_owned(), d.clone())),
                _ => None,
            })
            .collect();
        Db { grid, by_id, rows }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(filter) = Filter::parse(text) else {
        return;
    };
    let db = db();
    let index = GridIndex::new(&db.grid);
    let compiled = filter.select(&db.grid, &index);
    let by_index: Vec<usize> = (0..db.rows.len())
        .filter(|&i| filter.matches_with(&db.rows[i], &index))
        .collect();
    let by_map: Vec<usize> = (0..db.rows.len())
        .filter(|&i| filter.matches_with(&db.rows[i], &db.by_id))
        .collect();
    assert_eq!(
        compiled, by_index,
        "compiled and dict evaluation disagree on {filter}"
    );
    assert_eq!(
        by_index, by_map,
        "GridIndex and HashMap resolvers disagree on {filter}"
    );
});
