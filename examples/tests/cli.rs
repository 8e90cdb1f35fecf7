//! Tests that run the `haystack` binary: conversions between every pair of formats, filters
//! with `->` paths, `check` on broken inputs, `diff` on two versions of the sample site,
//! standard input, errors and closed pipes.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use examples::haystack::formats::Format;
use haystack_core::filter::{Filter, GridIndex};
use haystack_core::{Dict, Grid, Value};

const BIN: &str = env!("CARGO_BIN_EXE_haystack");

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cli")
        .join(name)
}

fn kinds_zinc() -> String {
    std::fs::read_to_string(data("kinds.zinc")).unwrap()
}

fn haystack(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn haystack_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[track_caller]
fn assert_ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
}

fn rows(grid: &Grid) -> Vec<Dict> {
    grid.rows().map(|r| r.to_dict()).collect()
}

/// The rows in Zinc, which leaves out the `ver` that JSON readers keep in nested grid meta.
fn zinc_rows(grid: &Grid) -> Vec<String> {
    grid.rows()
        .map(|r| Value::Dict(r.to_dict()).to_string())
        .collect()
}

fn col_names(grid: &Grid) -> Vec<String> {
    grid.cols().iter().map(|c| c.name().to_owned()).collect()
}

fn extension(f: Format) -> &'static str {
    match f {
        Format::Zinc => "zinc",
        Format::Json => "json",
        // `.json` would mean v4: the v3 file goes through `--from json3`.
        Format::Json3 => "json3",
        Format::Trio => "trio",
        Format::Csv => "csv",
    }
}

#[test]
fn every_format_pair_converts_a_grid_of_every_kind() {
    let dir = tempfile::tempdir().unwrap();
    let original = haystack_zinc::from_str(&kinds_zinc()).unwrap();
    assert_eq!(original.len(), 3);
    let readable = [Format::Zinc, Format::Json, Format::Json3, Format::Trio];
    for from in readable {
        let src = dir.path().join(format!("kinds.{}", extension(from)));
        let made = haystack(&[
            "convert",
            "--to",
            from.name(),
            data("kinds.zinc").to_str().unwrap(),
        ]);
        assert_ok(&made);
        std::fs::write(&src, &made.stdout).unwrap();
        for to in Format::ALL {
            let o = haystack(&[
                "convert",
                "--from",
                from.name(),
                "--to",
                to.name(),
                src.to_str().unwrap(),
            ]);
            assert_ok(&o);
            let text = stdout(&o);
            if to == Format::Csv {
                // CSV drops types; it is exactly the library's CSV of the rows read.
                let read = from.read_grid(&String::from_utf8(made.stdout.clone()).unwrap());
                assert_eq!(
                    text,
                    haystack_zinc::csv::to_string(&read.unwrap()),
                    "{from} -> csv"
                );
                continue;
            }
            let back = to.read_grid(&text).unwrap();
            assert_eq!(zinc_rows(&back), zinc_rows(&original), "{from} -> {to}");
            if from != Format::Trio && to != Format::Trio {
                // Grid formats keep the columns, their order and their meta.
                assert_eq!(col_names(&back), col_names(&original), "{from} -> {to}");
                assert_eq!(back.cols()[1].dis(), "Display", "{from} -> {to}");
                assert_eq!(back.meta().get("projName"), Some(&Value::from("test")));
            }
        }
    }
}

#[test]
fn streamed_output_is_byte_for_byte_the_whole_grid_writer() {
    let grid = haystack_zinc::from_str(&kinds_zinc()).unwrap();
    for to in Format::ALL {
        let o = haystack(&[
            "convert",
            "--to",
            to.name(),
            data("kinds.zinc").to_str().unwrap(),
        ]);
        assert_ok(&o);
        assert_eq!(stdout(&o), to.write_grid(&grid).unwrap(), "{to}");
    }
    // A grid without rows or columns.
    let empty = "ver:\"3.0\" dis:\"nothing\"\nempty\n";
    let grid = haystack_zinc::from_str(empty).unwrap();
    for to in Format::ALL {
        let o = haystack_stdin(&["convert", "--to", to.name()], empty.as_bytes());
        assert_ok(&o);
        assert_eq!(stdout(&o), to.write_grid(&grid).unwrap(), "{to}");
    }
}

