//! The reader's shortcuts for common cells (empty cells, bare markers, cells repeated from the
//! row above, refs shared through the interner) give the same grids and errors as the general
//! path, whole and streaming.

use haystack_core::{GridBuilder, Number, Ref, Value};
use haystack_zinc::{GridReader, from_str};

/// Reads `zinc` whole and streaming and checks that both agree.
fn read_both(zinc: &str) -> Result<haystack_core::Grid, String> {
    let whole = from_str(zinc).map_err(|e| e.to_string());
    let streamed = GridReader::new(zinc.as_bytes())
        .and_then(|r| r.into_grid())
        .map_err(|e| e.to_string());
    assert_eq!(whole, streamed, "whole and streaming disagree on {zinc:?}");
    whole
}

fn grid(cols: &[&str], rows: Vec<Vec<Value>>) -> haystack_core::Grid {
    let mut b = GridBuilder::new();
    for c in cols {
        b = b.col(*c);
    }
    b.rows(rows).build().unwrap()
}

#[test]
fn empty_cells_anywhere_in_a_row_are_null() {
    let m = || Value::Marker;
    let cases: Vec<(&str, Vec<Vec<Value>>)> = vec![
        (
            "ver:\"3.0\"\na,b,c,d\n,,,\n",
            vec![vec![Value::Null, Value::Null, Value::Null, Value::Null]],
        ),
        (
            "ver:\"3.0\"\na,b,c,d\nM,,,M\n,M,M,\n",
            vec![
                vec![m(), Value::Null, Value::Null, m()],
                vec![Value::Null, m(), m(), Value::Null],
            ],
        ),
        (
            "ver:\"3.0\"\na,b,c,d\n , ,M , \r\n,\t,,M\r\n",
            vec![
                vec![Value::Null, Value::Null, m(), Value::Null],
                vec![Value::Null, Value::Null, Value::Null, m()],
            ],
        ),
        (
            "ver:\"3.0\"\na,b,c,d\nM,,,M\rM,,,M",
            vec![
                vec![m(), Value::Null, Value::Null, m()],
                vec![m(), Value::Null, Value::Null, m()],
            ],
        ),
        (
            "ver:\"3.0\"\na,b\n1,\n,2\n1,\n",
            vec![
                vec![Value::from(1.0), Value::Null],
                vec![Value::Null, Value::from(2.0)],
                vec![Value::from(1.0), Value::Null],
            ],
        ),
    ];
    for (zinc, rows) in cases {
        let want = grid(&["a", "b", "c", "d"][..rows[0].len()], rows);
        assert_eq!(read_both(zinc), Ok(want), "{zinc:?}");
    }
}

#[test]
fn a_cell_after_an_empty_one_is_not_taken_from_the_row_above() {
    // Column b is empty in row 2: row 3's `2` must not be matched against row 1's cell.
    let zinc = "ver:\"3.0\"\na,b\n1,2\n1,\n1,2\n";
    let want = grid(
        &["a", "b"],
        vec![
            vec![Value::from(1.0), Value::from(2.0)],
            vec![Value::from(1.0), Value::Null],
            vec![Value::from(1.0), Value::from(2.0)],
        ],
    );
    assert_eq!(read_both(zinc), Ok(want));
}

#[test]
fn words_that_start_with_m_are_not_markers() {
    let cases = [
        (
            "ver:\"3.0\"\na,b\nMx,\n",
            "unknown keyword 'Mx' at line 3, column 1",
        ),
        (
            "ver:\"3.0\"\na,b\nM(\"x\"),M\n",
            "", // an XStr, read below
        ),
    ];
    assert_eq!(read_both(cases[0].0), Err(cases[0].1.to_owned()));
    let g = read_both(cases[1].0).unwrap();
    let row = g.row(0).unwrap();
    assert_eq!(row.cell(0).unwrap().to_string(), "M(\"x\")");
    assert_eq!(row.cell(1), Some(&Value::Marker));
    // A marker followed by spaces is a marker too.
    let g = read_both("ver:\"3.0\"\na,b\nM  ,M \n").unwrap();
    assert_eq!(g.row(0).unwrap().len(), 2);
}

#[test]
fn too_many_or_too_few_empty_cells_are_errors() {
    assert_eq!(
        read_both("ver:\"3.0\"\na,b\n,,\n"),
        Err("row has more cells than the grid's 2 columns at line 3, column 2".to_owned())
    );
    assert_eq!(
        read_both("ver:\"3.0\"\na,b,c\n,\n"),
        Err("row has 2 cells but the grid has 3 columns at line 3, column 2".to_owned())
    );
}

