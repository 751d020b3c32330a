//! The YAML document tree: `granit-parser`'s events built into a small tree per document
//! (mappings, sequences, scalars with their byte spans and styles, aliases), and the
//! anchored scalars an alias may point at.

use super::super::common::ParseError;
use crate::model::site::Span;
use granit_parser::{Event, Options, Parser, ScalarStyle};
use std::borrow::Cow;
use std::collections::HashMap;

pub(super) struct Scalar<'a> {
    /// Borrowed from the file unless escapes or folding changed it.
    pub(super) value: Cow<'a, str>,
    pub(super) style: ScalarStyle,
    pub(super) span: Span,
}

pub(super) enum Node<'a> {
    Scalar(Scalar<'a>),
    Map {
        start: usize,
        entries: Vec<(Node<'a>, Node<'a>)>,
    },
    Seq {
        items: Vec<Node<'a>>,
    },
    Alias {
        anchor: usize,
        start: usize,
    },
}

impl<'a> Node<'a> {
    pub(super) fn as_scalar(&self) -> Option<&Scalar<'a>> {
        match self {
            Node::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&Node<'a>> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_scalar().is_some_and(|k| k.value == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub(super) fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_scalar().map(|s| s.value.as_ref())
    }
}

pub(super) struct Documents<'a> {
    pub(super) roots: Vec<Node<'a>>,
    /// Anchored scalars by anchor id: an alias to one edits the anchored literal.
    pub(super) anchors: HashMap<usize, Scalar<'a>>,
}

enum Frame<'a> {
    Map {
        start: usize,
        entries: Vec<(Node<'a>, Node<'a>)>,
        key: Option<Node<'a>>,
    },
    Seq {
        items: Vec<Node<'a>>,
    },
}

pub(super) fn parse(text: &str) -> Result<Documents<'_>, ParseError> {
    let mut options = Options::default();
    options.emit_comments = false;
    let mut documents = Documents {
        roots: Vec::new(),
        anchors: HashMap::new(),
    };
    let mut stack: Vec<Frame> = Vec::new();
    for event in Parser::new_from_str_with_options(text, options) {
        let (event, span) = event.map_err(|error| ParseError {
            offset: error.marker().byte_offset().unwrap_or(0),
            message: error.info(),
        })?;
        let range = span.byte_range().unwrap_or(0..0);
        let node = match event {
            Event::MappingStart(..) => {
                stack.push(Frame::Map {
                    start: range.start,
                    entries: Vec::new(),
                    key: None,
                });
                continue;
            }
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq { items: Vec::new() });
                continue;
            }
            // Without the growth slack: a stream of 150,000 one-key documents would
            // otherwise hold room for four entries in each.
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    start, mut entries, ..
                }) => {
                    entries.shrink_to_fit();
                    Node::Map { start, entries }
                }
                _ => continue,
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { mut items }) => {
                    items.shrink_to_fit();
                    Node::Seq { items }
                }
                _ => continue,
            },
            Event::Scalar(value, style, anchor, _) => {
                if anchor != 0 {
                    documents.anchors.insert(
                        anchor,
                        Scalar {
                            value: value.clone(),
                            style,
                            span: range.clone(),
                        },
                    );
                }
                Node::Scalar(Scalar {
                    value,
                    style,
                    span: range,
                })
            }
            Event::Alias(anchor) => Node::Alias {
                anchor,
                start: range.start,
            },
            _ => continue,
        };
        match stack.last_mut() {
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
            Some(Frame::Seq { items }) => items.push(node),
            None => documents.roots.push(node),
        }
    }
    Ok(documents)
}

/// The scalar's characters without its quotes.
pub(super) fn inner_span(scalar: &Scalar) -> Span {
    match scalar.style {
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted if scalar.span.len() >= 2 => {
            scalar.span.start + 1..scalar.span.end - 1
        }
        _ => scalar.span.clone(),
    }
}
