//! Inputs the fuzz targets in `fuzz/` found, each read as it must be now.

use haystack_core::filter::Filter;
use haystack_core::zinc::read_scalar;

/// Number literals past f64's range read as INF and lost their unit on the way back out
/// (`2E2000G` read as INF with unit `G` and was written `INF`): they are errors now, with where.
#[test]
fn number_literals_out_of_range_are_errors() {
    for text in [
        "2E2000G",
        "1.2789012568e2170e_______",
        "-1e400",
        "2e410uuuu",
    ] {
        let err = read_scalar(text).expect_err(text);
        assert!(
            err.to_string().contains("out of range") && err.to_string().contains("column 1"),
            "{text}: {err}"
        );
    }
    assert!(Filter::parse("x!=1.5e777kW").is_err());
    // The largest finite values and the INF literal still read.
    assert_eq!(
        read_scalar("1.7976931348623157e308").unwrap().to_string(),
        "1.7976931348623157e308"
    );
    assert_eq!(read_scalar("INF").unwrap().to_string(), "INF");
    assert_eq!(read_scalar("-INF").unwrap().to_string(), "-INF");
}
