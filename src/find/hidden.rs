//! Tokens the plain sweep cannot see as they stand: under the base64 (and gzip or zlib)
//! layers of YAML and JSON files that may be Secrets, ConfigMaps' `binaryData` or Helm
//! releases; split by a `\` line continuation in shell scripts and Dockerfiles; typed as
//! a symlink's target. `walk::judge` adds them to what the sweep found, each where it
//! starts in the file, at the cost of a SIMD search only in the files that may hold one.

use crate::find::formats::Format;
use crate::find::layers;
use crate::find::sweep::{self, Stray};
use crate::model::fs::display_path;
use crate::model::token::Fingerprint;
use std::path::Path;
use std::sync::LazyLock;

/// A symlink is never followed, but its target is text of the tree (git commits it as a
/// blob): a token typed as the target is swept as the link's content, as `--staged` does.
pub(super) fn symlink_target_strays(path: &Path, cwd: &Path) -> Vec<Stray> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(target) = std::fs::read_link(path) else {
        return Vec::new();
    };
    let bytes = target.as_os_str().as_bytes();
    let found = sweep::find(bytes);
    if found.is_empty() {
        return Vec::new();
    }
    sweep::located(&display_path(path, cwd), bytes, found)
}

/// Words that stand in the objects that keep whole files in base64: a Kubernetes Secret
/// (`data`), a ConfigMap's `binaryData`, a Helm release. Only a file holding one has its
/// layers opened, so a tree of source files pays one SIMD search per file. A ConfigMap's
/// `data` holds text, which the sweep reads as it stands: `ConfigMap` alone is not one of
/// them (a tree of ConfigMaps would pay for opening layers it does not have).
/// One memmem search per word: faster than one automaton over all three, whose first
/// bytes are common letters.
static LAYER_MARKERS: LazyLock<[memchr::memmem::Finder<'static>; 3]> =
    LazyLock::new(|| ["Secret", "binaryData", "release"].map(memchr::memmem::Finder::new));

/// Whether a file may keep whole files in base64: a YAML or JSON file (what Kubernetes
/// objects and Helm releases are written in, known by its name before any byte is
/// searched) holding one of the [`LAYER_MARKERS`].
pub(super) fn may_hold_layers(path: &Path, bytes: &[u8]) -> bool {
    let name = file_name(path);
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|extension| ends_with_ignoring_case(name, extension))
        && LAYER_MARKERS
            .iter()
            .any(|finder| finder.find(bytes).is_some())
}

/// Adds to what the sweep found in text the tokens under its base64, gzip and zlib layers
/// (see `layers`), each where its outer layer starts (a layer that is itself a token is
/// the sweep's find, kept once), in order.
pub(super) fn add_layers(bytes: &[u8], found: &mut Vec<(std::ops::Range<usize>, Fingerprint)>) {
    let hidden = layers::open(bytes).found;
    if !hidden.is_empty() {
        found.extend(hidden);
        found.sort_by_key(|(span, _)| (span.start, span.end));
    }
}

/// Whether a shell script or Dockerfile continues a line with `\` + newline, which the
/// shell and `docker build` remove: a token split there is still one token.
pub(super) fn may_continue_lines(path: &Path, bytes: &[u8]) -> bool {
    let name = file_name(path);
    let shell = [".sh", ".bash"]
        .iter()
        .any(|extension| ends_with_ignoring_case(name, extension));
    // A Dockerfile's many spellings are the format's to tell, asked only of likely names.
    let dockerfile = || {
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        (lower.contains("dockerfile") || lower.contains("containerfile"))
            && Format::detect(path, "") == Some(Format::Dockerfile)
    };
    (shell || dockerfile())
        && memchr::memchr_iter(b'\\', bytes)
            .any(|at| matches!(&bytes[at + 1..], [b'\n', ..] | [b'\r', b'\n', ..]))
}

/// The file name of a walked path, as bytes, found without parsing the path: asked of
/// every file the sweep reads.
fn file_name(path: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    memchr::memrchr(b'/', bytes).map_or(bytes, |slash| &bytes[slash + 1..])
}

fn ends_with_ignoring_case(name: &[u8], suffix: &str) -> bool {
    name.len() >= suffix.len()
        && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// Adds the tokens that stand across a line continuation, each where it starts in the
/// file, by sweeping the text with its continuations removed; those found as written are
/// the plain sweep's.
pub(super) fn add_continued(bytes: &[u8], found: &mut Vec<(std::ops::Range<usize>, Fingerprint)>) {
    let mut joined = Vec::with_capacity(bytes.len());
    // For each cut: where it falls in `joined`, and how many bytes were removed up to it.
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let cut = match &bytes[at..] {
            [b'\\', b'\n', ..] => 2,
            [b'\\', b'\r', b'\n', ..] => 3,
            _ => 0,
        };
        if cut > 0 {
            let removed = cuts.last().map_or(0, |&(_, removed)| removed) + cut;
            cuts.push((joined.len(), removed));
            at += cut;
        } else {
            joined.push(bytes[at]);
            at += 1;
        }
    }
    let original = |offset: usize| {
        let before = cuts.partition_point(|&(cut, _)| cut <= offset);
        offset + before.checked_sub(1).map_or(0, |i| cuts[i].1)
    };
    let mut added = false;
    for (span, fingerprint) in sweep::find(&joined) {
        let next = cuts.partition_point(|&(cut, _)| cut <= span.start);
        let crosses = cuts.get(next).is_some_and(|&(cut, _)| cut < span.end);
        if crosses {
            found.push((
                original(span.start)..original(span.end - 1) + 1,
                fingerprint,
            ));
            added = true;
        }
    }
    if added {
        found.sort_by_key(|(span, _)| (span.start, span.end));
    }
}

/// Whether the bytes are a live stream on standard input (which `stdin` names `-` and
/// judges as `stdin.yaml` or `stdin.json`, names no file has together): its layers are
/// opened by `check --ready-to-revoke` itself, which names them as layers, not twice.
pub(super) fn is_stream(path: &Path, display: &str) -> bool {
    display == "-" && (path == Path::new("stdin.yaml") || path == Path::new("stdin.json"))
}
