//! TLS to PostgreSQL: a real server that takes TCP connections over TLS only,
//! certificates made for the test, and `--store` URLs with libpq's settings
//! (`sslmode`, `sslrootcert`), as a daemon reads them at start.

use serde_json::json;

use crate::daemon_lifecycle::refused;
use crate::daemon_support::{Daemon, plan_request};
use crate::postgres_server::Server;

/// A CA called `ca_name`, and a server certificate and key it signed for `name` only.
fn pki(ca_name: &str, name: &str) -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let mut leaf = CertificateParams::new(vec![name.to_string()]).expect("leaf params");
    leaf.distinguished_name.push(DnType::CommonName, name);
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &*ca).expect("leaf");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// `url` (of [`Server::create_database`]) with `query` added.
fn with(url: &str, query: &str) -> String {
    format!("{url}?{query}")
}

fn daemon_args<'a>(data: &'a str, url: &'a str) -> Vec<&'a str> {
    vec![
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--store",
        url,
    ]
}

#[test]
fn the_store_speaks_tls_to_postgresql_and_checks_the_certificate_as_libpq_does() {
    let (ca, cert, key) = pki("database CA", "db.internal");
    let (stranger, _, _) = pki("another CA", "db.internal");
    let server = Server::start_tls(&cert, &key);
    let files = tempfile::tempdir().expect("tempdir");
    let ca_file = files.path().join("ca.pem");
    let stranger_file = files.path().join("other-ca.pem");
    std::fs::write(&ca_file, &ca).expect("write");
    std::fs::write(&stranger_file, &stranger).expect("write");
    let (ca_file, stranger_file) = (ca_file.to_str().unwrap(), stranger_file.to_str().unwrap());

    // The certificate's name, dialled at the server's address: verified in full.
    let url = server.create_database();
    let by_name = with(
        &url.replace("@127.0.0.1:", "@db.internal:"),
        &format!("hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={ca_file}"),
    );
    let d = Daemon::start(&["--store", &by_name]);
    let yaml = "kind: Check\nname: api\ntype: tcp\ntarget: 127.0.0.1:9\nschedule: 1h\n";
    d.post("/api/v1/apply", &plan_request("repo", yaml, json!({})));
    assert_eq!(d.get("/api/v1/checks/api")["name"], "api");
    let db = url.rsplit('/').next().unwrap();
    let encrypted = server.psql(
        "postgres",
        &format!(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl)
               FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '{db}'"
        ),
    );
    let (on, off) = encrypted.split_once('|').expect("two counts");
    assert!(on.parse::<u32>().unwrap() >= 1 && off == "0", "{encrypted}");
    let (code, logs) = d.terminate();
    assert_eq!(code, 0, "{logs}");

    // The chain alone (`verify-ca`), at an address the certificate does not name;
    // and `require` and libpq's default (`prefer`), encrypted without a CA to check.
    for query in [
        format!("sslmode=verify-ca&sslrootcert={ca_file}"),
        "sslmode=require".to_string(),
        String::new(),
    ] {
        let url = server.create_database();
        let url = if query.is_empty() {
            url
        } else {
            with(&url, &query)
        };
        let (code, logs) = Daemon::start(&["--store", &url]).terminate();
        assert_eq!(code, 0, "{query}: {logs}");
    }

    // Refused at start, each saying why.
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let data = data.to_str().unwrap();
    for (query, why) in [
        // The name is not the certificate's.
        (
            format!("sslmode=verify-full&sslrootcert={ca_file}"),
            "not valid for name",
        ),
        // Signed by a CA not trusted.
        (
            format!("sslmode=verify-ca&sslrootcert={stranger_file}"),
            "UnknownIssuer",
        ),
        // The server takes no plain connection.
        ("sslmode=disable".to_string(), "no encryption"),
        (
            "sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem".to_string(),
            "`sslrootcert` /nonexistent/ca.pem",
        ),
    ] {
        let url = with(&server.create_database(), &query);
        let (code, stderr) = refused(&daemon_args(data, &url));
        assert_eq!(code, 1, "{query}: {stderr}");
        assert!(stderr.contains(why), "{query}: {stderr}");
    }
}
