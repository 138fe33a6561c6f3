//! Resources that arrive as canonical JSON (from the CLI, over the API) rather than
//! as YAML: typed and validated again, since the daemon trusts no client.

use std::collections::BTreeSet;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::decode::Positions;
use super::plan::Desired;
use super::{Kind, Spec, canonical, secrets, validate};

/// A desired resource after checking: typed, re-canonicalised, with its secret pointers.
#[derive(Debug, Clone)]
pub struct Checked {
    pub desired: Desired,
    pub spec: Spec,
    pub secrets: BTreeSet<String>,
}

fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("`{path}`: {}", e.inner())
        }
    })
}

/// Types and validates one resource sent as JSON. Paths such as `ca_file` must have
/// been inlined by the sender: they mean nothing on the daemon's machine.
pub fn check(mut d: Desired) -> Result<Checked, Vec<String>> {
    let label = format!("{} `{}`", d.kind, d.name);
    // Messages quote values; the daemon knows no variable names, so secrets are masked.
    let redactor = secrets::Redactor::masking(
        &d.spec,
        &secrets::secret_pointers(d.kind, &d.spec, &d.sensitive),
    );
    let mut value = d.spec.clone();
    if let Value::Object(m) = &mut value {
        m.remove("kind");
    }
    let spec = match d.kind {
        Kind::Check => typed(&value).map(Spec::Check),
        Kind::Channel => typed(&value).map(Spec::Channel),
        Kind::Template => typed(&value).map(Spec::Template),
        Kind::Maintenance => typed(&value).map(Spec::Maintenance),
        Kind::StatusPage => typed(&value).map(Spec::StatusPage),
    }
    .map_err(|e| vec![redactor.scrub(&format!("{label}: {e}"))])?;
    let mut errors = Vec::new();
    if spec.name() != d.name {
        errors.push((
            Default::default(),
            format!("the spec is named `{}`", spec.name()),
        ));
    }
    if let Spec::Check(c) = &spec {
        // Refused before validation, which would read them on this machine.
        let paths = file_fields(c);
        if !paths.is_empty() {
            return Err(paths
                .into_iter()
                .map(|(file, inline)| {
                    format!("{label}: `{file}` must be sent inline as `{inline}`")
                })
                .collect());
        }
    }
    let positions = Positions::default();
    validate::name(&d.name, &positions, &mut errors);
    let mut spec = spec;
    validate::resource(&mut spec, &positions, Path::new("."), &mut errors);
    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .map(|(_, m)| redactor.scrub(&format!("{label}: {m}")))
            .collect());
    }
    d.spec = canonical(&spec);
    let secrets = secrets::secret_pointers(d.kind, &d.spec, &d.sensitive);
    Ok(Checked {
        desired: d,
        spec,
        secrets,
    })
}

/// Fields of `c` that name files, with the inline field each must be sent as.
fn file_fields(c: &super::Check) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if c.http.tls.ca_file.is_some() {
        out.push(("http.tls.ca_file".into(), "http.tls.ca".into()));
    }
    let sections = [
        ("grpc", c.grpc.as_ref().and_then(|g| g.tls.as_ref())),
        ("tcp", c.tcp.as_ref().and_then(|t| t.tls.as_ref())),
    ];
    for (section, tls) in sections {
        let Some(tls) = tls else { continue };
        for (given, file, inline) in [
            (tls.ca_file.is_some(), "ca_file", "ca"),
            (
                tls.client_cert_file.is_some(),
                "client_cert_file",
                "client_cert",
            ),
            (
                tls.client_key_file.is_some(),
                "client_key_file",
                "client_key",
            ),
        ] {
            if given {
                out.push((
                    format!("{section}.tls.{file}"),
                    format!("{section}.tls.{inline}"),
                ));
            }
        }
    }
    if let Some(g) = &c.grpc {
        if g.descriptor_set.is_some() {
            out.push((
                "grpc.descriptor_set".into(),
                "grpc.descriptor_set_base64".into(),
            ));
        }
        if g.proto.is_some() && g.proto_files.is_empty() {
            out.push(("grpc.proto".into(), "grpc.proto_files".into()));
        }
    }
    out
}

