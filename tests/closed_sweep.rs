//! The sweep fails closed on files it does not parse (issue 19, "check on files"): a revoked
//! token in UTF-16 text, in binary data, in a PNG text chunk, across the chunks a large file
//! is read in, or in a staged UTF-16 blob, is an error-level finding of `check`; and a
//! rotation lists such a copy of the old token as left behind and never rewrites it.

mod common;

use common::*;
use std::fs;
use std::path::Path;

/// `text` in UTF-16, little- or big-endian, after a byte-order mark or not.
fn utf16(text: &str, big_endian: bool, mark: bool) -> Vec<u8> {
    let bom = mark.then_some('\u{feff}');
    bom.into_iter()
        .chain(text.chars())
        .collect::<String>()
        .encode_utf16()
        .flat_map(|unit| {
            if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            }
        })
        .collect()
}

/// A policy that revokes [`OTHER_HEX`].
fn revoking_other(root: &Path) {
    fs::write(
        root.join(".rekey.toml"),
        format!("[tokens]\nrevoked = [\"{OTHER_FINGERPRINT}\"]\n"),
    )
    .unwrap();
}

/// The findings of a `check` JSON run that exits 1, as (path, rule, level, line, column),
/// sorted; no token in what it printed.
fn failing_check(root: &Path, args: &[&str]) -> Vec<(String, String, String, u64, u64)> {
    let run = rekey(root, args);
    assert_eq!(run.status, 1, "{}\n{}", run.stdout, run.stderr);
    assert_no_token(&run.stdout, "check stdout");
    assert_no_token(&run.stderr, "check stderr");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mut found: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["rule"].as_str().unwrap().to_owned(),
                f["level"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
            )
        })
        .collect();
    found.sort();
    found
}

fn revoked(path: &str, line: u64, column: u64) -> (String, String, String, u64, u64) {
    (
        path.to_owned(),
        "revoked-token".to_owned(),
        "error".to_owned(),
        line,
        column,
    )
}

/// The four UTF-16 forms of a note holding the revoked token (hex on line 2, after a
/// non-ASCII character and a character outside the BMP, and in base64 on line 3), no key name.
fn utf16_notes(root: &Path) -> Vec<(String, String, String, u64, u64)> {
    let text = format!(
        "caf\u{e9} notes\r\nold \u{1F511} one: {OTHER_HEX}\r\nui={}\r\n",
        base64_of(OTHER_HEX)
    );
    let mut expected = Vec::new();
    for (name, big_endian, mark) in [
        ("le-bom.txt", false, true),
        ("le.txt", false, false),
        ("be-bom.txt", true, true),
        ("be.txt", true, false),
    ] {
        fs::write(root.join(name), utf16(&text, big_endian, mark)).unwrap();
        // Line and column in the decoded text: the key emoji is one character.
        expected.push(revoked(name, 2, 12));
        expected.push(revoked(name, 3, 4));
    }
    expected
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn check_finds_a_revoked_token_in_utf16_text_in_either_byte_order_with_or_without_a_bom() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    revoking_other(root);
    let mut expected = utf16_notes(root);
    expected.sort();
    assert_eq!(
        failing_check(root, &["check", "--format", "json"]),
        expected
    );
    // The text report names the file and the decoded line and column.
    let text = rekey(root, &["check"]);
    assert_eq!(text.status, 1);
    assert!(
        text.stdout.contains(&format!("le-bom.txt:2:12: error[revoked-token] a token revoked in Harness, outside any key rekey rewrites (a comment, prose, a file it does not parse): remove it ({OTHER_FINGERPRINT})\n")),
        "{}",
        text.stdout
    );
    assert_no_token(&text.stdout, "check");
}

/// Bytes that look like compressed data: every value, NULs included, but no line break
/// and no run of base64 characters long enough to be a token.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|at| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let byte = (state >> 16) as u8;
            match byte {
                b'\n' => 0,
                _ if at % 8 == 7 => 0,
                _ => byte,
            }
        })
        .collect()
}

