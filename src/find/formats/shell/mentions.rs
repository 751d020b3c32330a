//! The legacy names of a script beyond its sites: every whole-word `accountSecret` outside
//! comments (grep guards and the like) is a mention, and a shell variable is renamed
//! together with every use of it in the file, or not at all.

use crate::model::site::{Limit, Reader, Role, Site, Span};

/// Every whole-word `accountSecret` outside comments that is not already a site's key and not
/// a `$NAME` expansion: grep guards and the like, renamed with the sites so the script stays
/// consistent. Linear in the script: the sites' key starts are looked up in a set and the
/// comments by binary search, so 150,000 mentions cost no more than 150,000 sites.
pub(super) fn add_mentions(text: &str, comments: &[Span], sites: &mut Vec<Site>) {
    const LEGACY: &str = "accountSecret";
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = text.as_bytes();
    let keys: std::collections::HashSet<usize> = sites.iter().map(|s| s.key_span.start).collect();
    let mut from = 0;
    while let Some(found) = text[from..].find(LEGACY) {
        let start = from + found;
        let end = start + LEGACY.len();
        from = end;
        let before = start.checked_sub(1).map(|i| bytes[i]);
        let whole = !before.is_some_and(is_word) && !bytes.get(end).copied().is_some_and(is_word);
        let expansion = matches!(before, Some(b'$' | b'{'));
        let taken = keys.contains(&start);
        if whole && !expansion && !taken && !in_comment(comments, start) {
            sites.push(Site::reference(LEGACY, start..end, start).with_role(Role::KeyMention));
        }
    }
}

/// A shell variable is renamed together with every use of it in the file, or not at all:
/// every occurrence of a legacy name (sites and mentions) keeps its name unless each of its
/// sites is read by a delegate and the script never expands it as `$NAME`.
pub(super) fn rename_together(text: &str, comments: &[Span], sites: &mut [Site]) {
    let legacy: std::collections::BTreeSet<String> = sites
        .iter()
        .filter(|s| s.is_legacy())
        .map(|s| s.key.to_string())
        .collect();
    for name in legacy {
        let live = |s: &&Site| s.key == name && !matches!(s.limit, Some(Limit::ReportOnly(_)));
        let blocker = if expands(text, comments, &name) {
            Some(format!(
                "the script reads ${name}: a shell variable is renamed with every use of it or not at all"
            ))
        } else if let Some(site) = sites.iter().filter(live).find(|s| {
            s.role != Role::KeyMention && (s.rename_conflict || s.reader != Reader::Delegate)
        }) {
            let (line, _) = crate::model::position::line_col(text.as_bytes(), site.key_span.start);
            Some(format!(
                "{name} on line {line} cannot be renamed, and every use of a name in a script is renamed together or not at all"
            ))
        } else if !sites
            .iter()
            .filter(live)
            .any(|s| s.role != Role::KeyMention)
        {
            Some(format!("{name} is only mentioned here, not written"))
        } else {
            None
        };
        // A site whose own reader is unknown keeps its own reason.
        for site in sites.iter_mut().filter(|s| s.key == name) {
            match (&blocker, &site.reader) {
                (Some(_), Reader::Unknown(_)) if site.role != Role::KeyMention => {}
                (Some(reason), _) => site.reader = Reader::Unknown(reason.clone().into()),
                (None, _) => site.reader = Reader::Delegate,
            }
        }
    }
}

/// Whether byte `at` is inside one of `comments`, which the lexer records in order and
/// which never overlap: a binary search, not a pass over every comment per occurrence.
fn in_comment(comments: &[Span], at: usize) -> bool {
    let first_ending_after = comments.partition_point(|c| c.end <= at);
    comments
        .get(first_ending_after)
        .is_some_and(|c| c.contains(&at))
}

/// Whether the script expands `$name` or `${name…}` outside comments.
fn expands(text: &str, comments: &[Span], name: &str) -> bool {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    [format!("${name}"), format!("${{{name}")]
        .iter()
        .any(|pattern| {
            text.match_indices(pattern.as_str()).any(|(at, _)| {
                let end = at + pattern.len();
                let whole = pattern.ends_with('{')
                    || !text.as_bytes().get(end).copied().is_some_and(is_word);
                whole && !in_comment(comments, at)
            })
        })
}
