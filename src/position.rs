//! Byte offsets to the 1-based line and column users see. Spans stay byte ranges everywhere
//! else; this conversion happens only when something is reported. A [`LineIndex`] is built
//! once per file (one pass) so that a file with many sites costs one binary search per
//! position, never a rescan from byte 0. Columns count characters, and a UTF-8 BOM is not a
//! character of the first line.

/// Where each line of a buffer starts.
#[derive(Clone, Debug, Default)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(bytes: &[u8]) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', bytes).map(|at| at + 1));
        LineIndex { starts }
    }

    /// The 1-based `(line, column)` of `offset` in `bytes`, the buffer this index was built
    /// from.
    pub fn line_col(&self, bytes: &[u8], offset: usize) -> (usize, usize) {
        let offset = offset.min(bytes.len());
        // The last line start at or before `offset`.
        let line = self.starts.partition_point(|&start| start <= offset);
        let line_start = self.starts[line - 1];
        let mut text = &bytes[line_start..offset];
        if line_start == 0 {
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        // Count characters: every byte that does not continue a UTF-8 sequence starts one.
        let column = text.iter().filter(|&&b| (b & 0xC0) != 0x80).count() + 1;
        (line, column)
    }
}

/// The 1-based `(line, column)` of `offset` in `bytes`, for a one-off position (an error in
/// a small file). Anything that converts many offsets of one buffer builds a [`LineIndex`].
pub fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    LineIndex::new(&bytes[..offset.min(bytes.len())]).line_col(bytes, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_character_columns() {
        let text = "a: 1\r\nkey: «x» value\n".as_bytes();
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (1, 4));
        let value = "a: 1\r\nkey: «x» ".len();
        assert_eq!(line_col(text, value), (2, 10));
        // Right after a line break is the first column of the next line; past the end
        // clamps to the end.
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn a_bom_is_not_a_column() {
        let text = "\u{feff}key: v\n".as_bytes();
        assert_eq!(line_col(text, 3 + 5), (1, 6));
    }

    #[test]
    fn the_index_agrees_with_a_scan_from_the_start_at_every_offset() {
        let text = "\u{feff}a: é\n\nb: «ü»\r\nlast".as_bytes();
        let index = LineIndex::new(text);
        for offset in 0..=text.len() {
            let before = &text[..offset];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            assert_eq!(index.line_col(text, offset).0, line, "offset {offset}");
            assert_eq!(index.line_col(text, offset), line_col(text, offset));
        }
    }
}