/// A PNG whose `tEXt` chunk holds `token`.
fn png_with_text(token: &str) -> Vec<u8> {
    let mut png =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    let text = [&b"Comment\0"[..], token.as_bytes()].concat();
    png.extend((text.len() as u32).to_be_bytes());
    png.extend(b"tEXt");
    png.extend(&text);
    png.extend(b"\x9a\x1b\x2c\x3d\0\0\0\0IEND\xaeB`\x82");
    png
}

/// The 1-based line and column of byte `offset` of `bytes` as rekey places a token in
/// binary data: lines end at `\n` bytes, and a column counts bytes that start a UTF-8
/// character.
fn byte_line_col(bytes: &[u8], offset: usize) -> (u64, u64) {
    let before = &bytes[..offset];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    let columns = before[line_start..]
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count();
    (
        before.iter().filter(|&&b| b == b'\n').count() as u64 + 1,
        columns as u64 + 1,
    )
}

fn offset_of(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap()
}

#[test]
fn check_finds_a_revoked_token_in_binary_data_and_in_a_png_text_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    revoking_other(root);
    let blob = [
        noise(5000, 1),
        OTHER_HEX.as_bytes().to_vec(),
        vec![0],
        noise(3000, 2),
    ]
    .concat();
    fs::write(root.join("model.bin"), &blob).unwrap();
    let png = png_with_text(OTHER_HEX);
    fs::write(root.join("logo.png"), &png).unwrap();
    // A key name beside binary data: still not judged, and its token is still judged.
    let keyed = [
        noise(700, 3),
        format!("\0DELEGATE_TOKEN\0{}\0", base64_of(OTHER_HEX)).into_bytes(),
        noise(700, 4),
    ]
    .concat();
    fs::write(root.join("keyed.dat"), &keyed).unwrap();
    // A UTF-16 string inside binary data, at an odd offset (a .NET string heap).
    let wide = [noise(333, 5), utf16(OTHER_HEX, false, false), noise(200, 6)].concat();
    fs::write(root.join("strings.dll"), &wide).unwrap();

    let mut expected = Vec::new();
    for (name, bytes, offset) in [
        ("model.bin", &blob, 5000),
        ("logo.png", &png, offset_of(&png, OTHER_HEX)),
        (
            "keyed.dat",
            &keyed,
            offset_of(&keyed, &base64_of(OTHER_HEX)),
        ),
        ("strings.dll", &wide, 333),
    ] {
        let (line, column) = byte_line_col(bytes, offset);
        expected.push(revoked(name, line, column));
    }
    expected.push((
        "keyed.dat".to_owned(),
        "unchecked-file".to_owned(),
        "error".to_owned(),
        1,
        1,
    ));
    expected.sort();
    assert_eq!(
        failing_check(root, &["check", "--format", "json"]),
        expected
    );
}

/// Filler log lines up to `len` bytes.
fn log_lines(text: &mut Vec<u8>, len: usize) {
    let line = b"2026-11-28 info: request served in 12 ms by node-7\n";
    while text.len() + line.len() <= len {
        text.extend_from_slice(line);
    }
    text.resize(len, b' ');
}

