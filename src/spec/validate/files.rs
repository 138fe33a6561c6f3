//! The one part of validating a check that reads the file system: every field
//! that names a file relative to the YAML file (`http.tls.ca_file`, the `*_file`
//! fields of a `tls:` section, `grpc.proto` and its imports,
//! `grpc.descriptor_set`) is read here into its inline field, before the pure
//! checks run on what was read. Blocking: async callers run loading off their
//! threads.

use std::path::Path;

use super::super::decode::Positions;
use super::super::{Check, CheckType, ClientTls, GrpcSpec};
use super::Errors;
use crate::proto::{read_descriptor_set, read_sources};
use crate::tls::read_pem_file;

/// What reading the files left for the pure checks to know.
#[derive(Debug, Default)]
pub(crate) struct Read {
    /// `tls:` sections (by pointer) where a file could not be read or was given
    /// twice; their settings are not checked further.
    pub failed_tls: Vec<&'static str>,
    /// `grpc.descriptor_set` as written, now in `descriptor_set_base64`.
    pub descriptor_set: Option<String>,
}

/// Reads every file `c` names into the field that carries it inline.
pub(crate) fn inline(c: &mut Check, pos: &Positions, base_dir: &Path, errors: &mut Errors) -> Read {
    let mut read = Read::default();
    if c.check_type == CheckType::Grpc
        && let Some(g) = &mut c.grpc
    {
        if let Some(tls) = &mut g.tls
            && !client_tls(tls, "/grpc/tls", pos, base_dir, errors)
        {
            read.failed_tls.push("/grpc/tls");
        }
        read.descriptor_set = schema(g, pos, base_dir, errors);
    }
    if let Some(tls) = c.tcp.as_mut().and_then(|t| t.tls.as_mut())
        && !client_tls(tls, "/tcp/tls", pos, base_dir, errors)
    {
        read.failed_tls.push("/tcp/tls");
    }
    let http = &mut c.http;
    if let Some(file) = http.tls.ca_file.take() {
        let path = base_dir.join(&file);
        match read_pem_file(&path) {
            Ok(_) if http.tls.ca.is_some() => {
                errors.push((
                    pos.key("/http/tls/ca_file"),
                    "`http.tls`: give `ca_file` or `ca`, not both".into(),
                ));
            }
            Ok(pem) => http.tls.ca = Some(pem),
            Err(e) => errors.push((
                pos.value("/http/tls/ca_file"),
                format!("`http.tls.ca_file`: cannot read `{}`: {e}", path.display()),
            )),
        }
    }
    read
}

/// The PEM files of a `tls:` section at `at`; false when one could not be read
/// or was given inline too.
fn client_tls(
    tls: &mut ClientTls,
    at: &str,
    pos: &Positions,
    base_dir: &Path,
    errors: &mut Errors,
) -> bool {
    let section = super::super::load::dotted(at);
    let before = errors.len();
    let ClientTls {
        ca_file,
        ca,
        client_cert_file,
        client_cert,
        client_key_file,
        client_key,
        ..
    } = tls;
    let pairs = [
        ("ca_file", "ca", ca_file, ca),
        (
            "client_cert_file",
            "client_cert",
            client_cert_file,
            client_cert,
        ),
        ("client_key_file", "client_key", client_key_file, client_key),
    ];
    for (file_field, inline_field, file, inline) in pairs {
        let Some(name) = file.take() else { continue };
        if inline.is_some() {
            errors.push((
                pos.key(&format!("{at}/{file_field}")),
                format!("`{section}`: give `{file_field}` or `{inline_field}`, not both"),
            ));
            continue;
        }
        let path = base_dir.join(&name);
        match read_pem_file(&path) {
            Ok(text) => *inline = Some(text),
            Err(e) => errors.push((
                pos.value(&format!("{at}/{file_field}")),
                format!(
                    "`{section}.{file_field}`: cannot read `{}`: {e}",
                    path.display()
                ),
            )),
        }
    }
    errors.len() == before
}

/// Reads the schema a call is described by, when the pure checks will use it:
/// the `.proto` file and its imports into `proto_files`, or the descriptor set
/// into `descriptor_set_base64` (returning the path it was read from).
fn schema(
    g: &mut GrpcSpec,
    pos: &Positions,
    base_dir: &Path,
    errors: &mut Errors,
) -> Option<String> {
    if !super::super::grpc_validate::reads_schema(g) {
        return None;
    }
    if let Some(proto) = &g.proto {
        if g.proto_files.is_empty() {
            match read_sources(proto, &g.import_paths, base_dir) {
                Ok((root, files)) => {
                    g.proto = Some(root);
                    g.proto_files = files;
                }
                Err(e) => errors.push((pos.value("/grpc/proto"), format!("`grpc.proto`: {e}"))),
            }
        }
        return None;
    }
    let path = g.descriptor_set.take()?;
    match read_descriptor_set(&path, base_dir) {
        Ok(encoded) => {
            g.descriptor_set_base64 = Some(encoded);
            Some(path)
        }
        Err(e) => {
            errors.push((
                pos.value("/grpc/descriptor_set"),
                format!("`grpc.descriptor_set`: {e}"),
            ));
            // Left in place: the pure checks see that it was not read.
            g.descriptor_set = Some(path);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::super::{Source, load};

    /// `validate` of one check file in `dir`: its errors, one per line.
    fn errors_of(dir: &Path, yaml: &str) -> String {
        let source = Source::new("checks.yaml", yaml, dir);
        match load(&[source], &|_| None) {
            Ok(_) => String::new(),
            Err(d) => d.to_string(),
        }
    }

    #[test]
    fn every_pem_file_is_refused_past_the_limit_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let big = std::fs::File::create(dir.path().join("big.pem")).unwrap();
        big.set_len(crate::tls::MAX_PEM_BYTES + 1).unwrap();
        let head = "kind: Check\nname: c\nschedule: 30s\ntimeout: 5s\n";
        let checks = [
            "type: http\ntarget: https://example.com/\nhttp:\n  tls:\n    ca_file: big.pem\n",
            "type: tcp\ntarget: example.com:443\ntcp:\n  tls:\n    ca_file: big.pem\n",
            "type: grpc\ntarget: example.com:443\ngrpc:\n  health: true\n  tls:\n    client_cert_file: big.pem\n    client_key_file: big.pem\n",
        ];
        for check in checks {
            let errors = errors_of(dir.path(), &format!("{head}{check}"));
            assert!(
                errors.contains("cannot read") && errors.contains("more than the limit of 1048576"),
                "{check}\n{errors}"
            );
        }
    }

    #[test]
    fn a_schema_the_checks_would_not_use_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        // Named but absent: reading it would be an error of its own.
        let yaml = "kind: Check\nname: c\nschedule: 30s\ntimeout: 5s\ntype: grpc\n\
                    target: example.com:443\ngrpc:\n  health: true\n  proto: absent.proto\n";
        let errors = errors_of(dir.path(), yaml);
        assert!(
            errors.contains("does not apply with `health: true`"),
            "{errors}"
        );
        assert!(!errors.contains("absent.proto"), "{errors}");
    }
}
