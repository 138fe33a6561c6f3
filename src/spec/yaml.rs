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

/// The deepest nesting of sequences and mappings a document may have. Check files
/// nest a handful of levels (a request body a few more); every later pass over the
/// tree (decoding, typing, cloning, dropping) recurses once per level, so this bound,
/// checked as each level opens, is what keeps them all within a thread's stack.
pub const MAX_DEPTH: usize = 64;

/// The most nodes that aliases may add to one document. Anchors that share a few
/// headers between checks add hundreds; nested anchors that multiply ("billion
/// laughs") add billions from a few hundred bytes, so expansion is counted before
/// it is done.
pub const MAX_ALIAS_NODES: usize = 10_000;

/// The most scalar text that aliases may add to one document: one alias of a large
/// block scalar is as costly as many aliases of small ones.
pub const MAX_ALIAS_BYTES: usize = 1024 * 1024;

/// What a finished node weighs, so that an alias to it is costed without walking it.
#[derive(Debug, Clone, Copy, Default)]
struct Weight {
    nodes: usize,
    bytes: usize,
    /// Levels of sequences and mappings inside, 0 for a scalar.
    height: usize,
}

impl Weight {
    fn add_child(&mut self, child: Weight) {
        self.nodes = self.nodes.saturating_add(child.nodes);
        self.bytes = self.bytes.saturating_add(child.bytes);
        self.height = self.height.max(child.height + 1);
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
        weight: Weight,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        /// Each scalar key with where it first appeared, for duplicates in linear time.
        seen: super::FastMap<String, Pos>,
        weight: Weight,
    },
}

impl Frame {
    fn weight(&mut self) -> &mut Weight {
        match self {
            Frame::Seq { weight, .. } | Frame::Map { weight, .. } => weight,
        }
    }
}

fn collection_weight() -> Weight {
    Weight {
        nodes: 1,
        bytes: 0,
        height: 1,
    }
}

fn too_deep(pos: Pos) -> SyntaxError {
    SyntaxError {
        pos,
        message: format!(
            "nested deeper than {MAX_DEPTH} levels of lists and mappings; flatten the document"
        ),
    }
}

/// Parses every document in `text`. Duplicate keys are reported as errors too;
/// all of them, since they do not stop the parse.
pub fn parse(text: &str) -> Result<(Vec<Document>, Vec<SyntaxError>), SyntaxError> {
    let mut docs = Vec::new();
    let mut soft_errors = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, Weight)> = HashMap::new();
    // What aliases have added to the current document so far.
    let mut expanded = Weight::default();
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
        let finished: Option<(Node, usize, Weight)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                root = None;
                anchors.clear();
                expanded = Weight::default();
                None
            }
            Event::DocumentEnd => {
                // An empty document parses as an empty plain scalar: treat it as absent.
                let root = root.take().filter(|n| !matches!(&n.value, NodeValue::Scalar { text, quoted: false } if text.is_empty()));
                docs.push(Document { root });
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((node, weight)) => {
                    if stack.len() + weight.height > MAX_DEPTH {
                        return Err(too_deep(pos));
                    }
                    expanded.nodes = expanded.nodes.saturating_add(weight.nodes);
                    expanded.bytes = expanded.bytes.saturating_add(weight.bytes);
                    if expanded.nodes > MAX_ALIAS_NODES || expanded.bytes > MAX_ALIAS_BYTES {
                        return Err(SyntaxError {
                            pos,
                            message: format!(
                                "aliases in this document expand to more than {MAX_ALIAS_NODES} nodes or {MAX_ALIAS_BYTES} bytes of text; write the values out or use fewer nested anchors"
                            ),
                        });
                    }
                    Some((
                        Node {
                            pos,
                            value: node.value.clone(),
                        },
                        0,
                        *weight,
                    ))
                }
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
                let weight = Weight {
                    nodes: 1,
                    bytes: value.len(),
                    height: 0,
                };
                Some((
                    Node {
                        pos,
                        value: NodeValue::Scalar {
                            text: value.into_owned(),
                            quoted,
                        },
                    },
                    anchor,
                    weight,
                ))
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(too_deep(pos));
                }
                stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                    weight: collection_weight(),
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(too_deep(pos));
                }
                stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    seen: super::FastMap::default(),
                    weight: collection_weight(),
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    pos,
                    anchor,
                    items,
                    weight,
                }) => Some((
                    Node {
                        pos,
                        value: NodeValue::Seq(items),
                    },
                    anchor,
                    weight,
                )),
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    weight,
                    ..
                }) => Some((
                    Node {
                        pos,
                        value: NodeValue::Map(entries),
                    },
                    anchor,
                    weight,
                )),
                _ => None,
            },
        };
        let Some((node, anchor, weight)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, (node.clone(), weight));
        }
        if let Some(parent) = stack.last_mut() {
            parent.weight().add_child(weight);
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, key, seen, ..
            }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if let NodeValue::Scalar { text, .. } = &k.value {
                        if let Some(first) = seen.get(text) {
                            soft_errors.push(SyntaxError {
                                pos: k.pos,
                                message: format!(
                                    "duplicate key `{text}` (first at line {})",
                                    first.line
                                ),
                            });
                            continue;
                        }
                        seen.insert(text.clone(), k.pos);
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
