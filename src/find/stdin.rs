//! Live state on standard input: `-` as a path reads one stream (`kubectl get … -o yaml`,
//! `aws ecs describe-task-definition`, `docker inspect`) and scans it like a file of its
//! format, so live objects are judged without any cloud SDK inside rekey. A stream is never
//! rewritten: only `scan`, `check` and `inventory` read one. Its format is YAML or JSON, as
//! `--stdin-format` says or, by default, sniffed from its first character.

use crate::error::Error;
use crate::find::formats::live::{self, Live};
use crate::find::scan::{self, Scan};
use crate::find::walk::{self, Candidate};
use std::path::PathBuf;

/// How reports name the stream.
pub const DISPLAY: &str = "-";

/// The format of a stream on standard input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamFormat {
    Yaml,
    Json,
}

impl StreamFormat {
    /// JSON when the first character that is not blank opens an object or an array (what
    /// `aws` and `docker inspect` print), YAML otherwise (what `kubectl -o yaml` prints).
    pub fn sniff(bytes: &[u8]) -> StreamFormat {
        let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
        match text.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b'[') => StreamFormat::Json,
            _ => StreamFormat::Yaml,
        }
    }

    /// The name the scanner is picked by. Kubernetes objects as JSON (`kubectl … -o json`)
    /// are read by the YAML scanner, which understands Secrets and workloads (JSON is YAML).
    fn scanner_name(self, bytes: &[u8]) -> &'static str {
        match self {
            StreamFormat::Json if !is_kubernetes_json(bytes) => "stdin.json",
            _ => "stdin.yaml",
        }
    }
}

fn is_kubernetes_json(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    memchr::memmem::find(head, b"\"apiVersion\"").is_some()
}

/// Scans a stream read from standard input. The stream holds no key name: an empty scan
/// that still counts one input looked at.
pub fn scan(bytes: &[u8], format: Option<StreamFormat>) -> Scan {
    let format = format.unwrap_or_else(|| StreamFormat::sniff(bytes));
    let path = PathBuf::from(format.scanner_name(bytes));
    let (candidate, mut strays) = walk::judge(&path, || DISPLAY.to_owned(), bytes, walk::Sweep::On);
    let budget = scan::Budget::default();
    let mut scan = match candidate {
        Candidate::Parse(file) => {
            Scan::collect(vec![budget.scan_file(file, &mut strays)], Vec::new())
        }
        Candidate::Unjudged(skipped) => Scan::collect(Vec::new(), vec![skipped]),
        Candidate::Nothing => Scan::default(),
    };
    budget.keep_strays(&mut strays);
    scan.files_seen = 1;
    scan.strays = strays;
    budget.settle(&mut scan, DISPLAY);
    scan
}

/// What a live stream says beyond its sites (see [`live`]): read as YAML, which JSON is.
pub fn live(bytes: &[u8]) -> Live {
    let text = String::from_utf8_lossy(bytes);
    live::read(text.strip_prefix('\u{feff}').unwrap_or(&text))
}

/// Reads all of standard input, refusing more than rekey parses in one file.
pub fn read() -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(walk::MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("-: cannot read standard input: {e}"))?;
    if bytes.len() as u64 > walk::MAX_FILE_SIZE {
        return Err(Error::new(format!(
            "-: standard input is over the {} MiB rekey parses: narrow the query (one namespace, one task definition)",
            walk::MAX_FILE_SIZE / (1024 * 1024)
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_reads_the_first_character() {
        assert_eq!(
            StreamFormat::sniff(b"  \n[{\"Id\": 1}]"),
            StreamFormat::Json
        );
        assert_eq!(
            StreamFormat::sniff(b"{\"taskDefinition\": {}}"),
            StreamFormat::Json
        );
        assert_eq!(
            StreamFormat::sniff(b"apiVersion: v1\nkind: List\n"),
            StreamFormat::Yaml
        );
        assert_eq!(StreamFormat::sniff(b""), StreamFormat::Yaml);
    }

    #[test]
    fn kubernetes_json_is_read_by_the_yaml_scanner() {
        let json = br#"{"apiVersion": "v1", "kind": "List", "items": []}"#;
        assert_eq!(StreamFormat::Json.scanner_name(json), "stdin.yaml");
        assert_eq!(
            StreamFormat::Json.scanner_name(b"[{\"Config\": {}}]"),
            "stdin.json"
        );
    }
}
