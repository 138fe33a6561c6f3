//! YAML text → a tree that remembers where every node and key came from.
//!
//! Parsing is saphyr-parser's; this module only assembles its events into nodes,
//! resolves anchors, and rejects duplicate keys, keeping `line:col` throughout.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::diag::Pos;

#[derive(Debug, Clone)]
pub struct Node {
    pub pos: Pos,
    pub value: NodeValue,
}

#[derive(Debug, Clone)]
pub enum NodeValue {
    /// A scalar as written; typing (null, bool, number, string) happens after
    /// interpolation. `quoted` scalars (and block scalars, `!!str`) are always strings.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The value of the mapping entry named `key`.
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.value, NodeValue::Scalar { text, .. } if text == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// One YAML document of a file.
#[derive(Debug)]
pub struct Document {
    /// `None` for an empty document (`---` followed by nothing).
    pub root: Option<Node>,
}

/// A problem in the YAML itself.
#[derive(Debug)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Parses every document in `text`. Duplicate keys are reported as errors too;
/// all of them, since they do not stop the parse.
pub fn parse(text: &str) -> Result<(Vec<Document>, Vec<SyntaxError>), SyntaxError> {
    let mut docs = Vec::new();
    let mut soft_errors = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;

    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            pos: Pos {
                line: e.marker().line(),
                col: e.marker().col() + 1,
            },
            message: format!("invalid YAML: {}", e.info()),
        })?;
        let pos = pos_of(&span);
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                root = None;
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                // An empty document parses as an empty plain scalar: treat it as absent.
                let root = root.take().filter(|n| !matches!(&n.value, NodeValue::Scalar { text, quoted: false } if text.is_empty()));
                docs.push(Document { root });
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => Some((
                    Node {
                        pos,
                        value: node.value.clone(),
                    },
                    0,
                )),
                None => {
                    return Err(SyntaxError {
                        pos,
                        message: "invalid YAML: alias to an unknown anchor".into(),
                    });
                }
            },
            Event::Scalar(value, style, anchor, tag) => {
                let forced_str = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
                if let Some(t) = tag.as_ref().filter(|t| !t.is_yaml_core_schema()) {
                    soft_errors.push(SyntaxError {
                        pos,
                        message: format!(
                            "unsupported YAML tag `{}{}`; remove it",
                            t.handle, t.suffix
                        ),
                    });
                }
                let quoted = forced_str || !matches!(style, ScalarStyle::Plain);
                Some((
                    Node {
                        pos,
                        value: NodeValue::Scalar {
                            text: value.into_owned(),
                            quoted,
                        },
                    },
                    anchor,
                ))
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => Some((
                    Node {
                        pos,
                        value: NodeValue::Seq(items),
                    },
                    anchor,
                )),
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    ..
                }) => Some((
                    Node {
                        pos,
                        value: NodeValue::Map(entries),
                    },
                    anchor,
                )),
                _ => None,
            },
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if let NodeValue::Scalar { text, .. } = &k.value
                        && let Some((first, _)) =
                            entries.iter().find(|(e, _)| e.as_str() == Some(text))
                    {
                        soft_errors.push(SyntaxError {
                            pos: k.pos,
                            message: format!(
                                "duplicate key `{text}` (first at line {})",
                                first.pos.line
                            ),
                        });
                        continue;
                    }
                    entries.push((k, node));
                }
            },
        }
    }
    Ok((docs, soft_errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let (docs, _) = parse("kind: Check\nname: api\nhttp:\n  method: GET\n").unwrap();
        let root = docs[0].root.as_ref().unwrap();
        let method = root.get("http").unwrap().get("method").unwrap();
        assert_eq!(method.pos, Pos { line: 4, col: 11 });
    }

    #[test]
    fn splits_documents_and_resolves_anchors() {
        let (docs, errs) = parse("a: 1\n---\n---\nx: &x {b: 1}\nc: *x\n").unwrap();
        assert!(errs.is_empty());
        assert_eq!(docs.len(), 3);
        assert!(docs[1].root.is_none());
        let c = docs[2].root.as_ref().unwrap().get("c").unwrap();
        assert_eq!(c.get("b").unwrap().as_str(), Some("1"));
    }

    #[test]
    fn reports_duplicate_keys_with_the_first_line() {
        let (_, errs) = parse("name: a\nname: b\n").unwrap();
        assert_eq!(errs[0].message, "duplicate key `name` (first at line 1)");
        assert_eq!(errs[0].pos, Pos { line: 2, col: 1 });
    }
}
