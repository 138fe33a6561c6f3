//! Check YAML (or JSON) from the model: one file per service, or one document
//! stream for standard output.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::model::Service;
use super::sample::Node;
use super::templates::Templates;

/// What every generated check shares.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub target: String,
    pub schedule: String,
    pub timeout: String,
    pub tls: bool,
    /// A health check per service.
    pub health: bool,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
        }
    }
}

/// A file to write: its path relative to the output directory, and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct OutFile {
    pub path: String,
    pub content: String,
}

/// Where the checks find their protos: import name → path relative to the
/// output file, and the import paths, relative too.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProtoRefs {
    pub protos: BTreeMap<String, String>,
    pub import_paths: Vec<String>,
}

/// Renders `services` into one file each (`per_service`), or into one text.
pub fn render(
    services: &[Service],
    settings: &Settings,
    refs: &ProtoRefs,
    format: Format,
    per_service: bool,
    templates: &Templates,
) -> Result<Vec<OutFile>, String> {
    let groups: Vec<(String, Vec<Service>)> = if per_service {
        services
            .iter()
            .map(|s| {
                (
                    format!("{}.{}", s.slug, format.extension()),
                    vec![s.clone()],
                )
            })
            .collect()
    } else {
        vec![(format!("checks.{}", format.extension()), services.to_vec())]
    };
    let template = match format {
        Format::Yaml => "checks.yaml.j2",
        Format::Json => "checks.json.j2",
    };
    groups
        .into_iter()
        .map(|(path, group)| {
            let checks = documents(&group, settings, refs);
            let content = templates.render(
                template,
                json!({
                    "services": group,
                    "settings": settings,
                    "protos": refs.protos,
                    "import_paths": refs.import_paths,
                    "checks": checks,
                }),
            )?;
            Ok(OutFile { path, content })
        })
        .collect()
}

/// The checks as documents in the shape `validate` reads, for JSON output.
pub fn documents(services: &[Service], settings: &Settings, refs: &ProtoRefs) -> Vec<Value> {
    let mut out = Vec::new();
    for s in services {
        if settings.health {
            let mut grpc = json!({"health": true, "service": s.full_name});
            if settings.tls {
                grpc["tls"] = json!(true);
            }
            out.push(json!({
                "kind": "Check",
                "name": s.health_check,
                "description": format!("gRPC health of {}", s.full_name),
                "type": "grpc",
                "target": settings.target,
                "schedule": settings.schedule,
                "timeout": settings.timeout,
                "grpc": grpc,
            }));
        }
        for m in &s.methods {
            let mut grpc = json!({
                "proto": refs.protos.get(&s.file),
                "service": s.full_name,
                "method": m.name,
                "request": m.request,
            });
            if !refs.import_paths.is_empty() {
                grpc["import_paths"] = json!(refs.import_paths);
            }
            if settings.tls {
                grpc["tls"] = json!(true);
            }
            out.push(json!({
                "kind": "Check",
                "name": m.check_name,
                "description": format!("{} ({})", m.path, m.streaming.replace('_', " ")),
                "type": "grpc",
                "target": settings.target,
                "schedule": settings.schedule,
                "timeout": settings.timeout,
                "grpc": grpc,
                "expect": {"code": "OK"},
            }));
        }
    }
    out
}

/// A sample as a YAML block at column 0, with each field's comment above it.
pub fn block(node: &Node) -> String {
    let mut lines = Vec::new();
    write(node, &mut lines);
    lines.join("\n")
}

/// Marks a sampled value in the YAML: a reader must not take it for data.
pub const PLACEHOLDER: &str = "  # placeholder";

fn write(node: &Node, out: &mut Vec<String>) {
    match node {
        Node::Scalar(v) => out.push(format!("{}{PLACEHOLDER}", scalar(v))),
        Node::Given(v) => out.push(scalar(v)),
        Node::Map(entries) if entries.is_empty() => out.push("{}".into()),
        Node::List(items) if items.is_empty() => out.push("[]".into()),
        Node::Map(entries) => {
            for e in entries {
                for c in &e.comment {
                    out.push(if c.is_empty() {
                        "#".into()
                    } else {
                        format!("# {c}")
                    });
                }
                let key = key(&e.key);
                match &e.value {
                    Node::Scalar(v) => out.push(format!("{key}: {}{PLACEHOLDER}", scalar(v))),
                    Node::Given(v) => out.push(format!("{key}: {}", scalar(v))),
                    Node::Map(m) if m.is_empty() => out.push(format!("{key}: {{}}")),
                    Node::List(l) if l.is_empty() => out.push(format!("{key}: []")),
                    inner => {
                        out.push(format!("{key}:"));
                        let mut sub = Vec::new();
                        write(inner, &mut sub);
                        out.extend(sub.into_iter().map(|l| format!("  {l}")));
                    }
                }
            }
        }
        Node::List(items) => {
            for item in items {
                let mut sub = Vec::new();
                write(item, &mut sub);
                for (i, l) in sub.into_iter().enumerate() {
                    out.push(if i == 0 {
                        format!("- {l}")
                    } else {
                        format!("  {l}")
                    });
                }
            }
        }
    }
}

/// JSON scalars are YAML flow scalars: strings double-quoted with JSON escapes.
fn scalar(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn key(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        k.to_string()
    } else {
        scalar(&json!(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::sample::Entry;

    #[test]
    fn blocks_nest_lists_and_maps_with_comments() {
        let node = Node::Map(vec![
            Entry {
                key: "id".into(),
                value: Node::Scalar(json!("x")),
                comment: vec!["The id.".into()],
            },
            Entry {
                key: "@type".into(),
                value: Node::List(vec![Node::Map(vec![
                    Entry {
                        key: "a".into(),
                        value: Node::Scalar(json!(1)),
                        comment: vec![],
                    },
                    Entry {
                        key: "true".into(),
                        value: Node::Map(vec![]),
                        comment: vec![],
                    },
                ])]),
                comment: vec![],
            },
        ]);
        assert_eq!(
            block(&node),
            "# The id.\nid: \"x\"  # placeholder\n\"@type\":\n  - a: 1  # placeholder\n    \"true\": {}"
        );
    }
}
