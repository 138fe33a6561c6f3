//! `forge generate --lang rust`: a standalone Cargo crate that makes the same
//! calls as the generated checks, with the same sample requests, and prints
//! results in the shape of `uptimeping test -o json`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use super::model::Service;
use super::templates::Templates;
use super::yaml::{OutFile, Settings};

/// Where the crate's build finds the protos, relative to the crate root.
pub const PROTO_DIR: &str = "proto";
const HEALTH_FILE: &str = "grpc/health/v1/health.proto";

/// Dependency requirements of the generated crate: the versions this build of
/// uptimeping was resolved with (see build.rs).
pub fn versions() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("tonic", env!("FORGE_VERSION_TONIC")),
        ("tonic_prost", env!("FORGE_VERSION_TONIC_PROST")),
        ("tonic_prost_build", env!("FORGE_VERSION_TONIC_PROST_BUILD")),
        ("prost", env!("FORGE_VERSION_PROST")),
        ("prost_types", env!("FORGE_VERSION_PROST_TYPES")),
        ("prost_reflect", env!("FORGE_VERSION_PROST_REFLECT")),
        ("protox", env!("FORGE_VERSION_PROTOX")),
        ("tokio", env!("FORGE_VERSION_TOKIO")),
        ("serde_json", env!("FORGE_VERSION_SERDE_JSON")),
        ("humantime", env!("FORGE_VERSION_HUMANTIME")),
    ])
}

/// A module of the `proto` tree: one per package segment.
#[derive(Debug, Clone, Serialize, Default)]
struct Module {
    name: String,
    /// The package whose generated code this module includes, if any.
    package: Option<String>,
    children: Vec<Module>,
}

fn insert(tree: &mut Vec<Module>, segments: &[String], package: &str) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let pos = match tree.iter().position(|m| &m.name == first) {
        Some(p) => p,
        None => {
            tree.push(Module {
                name: first.clone(),
                ..Module::default()
            });
            tree.len() - 1
        }
    };
    if rest.is_empty() {
        tree[pos].package = Some(package.to_string());
    } else {
        insert(&mut tree[pos].children, rest, package);
    }
}

/// A crate name Cargo accepts, from `wanted` or the output directory's name.
pub fn crate_name(wanted: &str) -> String {
    let mut name: String = wanted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').to_string();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    // Names that would make the library's name a keyword or shadow a crate.
    const RESERVED: [&str; 8] = [
        "crate",
        "self",
        "super",
        "std",
        "core",
        "alloc",
        "test",
        "proc-macro",
    ];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) || RESERVED.contains(&name.as_str()) {
        name = format!("forge-{name}").trim_end_matches('-').to_string();
    }
    name
}

/// The crate's files, paths relative to its root.
pub fn render(
    services: &[Service],
    settings: &Settings,
    roots: &[String],
    sources: &BTreeMap<String, String>,
    pool: &prost_reflect::DescriptorPool,
    name: &str,
    templates: &Templates,
) -> Result<Vec<OutFile>, String> {
    let mut packages: Vec<String> = pool
        .files()
        .filter(|f| !f.name().starts_with("google/protobuf/"))
        .map(|f| f.package_name().to_string())
        .collect();
    packages.push("grpc.health.v1".into());
    packages.sort();
    packages.dedup();
    let mut modules = Vec::new();
    // prost writes files without a package to `_.rs`, included at the root.
    let root_package = packages.iter().any(String::is_empty);
    for p in &packages {
        let segments: Vec<String> = p
            .split('.')
            .filter(|s| !s.is_empty())
            .map(super::model::rust_snake)
            .collect();
        // prost names the file after the module path: `acme.r#type.v1.rs`.
        insert(&mut modules, &segments, &segments.join("."));
    }
    let timeout_ms = settings
        .timeout
        .parse::<crate::spec::Duration>()
        .map(|d| d.get().as_millis())
        .unwrap_or(5000);
    let mut files_compiled: Vec<String> = roots.to_vec();
    if !files_compiled.iter().any(|f| f == HEALTH_FILE) {
        files_compiled.push(HEALTH_FILE.into());
    }
    let ctx = json!({
        "crate_name": name,
        "lib_name": name.replace('-', "_"),
        "services": services,
        "settings": settings,
        "timeout_ms": timeout_ms,
        "versions": versions(),
        "modules": modules,
        "root_package": root_package,
        "proto_dir": PROTO_DIR,
        "protos": files_compiled,
        "generator_version": env!("CARGO_PKG_VERSION"),
    });
    let mut out = Vec::new();
    for (template, path) in [
        ("rust/Cargo.toml.j2", "Cargo.toml"),
        ("rust/build.rs.j2", "build.rs"),
        ("rust/lib.rs.j2", "src/lib.rs"),
        ("rust/client.rs.j2", "src/client.rs"),
        ("rust/main.rs.j2", "src/main.rs"),
        ("rust/tests.rs.j2", "tests/requests.rs"),
        ("rust/README.md.j2", "README.md"),
        ("rust/gitignore.j2", ".gitignore"),
    ] {
        out.push(OutFile {
            path: path.into(),
            content: templates.render(template, &ctx)?,
        });
    }
    for (file, text) in sources {
        out.push(OutFile {
            path: format!("{PROTO_DIR}/{file}"),
            content: text.clone(),
        });
    }
    if !sources.contains_key(HEALTH_FILE) {
        out.push(OutFile {
            path: format!("{PROTO_DIR}/{HEALTH_FILE}"),
            content: templates.render("rust/health.proto.j2", &ctx)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_are_valid_for_cargo() {
        assert_eq!(crate_name("payments-checks"), "payments-checks");
        assert_eq!(crate_name("My Checks!"), "my-checks");
        assert_eq!(crate_name("2024"), "forge-2024");
        assert_eq!(crate_name("crate"), "forge-crate");
    }

    #[test]
    fn versions_are_pinned() {
        for (name, v) in versions() {
            assert!(!v.is_empty(), "{name}");
        }
    }
}