/// The resources `spec` refers to by name, with the field that names them.
pub fn references(spec: &Spec) -> Vec<(&'static str, Kind, String)> {
    let mut out = Vec::new();
    match spec {
        Spec::Check(c) => {
            if let Some(a) = &c.alert {
                out.extend(
                    a.channels
                        .iter()
                        .map(|ch| ("alert.channels", Kind::Channel, ch.clone())),
                );
                if let Some(t) = &a.template {
                    out.push(("alert.template", Kind::Template, t.clone()));
                }
            }
            out.extend(
                c.depends_on
                    .iter()
                    .map(|d| ("depends_on", Kind::Check, d.clone())),
            );
        }
        Spec::Maintenance(m) => {
            out.extend(m.checks.iter().map(|c| ("checks", Kind::Check, c.clone())));
        }
        Spec::Channel(c) => {
            if let Some(t) = &c.template {
                out.push(("template", Kind::Template, t.clone()));
            }
        }
        Spec::StatusPage(p) => {
            for group in &p.groups {
                out.extend(
                    group
                        .checks
                        .iter()
                        .map(|c| ("groups.checks", Kind::Check, c.clone())),
                );
            }
        }
        Spec::Template(_) => {}
    }
    out
}

/// Types a stored canonical spec (which has passed [`check`] before). The daemon
/// reads its store through the store's row reader, which types each row once
/// (`StoredResource::typed`) and names the rows that fail; this stays for callers
/// that hold only JSON, and must not be used to re-decode a stored row.
pub fn parse_stored(kind: Kind, spec: &Value) -> Result<Spec, String> {
    let mut value = spec.clone();
    if let Value::Object(m) = &mut value {
        m.remove("kind");
    }
    match kind {
        Kind::Check => typed(&value).map(Spec::Check),
        Kind::Channel => typed(&value).map(Spec::Channel),
        Kind::Template => typed(&value).map(Spec::Template),
        Kind::Maintenance => typed(&value).map(Spec::Maintenance),
        Kind::StatusPage => typed(&value).map(Spec::StatusPage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn desired(spec: Value) -> Desired {
        Desired {
            kind: Kind::Check,
            name: "c".into(),
            spec,
            file: None,
            line: None,
            sensitive: BTreeSet::new(),
        }
    }

    #[test]
    fn paths_are_refused_before_anything_reads_them() {
        let spec = json!({"kind": "Check", "name": "c", "type": "grpc", "target": "h:1",
            "grpc": {"service": "a.B", "method": "C", "descriptor_set": "/etc/shadow",
                     "tls": {"ca_file": "ca.pem", "client_key_file": "k.pem"}}});
        let errors = check(desired(spec)).unwrap_err();
        assert_eq!(
            errors,
            [
                "Check `c`: `grpc.tls.ca_file` must be sent inline as `grpc.tls.ca`",
                "Check `c`: `grpc.tls.client_key_file` must be sent inline as `grpc.tls.client_key`",
                "Check `c`: `grpc.descriptor_set` must be sent inline as `grpc.descriptor_set_base64`",
            ]
        );
        let spec = json!({"kind": "Check", "name": "c", "type": "tcp", "target": "h:1",
            "tcp": {"tls": {"client_cert_file": "c.pem"}}});
        assert_eq!(
            check(desired(spec)).unwrap_err(),
            ["Check `c`: `tcp.tls.client_cert_file` must be sent inline as `tcp.tls.client_cert`"]
        );
    }

    #[test]
    fn an_inline_descriptor_set_is_checked_like_a_file() {
        let spec = json!({"kind": "Check", "name": "c", "type": "grpc", "target": "h:1",
            "grpc": {"service": "a.B", "method": "C", "descriptor_set_base64": "AAAA"}});
        let errors = check(desired(spec)).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .starts_with("Check `c`: `grpc.descriptor_set_base64`: not a FileDescriptorSet: "),
            "{errors:?}"
        );
    }
}