#[test]
fn standard_input_with_dash_without_file_and_sniffed_formats() {
    let zinc = kinds_zinc();
    let json = stdout(&haystack_stdin(
        &["convert", "--to", "json"],
        zinc.as_bytes(),
    ));
    let dashed = stdout(&haystack_stdin(
        &["convert", "--to", "json", "-"],
        zinc.as_bytes(),
    ));
    assert_eq!(json, dashed);
    assert!(json.starts_with("{\"_kind\":\"grid\""), "{json}");
    // No --from on standard input: JSON is recognised by its first bytes.
    let back = haystack_stdin(&["convert", "--to", "zinc"], json.as_bytes());
    assert_ok(&back);
    assert_eq!(stdout(&back), zinc_normalised(&zinc));
    // And Trio by not being JSON or Zinc.
    let trio = stdout(&haystack_stdin(
        &["convert", "--to", "trio"],
        zinc.as_bytes(),
    ));
    let again = haystack_stdin(&["convert", "--to", "zinc"], trio.as_bytes());
    assert_ok(&again);
    let grid = haystack_zinc::from_str(&stdout(&again)).unwrap();
    assert_eq!(grid.len(), 3);
}

fn zinc_normalised(zinc: &str) -> String {
    haystack_zinc::to_string(&haystack_zinc::from_str(zinc).unwrap())
}

fn sample_site() -> Grid {
    let end = time::macros::datetime!(2024-03-01 00:00 UTC);
    examples::haystack::sample::generate(end).entities
}

fn ids(grid: &Grid) -> Vec<String> {
    grid.rows()
        .filter_map(|r| r.id().map(|id| id.id().to_owned()))
        .collect()
}

/// The ids the library selects with the whole grid in memory.
fn expected_ids(grid: &Grid, filter: &str) -> Vec<String> {
    let f = Filter::parse(filter).unwrap();
    let index = GridIndex::new(grid);
    f.select(grid, &index)
        .into_iter()
        .filter_map(|i| {
            grid.row(i)
                .and_then(|r| r.id())
                .map(|id| id.id().to_owned())
        })
        .collect()
}

#[test]
fn filter_follows_paths_through_the_same_files_ids() {
    let dir = tempfile::tempdir().unwrap();
    let site = sample_site();
    let zinc_path = dir.path().join("site.zinc");
    std::fs::write(&zinc_path, haystack_zinc::to_string(&site)).unwrap();
    let trio_path = dir.path().join("site.trio");
    std::fs::write(&trio_path, Format::Trio.write_grid(&site).unwrap()).unwrap();
    let json_path = dir.path().join("site.json");
    std::fs::write(&json_path, Format::Json.write_grid(&site).unwrap()).unwrap();
    let filters = [
        "point and kind == \"Bool\"",
        "point and siteRef->dis == \"Research Lab\"",
        "point and equipRef->siteRef->geoCoord and equipRef->siteRef->tz != \"Chicago\"",
        "equip and siteRef->area > 15000ft²",
        "siteRef->missingTag",
    ];
    for filter in filters {
        let want = expected_ids(&site, filter);
        for path in [&zinc_path, &trio_path, &json_path] {
            let o = haystack(&["filter", filter, path.to_str().unwrap(), "--to", "zinc"]);
            assert_ok(&o);
            let got = haystack_zinc::from_str(&stdout(&o)).unwrap();
            assert_eq!(ids(&got), want, "{filter} on {}", path.display());
        }
        // Standard input, held in memory for the second pass when there are paths.
        let o = haystack_stdin(
            &["filter", filter],
            haystack_zinc::to_string(&site).as_bytes(),
        );
        assert_ok(&o);
        assert_eq!(ids(&haystack_zinc::from_str(&stdout(&o)).unwrap()), want);
    }
    assert_eq!(
        expected_ids(&site, "point and siteRef->dis == \"Research Lab\"").len(),
        6,
        "the sample has 2 AHUs with 3 points at the lab"
    );
    // Trio in, Trio out by default: the matching records.
    let o = haystack(&["filter", "site", trio_path.to_str().unwrap()]);
    assert_ok(&o);
    let recs = haystack_zinc::trio::from_str(&stdout(&o)).unwrap();
    assert_eq!(recs.len(), 3);
    assert!(recs.iter().all(|r| r.has("site")));
}