#[test]
fn check_finds_a_revoked_token_across_a_chunk_boundary_of_a_large_file() {
    // A file over 8 MiB is read 1 MiB at a time (the first read also takes the 128 bytes
    // it may carry over): a token 3 bytes before where a read ends, and at other offsets
    // around it, must still be found whole. Each file holds one token.
    const FIRST_READ: usize = (1 << 20) + 128;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    revoking_other(root);
    let ui = base64_of(OTHER_HEX);
    let mut expected = Vec::new();
    let cases: [(&str, usize, String); 7] = [
        ("plain-3.log", FIRST_READ - 3, format!(" {OTHER_HEX}\n")),
        ("plain-1.log", FIRST_READ - 1, format!(" {OTHER_HEX}\n")),
        ("plain-130.log", FIRST_READ - 130, format!(" {OTHER_HEX}\n")),
        ("base64-3.log", FIRST_READ - 3, format!(" {ui}\n")),
        // After a run of base64 characters too long to be a token: the hex digits, or the
        // base64 word after the run's `/`s, as the whole file's sweep finds them.
        (
            "after-run-hex.log",
            FIRST_READ - 3,
            format!(" {}{OTHER_HEX}\n", "g".repeat(300)),
        ),
        (
            "after-run-base64.log",
            FIRST_READ - 3,
            format!(" {}{ui}\n", "/".repeat(300)),
        ),
        (
            "after-run-base64-40.log",
            FIRST_READ - 40,
            format!(" {}{ui}\n", "/".repeat(300)),
        ),
    ];
    for (name, token_at, planted) in &cases {
        let lead = planted.len() - planted.trim_start_matches([' ', 'g', '/']).len();
        let mut text = Vec::new();
        log_lines(&mut text, token_at - lead);
        text.extend_from_slice(planted.as_bytes());
        log_lines(&mut text, 9 << 20);
        fs::write(root.join(name), &text).unwrap();
        let (line, column) = byte_line_col(&text, *token_at);
        expected.push(revoked(name, line, column));
    }
    // The same in UTF-16 (9 MiB, the decoded text half that): the decoded text is read in
    // chunks too, and the token stands 3 characters before where its first read ends.
    let mut text = Vec::new();
    log_lines(&mut text, FIRST_READ - 3 - 1);
    text.extend_from_slice(format!(" {OTHER_HEX}\n").as_bytes());
    log_lines(&mut text, 9 << 19);
    let wide = utf16(std::str::from_utf8(&text).unwrap(), false, true);
    fs::write(root.join("wide.log"), &wide).unwrap();
    let (line, column) = byte_line_col(&text, FIRST_READ - 3);
    expected.push(revoked("wide.log", line, column));
    expected.sort();
    assert_eq!(
        failing_check(root, &["check", "--format", "json"]),
        expected
    );
}

#[test]
fn check_staged_finds_a_revoked_token_in_a_staged_utf16_blob_and_a_binary_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    revoking_other(root);
    let mut expected = utf16_notes(root);
    let png = png_with_text(OTHER_HEX);
    fs::write(root.join("logo.png"), &png).unwrap();
    let (line, column) = byte_line_col(&png, offset_of(&png, OTHER_HEX));
    expected.push(revoked("logo.png", line, column));
    expected.sort();
    git(root, root, &["init", "-q"]);
    git(root, root, &["add", "-A"]);
    // Only the index holds them: the working tree's copies are gone.
    for name in ["le-bom.txt", "le.txt", "be-bom.txt", "be.txt", "logo.png"] {
        fs::remove_file(root.join(name)).unwrap();
    }
    assert_eq!(
        failing_check(root, &["check", "--staged", "--format", "json"]),
        expected
    );
}

#[test]
fn rotate_lists_utf16_and_binary_copies_of_the_old_token_as_left_behind_and_never_rewrites_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join("values.yaml"),
        format!("delegateToken: {OLD_HEX}\n"),
    )
    .unwrap();
    let notes = utf16(&format!("caf\u{e9}\r\nold: {OLD_BASE64}\r\n"), false, true);
    fs::write(root.join("notes.txt"), &notes).unwrap();
    let png = png_with_text(OLD_HEX);
    fs::write(root.join("logo.png"), &png).unwrap();
    let (line, column) = byte_line_col(&png, offset_of(&png, OLD_HEX));
    let run = rotate_to_new_token(root, &["--write"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "Left behind: 2 copies of the old token outside any key rekey rewrites (a comment, prose, a file it does not parse); remove them before revoking it:\n  logo.png:{line}:{column} ({OLD_FINGERPRINT})\n  notes.txt:2:6 ({OLD_FINGERPRINT})\n"
        )),
        "{}",
        run.stdout
    );
    assert_no_token(&run.stdout, "rotate stdout");
    assert_no_token(&run.stderr, "rotate stderr");
    assert_eq!(fs::read(root.join("notes.txt")).unwrap(), notes);
    assert_eq!(fs::read(root.join("logo.png")).unwrap(), png);
    assert_eq!(
        fs::read_to_string(root.join("values.yaml")).unwrap(),
        format!("delegateToken: {NEW_HEX}\n")
    );
}
