//! File formats: which scanner reads a file (by extension, then content), and the one entry
//! point the engine calls. A new format is a new scanner module plus one arm in `Format`;
//! nothing else in the pipeline changes.

mod yaml;

use crate::site::Site;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
}

/// A file that holds a key name but could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

impl Format {
    /// The name used in reports and in `scan --format json`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
        }
    }

    /// Picks the scanner for a file, or `None` when rekey does not read that kind of file.
    pub fn detect(path: &Path, _text: &str) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }

    /// Finds every site in `text`. Scanners never edit and never print.
    pub fn scan(self, text: &str) -> Result<Vec<Site>, ParseError> {
        match self {
            Format::Yaml => yaml::scan(text),
        }
    }
}