#[test]
fn refs_with_display_names_keep_their_own_id_and_name() {
    let zinc = "ver:\"3.0\"\nid,siteRef\n@a \"A\",@s \"Site\"\n@b \"B\",@s \"Site\"\n@c,@s \"Other\"\n@s \"Site\",@s\n";
    let g = read_both(zinc).unwrap();
    let refs: Vec<(String, Option<String>, String, Option<String>)> = g
        .rows()
        .map(|r| {
            let id = r.cell(0).and_then(Value::as_ref).unwrap();
            let site = r.cell(1).and_then(Value::as_ref).unwrap();
            (
                id.id().to_owned(),
                id.dis().map(str::to_owned),
                site.id().to_owned(),
                site.dis().map(str::to_owned),
            )
        })
        .collect();
    let o = |s: &str| Some(s.to_owned());
    assert_eq!(
        refs,
        vec![
            ("a".into(), o("A"), "s".into(), o("Site")),
            ("b".into(), o("B"), "s".into(), o("Site")),
            ("c".into(), None, "s".into(), o("Other")),
            ("s".into(), o("Site"), "s".into(), None),
        ]
    );
    assert_eq!(
        g.row(0).unwrap().cell(1),
        Some(&Value::Ref(Ref::with_dis("s", "Site")))
    );
}

#[test]
fn units_and_timezones_read_through_the_byte_classes() {
    let g = read_both(
        "ver:\"3.0\"\na,b,c\n1kW,-INF°F,2020-01-01T00:00:00-05:00 New_York\n2_0m/s,^a:b-c.d~e,@x.y:z-~_1\n",
    )
    .unwrap();
    let r0 = g.row(0).unwrap();
    assert_eq!(r0.cell(0), Some(&Value::from(Number::with_unit(1.0, "kW"))));
    assert_eq!(r0.cell(1).unwrap().to_string(), "-INF°F");
    assert_eq!(
        r0.cell(2).unwrap().to_string(),
        "2020-01-01T00:00:00-05:00 New_York"
    );
    let r1 = g.row(1).unwrap();
    assert_eq!(
        r1.cell(0),
        Some(&Value::from(Number::with_unit(20.0, "m/s")))
    );
    assert_eq!(r1.cell(1).unwrap().to_string(), "^a:b-c.d~e");
    assert_eq!(r1.cell(2).unwrap().to_string(), "@x.y:z-~_1");
}

#[test]
fn escaped_strings_remembered_by_source_read_the_same_each_time() {
    let long = "a\\\"b\\\\c\\$d\\u00e9\\n".repeat(3);
    let zinc = format!(
        "ver:\"3.0\"\na,b\n\"x\\$y\",\"{long}\"\n,2\n\"x\\$y\",\"{long}\"\n\"x\\$y\",\"{long}\"\n"
    );
    let g = read_both(&zinc).unwrap();
    let want_long = "a\"b\\c$dé\n".repeat(3);
    for i in [0, 2, 3] {
        let r = g.row(i).unwrap();
        assert_eq!(r.cell(0), Some(&Value::from("x$y")), "row {i}");
        assert_eq!(r.cell(1), Some(&Value::from(want_long.as_str())), "row {i}");
    }
    // A bad escape is an error where it is, also after good strings were remembered.
    assert_eq!(
        read_both("ver:\"3.0\"\na\n\"x\\$y\"\n\"x\\qy\"\n"),
        Err("invalid escape '\\q' at line 4, column 3".to_owned())
    );
    assert_eq!(
        read_both("ver:\"3.0\"\na\n\"x\\$y\"\n\"x\\\ny\"\n"),
        Err("invalid escape '\\\n' at line 4, column 3".to_owned())
    );
    assert_eq!(
        read_both("ver:\"3.0\"\na\n\"x\\$y\n"),
        Err("expected '\"' but found newline at line 3, column 6".to_owned())
    );
}

#[test]
fn runs_of_empty_cells_of_every_length_read_as_the_cells_written() {
    // Rows of 30 columns with runs of empty cells of many lengths between a few kinds of
    // cells, some repeated from the row above, from a fixed pseudo-random sequence.
    let cols: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut zinc = format!("ver:\"3.0\"\n{}\n", cols.join(","));
    let mut rows = Vec::new();
    for _ in 0..60 {
        let mut texts = Vec::new();
        let mut cells = Vec::new();
        for _ in 0..cols.len() {
            let (text, cell) = match next() % 10 {
                0 => ("M", Value::Marker),
                1 => ("\"x\"", Value::from("x")),
                2 => ("1", Value::from(1.0)),
                3 => ("@r \"R\"", Value::Ref(Ref::with_dis("r", "R"))),
                _ => ("", Value::Null),
            };
            texts.push(text);
            cells.push(cell);
        }
        zinc.push_str(&texts.join(","));
        zinc.push('\n');
        rows.push(cells);
    }
    let names: Vec<&str> = cols.iter().map(String::as_str).collect();
    let got = read_both(&zinc).unwrap();
    assert_eq!(got, grid(&names, rows.clone()));
    for (r, want) in got.rows().zip(&rows) {
        assert_eq!(&r.to_cells(), want);
    }
}
