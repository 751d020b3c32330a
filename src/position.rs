//! Byte offsets to the 1-based line and column users see. Spans stay byte ranges everywhere
//! else; this conversion happens only when something is reported. Columns count characters,
//! and a UTF-8 BOM is not a character of the first line.

/// The 1-based `(line, column)` of `offset` in `bytes`.
pub fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(bytes.len());
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let mut text = &before[line_start..];
    if line_start == 0 {
        text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    }
    // Count characters: every byte that does not continue a UTF-8 sequence starts one.
    let column = text.iter().filter(|&&b| (b & 0xC0) != 0x80).count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn lines_and_character_columns() {
        let text = "a: 1\r\nkey: «x» value\n".as_bytes();
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (1, 4));
        let value = "a: 1\r\nkey: «x» ".len();
        assert_eq!(line_col(text, value), (2, 10));
    }

    #[test]
    fn a_bom_is_not_a_column() {
        let text = "\u{feff}key: v\n".as_bytes();
        assert_eq!(line_col(text, 3 + 5), (1, 6));
    }
}
