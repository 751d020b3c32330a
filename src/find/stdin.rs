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
    scan.swept = true;
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
    Ok(from_utf16(&bytes).unwrap_or(bytes))
}

/// A stream in UTF-16 with a byte-order mark (what Windows PowerShell 5 pipes between
/// programs) as UTF-8, so it is read like any other; `None` for any other stream. A stream
/// that is not valid UTF-16 keeps its bytes (and is judged as binary data).
fn from_utf16(bytes: &[u8]) -> Option<Vec<u8>> {
    let big_endian = match bytes.get(..2)? {
        [0xFF, 0xFE] => false,
        [0xFE, 0xFF] => true,
        _ => return None,
    };
    let units = bytes[2..].chunks_exact(2).map(|pair| {
        let pair = [pair[0], pair[1]];
        if big_endian {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        }
    });
    let text: String = char::decode_utf16(units).collect::<Result<_, _>>().ok()?;
    Some(text.into_bytes())
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
    fn a_utf16_stream_with_a_byte_order_mark_is_read_as_utf8() {
        let text = "kind: List\nitems: []\n";
        let little: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let big: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(from_utf16(&little).as_deref(), Some(text.as_bytes()));
        assert_eq!(from_utf16(&big).as_deref(), Some(text.as_bytes()));
        assert_eq!(from_utf16(text.as_bytes()), None);
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