#[test]
fn check_reports_file_line_and_column_of_the_first_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 7] = [
        (
            "cols.zinc",
            b"ver:\"3.0\"\na,b\n1,2\n3,4,5\n",
            "cols.zinc:4:4: row has more cells than the grid's 2 columns",
        ),
        (
            "ver.zinc",
            b"ver:\"9.9\"\na\n1\n",
            "ver.zinc:1:5: unsupported Zinc version \"9.9\"",
        ),
        (
            "value.zinc",
            b"ver:\"3.0\"\na,b\n1,2\n3,2021-13-01\n",
            "value.zinc:4:3: invalid date '2021-13-01'",
        ),
        (
            "utf8.zinc",
            b"ver:\"3.0\"\na\n\"ok\"\n\"bad \xff\"\n",
            "utf8.zinc:4:6: invalid UTF-8",
        ),
        (
            "syntax.json",
            b"{\"_kind\":\"grid\",\n \"meta\": {\"ver\":\"3.0\"},\n \"cols\": [{\"name\": \"a\"}],\n \"rows\": [{\"a\": 1},, ]}",
            "syntax.json:4:20: invalid JSON: expected value",
        ),
        (
            "kind.json",
            b"[{\"a\": {\"_kind\": \"number\", \"val\": \"abc\"}}]",
            "kind.json:1:40: invalid JSON: invalid number: 'val' must be a number, INF, -INF or NaN",
        ),
        (
            "recs.trio",
            b"dis: \"one\"\nsite\n---\ndis: \"two\nsite\n",
            "recs.trio:4:10: expected '\"' but found end of input",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let o = Command::new(BIN)
            .current_dir(dir.path())
            .args(["check", name])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        assert_eq!(stderr(&o), format!("{want}\n"), "{name}");
        assert_eq!(stdout(&o), "");
    }
    // On standard input the name is <stdin>.
    let o = haystack_stdin(&["check"], b"ver:\"3.0\"\na,b\n1,2\n3,4,5\n");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "<stdin>:4:4: row has more cells than the grid's 2 columns\n"
    );
    // A good file.
    let o = haystack(&["check", data("kinds.zinc").to_str().unwrap()]);
    assert_ok(&o);
    assert!(
        stdout(&o).ends_with("kinds.zinc: ok (3 rows, zinc)\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn diff_two_versions_of_the_sample_site() {
    let dir = tempfile::tempdir().unwrap();
    let old = sample_site();
    let mut dicts: Vec<Dict> = rows(&old);
    // Remove the depot's second AHU occupancy point, rename a point, tag an equip, drop a
    // tag, and add a new point.
    dicts.retain(|d| d.id().map(|r| r.id()) != Some("depot.ahu2.occ"));
    for d in &mut dicts {
        match d.id().map(|r| r.id().to_owned()).as_deref() {
            Some("hq.ahu1.dat") => {
                d.insert("dis", "Supply Air Temp").unwrap();
                d.remove("sensor");
            }
            Some("lab.ahu2") => {
                d.insert("vav", Value::Marker).unwrap();
            }
            _ => {}
        }
    }
    let mut new_point = dicts
        .iter()
        .find(|d| d.id().map(|r| r.id()) == Some("hq.ahu1.fan"))
        .unwrap()
        .clone();
    new_point
        .insert("id", haystack_core::Ref::new("hq.ahu1.co2").unwrap())
        .unwrap();
    new_point.insert("dis", "CO2").unwrap();
    dicts.push(new_point);
    let new = Grid::from_dicts(dicts.iter());
    let a = dir.path().join("before.zinc");
    let b = dir.path().join("after.json");
    std::fs::write(&a, haystack_zinc::to_string(&old)).unwrap();
    std::fs::write(&b, Format::Json.write_grid(&new).unwrap()).unwrap();

    let o = haystack(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "~ @hq.ahu1.dat \"Headquarters AHU-1 Discharge Air Temp\"\n\
         \x20   dis: \"Discharge Air Temp\" -> \"Supply Air Temp\"\n\
         \x20   - sensor: M\n\
         ~ @lab.ahu2 \"Research Lab AHU-2\"\n\
         \x20   + vav: M\n\
         - @depot.ahu2.occ \"Depot AHU-2 Occupancy\"\n\
         + @hq.ahu1.co2\n\
         1 added, 1 removed, 2 changed (A: 27 entities, B: 27)\n"
    );
    // Equal files (in different formats) are equal.
    let c = dir.path().join("same.trio");
    std::fs::write(&c, Format::Trio.write_grid(&old).unwrap()).unwrap();
    let o = haystack(&["diff", a.to_str().unwrap(), c.to_str().unwrap()]);
    assert_ok(&o);
    assert_eq!(stdout(&o), "");
    // One side on standard input.
    let o = haystack_stdin(
        &["diff", a.to_str().unwrap(), "-"],
        haystack_zinc::to_string(&new).as_bytes(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("+ @hq.ahu1.co2\n"));
}

#[test]
fn errors_go_to_stderr_with_status_2_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("x.csv");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    let missing = dir.path().join("missing.zinc");
    let kinds = data("kinds.zinc");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["convert", "--to", "xml", "-"],
            "haystack: unknown format \"xml\" (expected one of: zinc, json, json3, trio, csv)\n".into(),
        ),
        (
            vec!["convert", "--to", "zinc", csv.to_str().unwrap()],
            "haystack: CSV is an export format: it cannot be read\n".into(),
        ),
        (
            vec!["convert", "--to", "json", missing.to_str().unwrap()],
            format!(
                "haystack: {}: No such file or directory (os error 2)\n",
                missing.display()
            ),
        ),
        (
            vec!["filter", "point and (", kinds.to_str().unwrap()],
            "haystack: invalid filter: expected tag name but found end of input at line 1, column 12\n"
                .into(),
        ),
        (
            vec!["diff", "-", "-"],
            "haystack: only one of A and B can be standard input\n".into(),
        ),
    ];
    for (args, want) in cases {
        let o = haystack_stdin(&args, b"");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&o), want, "{args:?}");
        assert_eq!(stdout(&o), "", "{args:?}");
    }
    // A conversion whose input breaks half way: the error names the line.
    let o = haystack_stdin(&["convert", "--to", "json"], b"ver:\"3.0\"\na\n1\n2,3\n");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "haystack: <stdin>:4:2: row has more cells than the grid's 1 columns\n"
    );
}

