//! Byte offsets to the 1-based line and column users see. Spans stay byte ranges everywhere
//! else; this conversion happens only when something is reported. A [`LineIndex`] is built
//! once per file (one pass) so that a file with many sites costs one binary search per
//! position, never a rescan from byte 0. Columns count characters, and a UTF-8 BOM is not a
//! character of the first line. A [`Positions`] keeps the positions of a few chosen offsets
//! once the buffer itself is gone.

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

/// The positions of chosen offsets of one buffer, worked out while the buffer is at hand,
/// so that the buffer need not be kept for the reports that ask for them later.
#[derive(Clone, Debug, Default)]
pub struct Positions {
    /// `(offset, line, column)`, sorted by offset. A file rekey parses is at most 8 MiB, so
    /// each fits 32 bits.
    marks: Box<[(u32, u32, u32)]>,
}

impl Positions {
    /// The positions of `offsets` in `bytes` (in any order, repeats allowed), in one pass
    /// over the buffer however many there are.
    pub fn new(bytes: &[u8], offsets: impl IntoIterator<Item = usize>) -> Self {
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let mut offsets: Vec<usize> = offsets.into_iter().collect();
        offsets.sort_unstable();
        offsets.dedup();
        // Where the pass is, and the 1-based line and column there (a BOM is no column).
        let mut at = if bytes.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let (mut line, mut column) = (1, 1);
        let marks = offsets
            .into_iter()
            .map(|offset| {
                let end = offset.min(bytes.len());
                if end > at {
                    let passed = &bytes[at..end];
                    match memchr::memrchr(b'\n', passed) {
                        Some(last) => {
                            line += memchr::memchr_iter(b'\n', passed).count();
                            column = 1 + characters(&passed[last + 1..]);
                        }
                        None => column += characters(passed),
                    }
                    at = end;
                }
                (narrow(offset), narrow(line), narrow(column))
            })
            .collect();
        Positions { marks }
    }

    /// The 1-based `(line, column)` of `offset`, one of those the positions were made for.
    /// Any other offset gets the position of the nearest one before it (a mistake of the
    /// caller's, caught by the tests' debug assertion, not a guess shown as fact).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = u32::try_from(offset).unwrap_or(u32::MAX);
        let at = self.marks.partition_point(|&(o, _, _)| o <= offset);
        let Some(&(found, line, column)) = at.checked_sub(1).map(|i| &self.marks[i]) else {
            debug_assert!(false, "no position kept for offset {offset}");
            return (1, 1);
        };
        debug_assert_eq!(found, offset, "no position kept for offset {offset}");
        (line as usize, column as usize)
    }
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

    #[test]
    fn kept_positions_are_those_of_the_index() {
        let line = "«é»x".repeat(700);
        let text = format!("\u{feff}a: é\n\nb: «ü»\r\n{line}\n{line}last");
        let text = text.as_bytes();
        let index = LineIndex::new(text);
        let offsets: Vec<usize> = (0..=text.len() + 2).step_by(3).chain([9, 9, 0]).collect();
        let kept = Positions::new(text, offsets.iter().rev().copied());
        for offset in offsets {
            assert_eq!(
                kept.line_col(offset),
                index.line_col(text, offset),
                "offset {offset}"
            );
        }
    }
}
