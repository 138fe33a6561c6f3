//! A PostgreSQL URL with its TLS settings read as libpq reads them, so that the
//! `--store` URL that works with `psql` works here:
//!
//! - `sslmode`: `disable` (plain TCP), `prefer` (the default: TLS when the server
//!   offers it, plain TCP when it does not or the handshake fails), `require`
//!   (TLS or nothing), `verify-ca` (TLS with a certificate
//!   signed by `sslrootcert`), `verify-full` (that, and for the host connected to);
//! - `sslrootcert`: a PEM file of the CA certificates to trust, or `system` for the
//!   platform's roots (with `verify-full` only, as libpq has it); `verify-ca` and
//!   `verify-full` need it. Given with `prefer` or `require`, the chain is
//!   verified as with `verify-ca`; without it those two accept any certificate,
//!   as libpq does;
//! - `sslcert` and `sslkey`: a client certificate and its key, PEM files.
//!
//! Everything else goes to the driver's own parser. Files are read on each
//! connection, so a renewed certificate is used from the next one on. Nothing
//! here quotes the URL: it may hold a password.

use std::path::Path;

use tokio_postgres_rustls::MakeRustlsConnect;

/// What to connect to, and how.
pub struct Target {
    pub config: postgres::Config,
    /// `None` for `sslmode=disable`.
    pub tls: Option<MakeRustlsConnect>,
    /// `sslmode=prefer`: a failed TLS handshake is tried again without TLS, as
    /// libpq does.
    pub prefer: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

const MODES: &str = "disable, prefer, require, verify-ca or verify-full";

/// Reads `url`; an error says what is wrong without quoting it.
pub fn parse(url: &str) -> Result<Target, String> {
    // The TLS settings are taken out of the query as written; the rest is left
    // byte for byte to the driver, which reads forms a generic URL parser refuses
    // (several hosts, a socket directory in `host=`) and `+` as itself.
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (mut mode, mut root, mut cert, mut key) = (None, None, None, None);
    let mut rest: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |t: &str| {
            percent_encoding::percent_decode_str(t)
                .decode_utf8_lossy()
                .into_owned()
        };
        let name = decode(k);
        let slot = match name.as_str() {
            "sslmode" => &mut mode,
            "sslrootcert" => &mut root,
            "sslcert" => &mut cert,
            "sslkey" => &mut key,
            _ => {
                rest.push(pair);
                continue;
            }
        };
        if slot.replace(decode(v)).is_some() {
            return Err(format!("`{name}` is given twice in the URL; give it once"));
        }
    }
    let mode = match mode.as_deref() {
        None | Some("prefer") => Mode::Prefer,
        Some("disable") => Mode::Disable,
        Some("require") => Mode::Require,
        Some("verify-ca") => Mode::VerifyCa,
        Some("verify-full") => Mode::VerifyFull,
        Some(_) => return Err(format!("`sslmode` is one of {MODES}")),
    };
    let kept = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let mut config: postgres::Config = kept
        .parse()
        .map_err(|e| format!("not a PostgreSQL URL ({e})"))?;
    config.ssl_mode(match mode {
        Mode::Disable => postgres::config::SslMode::Disable,
        Mode::Prefer => postgres::config::SslMode::Prefer,
        _ => postgres::config::SslMode::Require,
    });
    if mode == Mode::Disable {
        return Ok(Target {
            config,
            tls: None,
            prefer: false,
        });
    }
    let system = root.as_deref() == Some("system");
    if system && mode != Mode::VerifyFull {
        return Err(
            "`sslrootcert=system` needs `sslmode=verify-full`: the platform's roots vouch for names, so check the name too"
                .into(),
        );
    }
    if matches!(mode, Mode::VerifyCa | Mode::VerifyFull) && root.is_none() {
        return Err(format!(
            "`sslmode={}` needs `sslrootcert=FILE`, the CA certificates (PEM) that signed the server's certificate{}",
            if mode == Mode::VerifyCa {
                "verify-ca"
            } else {
                "verify-full"
            },
            if mode == Mode::VerifyFull {
                ", or `sslrootcert=system` to trust the platform's roots"
            } else {
                ""
            }
        ));
    }
    let read = |name: &str, path: &Option<String>| -> Result<Option<String>, String> {
        path.as_deref()
            .map(|p| {
                crate::tls::read_pem_file(Path::new(p)).map_err(|e| format!("`{name}` {p}: {e}"))
            })
            .transpose()
    };
    if cert.is_some() != key.is_some() {
        return Err(
            "`sslcert` and `sslkey` go together: the client certificate and its key".into(),
        );
    }
    let ca = if system {
        None
    } else {
        read("sslrootcert", &root)?
    };
    let client_cert = read("sslcert", &cert)?;
    let client_key = read("sslkey", &key)?;
    let settings = crate::tls::Settings {
        // libpq's `prefer` and `require` without a CA: encrypted, not authenticated.
        insecure: ca.is_none() && matches!(mode, Mode::Prefer | Mode::Require),
        ca: ca.as_deref(),
        client_cert: client_cert.as_deref(),
        client_key: client_key.as_deref(),
        any_name: mode != Mode::VerifyFull,
    };
    let tls = crate::tls::build_config(&settings).map_err(|e| {
        // The settings by their URL names, not the checks' field names.
        match e {
            crate::tls::TlsSetupError::Ca(e) => format!("`sslrootcert`: {e}"),
            crate::tls::TlsSetupError::ClientCert(e) => format!("`sslcert`: {e}"),
            crate::tls::TlsSetupError::ClientKey(e) => format!("`sslkey`: {e}"),
            crate::tls::TlsSetupError::Other(e) => format!("TLS: {e}"),
        }
    })?;
    Ok(Target {
        config,
        tls: Some(MakeRustlsConnect::new(tls)),
        prefer: mode == Mode::Prefer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> String {
        match parse(url) {
            Ok(_) => panic!("{url} was accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn libpq_tls_settings_are_read_and_the_rest_left_to_the_driver() {
        let t = parse("postgres://u:p%40ss@db:6432/x?application_name=up&sslmode=disable").unwrap();
        assert!(t.tls.is_none());
        assert_eq!(t.config.get_application_name(), Some("up"));
        assert_eq!(t.config.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(t.config.get_ports(), [6432]);
        let t = parse("postgres://u@db/x").unwrap();
        assert!(t.tls.is_some(), "prefer, as libpq");
        assert_eq!(t.config.get_ssl_mode(), postgres::config::SslMode::Prefer);
        let t = parse("postgres://u@db/x?sslmode=require").unwrap();
        assert_eq!(t.config.get_ssl_mode(), postgres::config::SslMode::Require);
        assert!(parse("postgres://u@db/x?sslmode=verify-full&sslrootcert=system").is_ok());
        // What only the driver reads, as written: `+`, several hosts, a socket.
        let t = parse("postgres://u@db/x?options=-c%20statement_timeout%3D5s+1&sslmode=disable")
            .unwrap();
        assert_eq!(t.config.get_options(), Some("-c statement_timeout=5s+1"));
        let t = parse("postgres://u@db1:5432,db2:5433/x?target_session_attrs=read-write").unwrap();
        assert_eq!(t.config.get_ports(), [5432, 5433]);
        assert!(parse("postgres://u@/x?host=/run/postgresql").is_ok());
    }

    #[test]
    fn a_bad_tls_setting_says_which_and_never_quotes_the_url() {
        let secret = "postgres://u:hunter2@db/x";
        for (query, want) in [
            ("sslmode=verify", "`sslmode` is one of"),
            ("sslmode=verify-ca", "needs `sslrootcert=FILE`"),
            ("sslmode=verify-full", "or `sslrootcert=system`"),
            (
                "sslmode=require&sslrootcert=system",
                "needs `sslmode=verify-full`",
            ),
            (
                "sslmode=require&sslmode=disable",
                "`sslmode` is given twice",
            ),
            (
                "sslrootcert=/nonexistent/ca.pem",
                "`sslrootcert` /nonexistent/ca.pem",
            ),
            (
                "sslmode=require&sslcert=/nonexistent/c.pem",
                "`sslcert` and `sslkey` go together",
            ),
            (
                "sslmode=require&sslcert=/nonexistent/c.pem&sslkey=/k",
                "`sslcert` /nonexistent/c.pem",
            ),
            ("no_such_option=1", "not a PostgreSQL URL"),
            (
                "sslmode=verify-full&sslrootcert=/a&sslrootcert=/b",
                "`sslrootcert` is given twice",
            ),
        ] {
            let e = refused(&format!("{secret}?{query}"));
            assert!(e.contains(want), "{query}: {e}");
            assert!(!e.contains("hunter2"), "{query}: {e}");
        }
    }
}