#[test]
fn help_for_every_command() {
    for cmd in [
        &["--help"][..],
        &["convert", "--help"],
        &["filter", "--help"],
        &["check", "--help"],
        &["diff", "--help"],
    ] {
        let o = haystack(cmd);
        assert_ok(&o);
        assert!(stdout(&o).contains("Usage: haystack"), "{cmd:?}");
    }
    let o = haystack(&["diff", "--help"]);
    assert!(stdout(&o).contains("- tag: OLD"));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    // Many rows, so the writer is still writing when the reader goes away.
    let mut zinc = String::from("ver:\"3.0\"\nid,val,dis\n");
    for i in 0..200_000 {
        zinc.push_str(&format!("@r{i},{i}kW,\"row {i}\"\n"));
    }
    let mut child = Command::new(BIN)
        .args(["convert", "--to", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(zinc.as_bytes());
    });
    let mut out = child.stdout.take().unwrap();
    let mut head = [0u8; 100];
    out.read_exact(&mut head).unwrap();
    drop(out);
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "");
    assert!(head.starts_with(b"{\"_kind\":\"grid\""));
}

#[test]
fn output_file_appears_only_when_the_command_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.zinc");
    std::fs::write(&input, kinds_zinc()).unwrap();
    let out = dir.path().join("out.json");
    let o = haystack(&[
        "convert",
        "--to",
        "json",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_ok(&o);
    assert!(o.stdout.is_empty(), "stdout: {}", stdout(&o));
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.contains("\"_kind\":\"grid\""), "{written}");
    // Same output as on standard output.
    let to_stdout = haystack(&["convert", "--to", "json", input.to_str().unwrap()]);
    assert_eq!(written, stdout(&to_stdout));

    // A failed command leaves neither the target nor a temporary file behind.
    let bad = dir.path().join("bad.zinc");
    std::fs::write(&bad, "ver:\"3.0\"\na,b\n1,2,3\n").unwrap();
    let failed_out = dir.path().join("failed.json");
    let o = haystack(&[
        "convert",
        "--to",
        "json",
        bad.to_str().unwrap(),
        "--output",
        failed_out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(&o));
    assert!(!failed_out.exists());
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["bad.zinc", "in.zinc", "out.json"]);
}

