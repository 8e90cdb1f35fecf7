//! The Haystack file formats the programs read and write: Zinc, JSON v4 ("Hayson"), JSON v3,
//! Trio and CSV (export only), chosen by name, file extension or HTTP media type.

use std::fmt;

use haystack_core::json::{self, Version};
use haystack_core::{Dict, Grid, Value};

/// A Haystack file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Zinc 3.0 (`text/zinc`).
    Zinc,
    /// JSON v4, "Hayson" (`application/json`).
    Json,
    /// JSON v3 with `m:`, `n:`, `r:` ... prefixes.
    Json3,
    /// Trio (`text/trio`), a list of records.
    Trio,
    /// CSV (`text/csv`), export only.
    Csv,
}

/// Errors reading or writing a format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Zinc or Trio text did not parse.
    #[error(transparent)]
    Zinc(#[from] haystack_zinc::Error),
    /// JSON did not parse, or a value is not valid Haystack.
    #[error(transparent)]
    Core(#[from] haystack_core::Error),
    /// The format cannot do what was asked (e.g. read CSV).
    #[error("{0}")]
    Unsupported(String),
}

impl Format {
    /// Every format, for help texts.
    pub const ALL: [Format; 5] = [
        Format::Zinc,
        Format::Json,
        Format::Json3,
        Format::Trio,
        Format::Csv,
    ];

    /// The format a name such as `zinc`, `json`, `json3`, `trio` or `csv` names.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name.to_ascii_lowercase().as_str() {
            "zinc" => Format::Zinc,
            "json" | "json4" | "hayson" => Format::Json,
            "json3" => Format::Json3,
            "trio" => Format::Trio,
            "csv" => Format::Csv,
            _ => return None,
        })
    }

    /// The format a file name's extension names (`.zinc`, `.json`, `.trio`, `.csv`).
    pub fn from_path(path: &str) -> Option<Format> {
        let ext = path.rsplit_once('.')?.1;
        match ext.to_ascii_lowercase().as_str() {
            "zinc" => Some(Format::Zinc),
            "json" | "hayson" => Some(Format::Json),
            "trio" => Some(Format::Trio),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// The format's short name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Zinc => "zinc",
            Format::Json => "json",
            Format::Json3 => "json3",
            Format::Trio => "trio",
            Format::Csv => "csv",
        }
    }

    /// The HTTP media type.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Zinc => "text/zinc",
            Format::Json | Format::Json3 => "application/json",
            Format::Trio => "text/trio",
            Format::Csv => "text/csv",
        }
    }

    /// Reads a grid. Trio records become the rows of a grid.
    pub fn read_grid(self, text: &str) -> Result<Grid, FormatError> {
        match self {
            Format::Zinc => Ok(haystack_zinc::from_str(text)?),
            Format::Json | Format::Json3 => {
                let version = if self == Format::Json {
                    Version::V4
                } else {
                    Version::V3
                };
                match json::from_slice(text.as_bytes(), version)? {
                    Value::Grid(g) => Ok(*g),
                    Value::List(items) => dicts_to_grid(items),
                    Value::Dict(d) => Ok(Grid::from_dicts([&d])),
                    other => Err(FormatError::Unsupported(format!(
                        "expected a grid, found a {}",
                        other.kind()
                    ))),
                }
            }
            Format::Trio => {
                let records = haystack_zinc::trio::from_str(text)?;
                Ok(Grid::from_dicts(records.iter()))
            }
            Format::Csv => Err(FormatError::Unsupported(
                "CSV is an export format only".into(),
            )),
        }
    }

    /// Writes a grid. Trio writes one record per row.
    pub fn write_grid(self, grid: &Grid) -> Result<String, FormatError> {
        Ok(match self {
            Format::Zinc => haystack_zinc::to_string(grid),
            Format::Json => json::to_string(&Value::Grid(Box::new(grid.clone()))),
            Format::Json3 => json::to_string_v3(&Value::Grid(Box::new(grid.clone()))),
            Format::Trio => {
                let records: Vec<Dict> = grid.rows().map(|r| r.to_dict()).collect();
                haystack_zinc::trio::to_string(&records)
            }
            Format::Csv => haystack_zinc::csv::to_string(grid),
        })
    }
}

fn dicts_to_grid(items: Vec<Value>) -> Result<Grid, FormatError> {
    let mut dicts = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Dict(d) => dicts.push(d),
            other => {
                return Err(FormatError::Unsupported(format!(
                    "expected a list of dicts, found a {}",
                    other.kind()
                )));
            }
        }
    }
    Ok(Grid::from_dicts(dicts.iter()))
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Picks the response format from an HTTP `Accept` header (Zinc when absent or `*/*`);
/// `application/json; version=3` chooses JSON v3. `None` when nothing acceptable is offered.
pub fn negotiate(accept: Option<&str>) -> Option<Format> {
    let Some(accept) = accept else {
        return Some(Format::Zinc);
    };
    let mut best: Option<(f32, Format)> = None;
    for part in accept.split(',') {
        let mut fields = part.split(';');
        let mime = fields.next().unwrap_or("").trim().to_ascii_lowercase();
        let params: Vec<&str> = fields.map(str::trim).collect();
        let q = params
            .iter()
            .filter_map(|f| f.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let json_v3 = params.iter().any(|p| p.replace(' ', "") == "version=3");
        let format = match mime.as_str() {
            "text/zinc" | "*/*" | "text/*" | "text/plain" => Format::Zinc,
            "application/json" | "application/*" => {
                if json_v3 {
                    Format::Json3
                } else {
                    Format::Json
                }
            }
            "text/trio" => Format::Trio,
            "text/csv" => Format::Csv,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, format));
        }
    }
    best.map(|(_, f)| f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None), Some(Format::Zinc));
        assert_eq!(negotiate(Some("application/json")), Some(Format::Json));
        assert_eq!(
            negotiate(Some("application/json; version=3")),
            Some(Format::Json3)
        );
        assert_eq!(
            negotiate(Some("text/csv;q=0.5, text/trio")),
            Some(Format::Trio)
        );
        assert_eq!(negotiate(Some("image/png")), None);
        assert_eq!(Format::from_path("site.TRIO"), Some(Format::Trio));
        assert_eq!(Format::from_name("json3"), Some(Format::Json3));
    }
}
