//! Byte offsets to the 1-based line and column users see. Spans stay byte ranges everywhere
//! else; this conversion happens only when something is reported. A [`LineIndex`] is built
//! once per file (one pass) so that a file with many sites costs one binary search per
//! position, never a rescan from byte 0. Columns count characters, and a UTF-8 BOM is not a
//! character of the first line.

/// Where each line of a buffer starts, and the column at every block boundary, so that a
/// column is counted over at most one block however long its line (a minified JSON file
/// is one line).
#[derive(Clone, Debug, Default)]
pub struct LineIndex {
    starts: Vec<usize>,
    /// The 0-based character column at byte `i * BLOCK`, counted from its line's start.
    block_columns: Vec<usize>,
}

const BLOCK: usize = 1024;

impl LineIndex {
    pub fn new(bytes: &[u8]) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', bytes).map(|at| at + 1));
        // The column where each block starts is the one where the block before it ended:
        // the characters after its last line break, added to its own start's column when
        // it holds none. A file shorter than a block costs nothing here.
        let mut block_columns = Vec::with_capacity(bytes.len() / BLOCK + 1);
        let mut column = 0;
        for (index, block) in bytes.chunks(BLOCK).enumerate() {
            block_columns.push(column);
            let tail = match memchr::memrchr(b'\n', block) {
                Some(line_break) => {
                    column = 0;
                    &block[line_break + 1..]
                }
                None if index == 0 => block.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(block),
                None => block,
            };
            column += characters(tail);
        }
        LineIndex {
            starts,
            block_columns,
        }
    }

    /// The 1-based `(line, column)` of `offset` in `bytes`, the buffer this index was built
    /// from.
    pub fn line_col(&self, bytes: &[u8], offset: usize) -> (usize, usize) {
        let offset = offset.min(bytes.len());
        // The last line start at or before `offset`.
        let line = self.starts.partition_point(|&start| start <= offset);
        let line_start = self.starts[line - 1];
        let block_start = offset - offset % BLOCK;
        let checkpoint = self.block_columns.get(block_start / BLOCK);
        let (from, column) = match checkpoint {
            Some(&column) if block_start > line_start => (block_start, column),
            _ => (line_start, 0),
        };
        let mut text = &bytes[from..offset];
        if from == 0 {
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        (line, column + characters(text) + 1)
    }
}

/// How many characters `bytes` holds: every byte that does not continue a UTF-8 sequence
/// starts one.
fn characters(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

/// The 1-based `(line, column)` of `offset` in `bytes`, for a one-off position (an error in
/// a small file). Anything that converts many offsets of one buffer builds a [`LineIndex`].
pub fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    LineIndex::new(before).line_col(before, offset)
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
        // An offset on a block boundary (a checkpoint the prefix does not have).
        let long = "x".repeat(3000);
        assert_eq!(line_col(long.as_bytes(), 2048), (1, 2049));
    }

    #[test]
    fn a_bom_is_not_a_column() {
        let text = "\u{feff}key: v\n".as_bytes();
        assert_eq!(line_col(text, 3 + 5), (1, 6));
    }

    #[test]
    fn columns_on_a_long_line_cross_many_blocks() {
        let line = format!("\u{feff}{}", "«é»x".repeat(3000));
        // The BOM opens the file (not a character) or a later line (a character).
        for text in [format!("a\n{line}\n{line}"), format!("{line}\n{line}")] {
            columns_agree_with_a_count_from_the_line_start(&text);
        }
    }

    fn columns_agree_with_a_count_from_the_line_start(text: &str) {
        let bytes = text.as_bytes();
        let index = LineIndex::new(bytes);
        for offset in (0..=bytes.len()).filter(|&o| text.is_char_boundary(o)) {
            let naive = {
                let before = &text[..offset];
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let mut counted = before[line_start..].chars().count() + 1;
                if line_start == 0 && before.starts_with('\u{feff}') {
                    counted -= 1;
                }
                (before.matches('\n').count() + 1, counted)
            };
            assert_eq!(index.line_col(bytes, offset), naive, "offset {offset}");
        }
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