/// A grid as shaystack writes its `.hayson.json` samples: no `_kind`, column meta beside
/// `name`, draft kind names.
const SHAYSTACK: &str = r#"{"meta": {"ver": "3.0"}, "cols": [{"name": "id"}, {"name": "area", "doc": "m"}, {"name": "site"}],
 "rows": [{"id": {"_kind": "Ref", "val": "p_1", "dis": "Carytown"}, "area": {"_kind": "Num", "val": 3149.0, "unit": "ft\u00b2"},
 "site": {"_kind": "Marker"}}, {"id": {"_kind": "Ref", "val": "p_2"}}]}"#;

#[test]
fn draft_hayson_is_read_by_default_and_refused_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("carytown.hayson.json");
    std::fs::write(&path, SHAYSTACK).unwrap();
    let file = path.to_str().unwrap();
    let want = "ver:\"3.0\"\nid,area doc:\"m\",site\n@p_1 \"Carytown\",3149ft²,M\n@p_2,,\n";
    // From a file (streamed) and from standard input with a line break first.
    let o = haystack(&["convert", "--to", "zinc", file]);
    assert_ok(&o);
    assert_eq!(stdout(&o), want);
    let o = haystack_stdin(
        &["convert", "--to", "zinc"],
        format!("\n{SHAYSTACK}").as_bytes(),
    );
    assert_ok(&o);
    assert_eq!(stdout(&o), want);
    // Read whole (a list of dicts is not streamed) the draft names are read too.
    let list = r#"[{"id": {"_kind": "Ref", "val": "p_1"}, "site": {"_kind": "Marker"}}]"#;
    let o = haystack_stdin(
        &["convert", "--from", "json", "--to", "zinc"],
        list.as_bytes(),
    );
    assert_ok(&o);
    assert_eq!(stdout(&o), "ver:\"3.0\"\nid,site\n@p_1,M\n");
    let o = haystack(&["filter", "site", file, "--to", "zinc"]);
    assert_ok(&o);
    assert!(stdout(&o).contains("@p_1"), "{}", stdout(&o));
    // Strict: refused, with the file, line and column.
    let o = haystack(&["--strict", "convert", "--to", "zinc", file]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).starts_with(&format!("haystack: {file}:2:")),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("unknown _kind \"Ref\""),
        "{}",
        stderr(&o)
    );
    let o = haystack(&["check", "--strict", file]);
    assert_eq!(o.status.code(), Some(1));
    let o = haystack_stdin(
        &["convert", "--strict", "--from", "json", "--to", "zinc"],
        list.as_bytes(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown _kind \"Ref\""),
        "{}",
        stderr(&o)
    );
}
