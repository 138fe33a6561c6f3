//! Mistakes specific to `tcp` and `graphql` checks, each with the exact line
//! `validate` prints for it.

use crate::spec_errors::assert_file_problems;

#[test]
fn tcp_section_rules() {
    assert_file_problems(
        "kind: Check\nname: mail\ntype: tcp\ntarget: mail.example.com\ntcp:\n  send: \"EHLO x\\r\\n\"\n  send_base64: aGk=\n  server_name: mail\nexpect:\n  response: \"/(220/\"\n  cert_valid_for: 7d\n---\nkind: Check\nname: b64\ntype: tcp\ntarget: \"[::1]:25\"\ntcp: {send_base64: \"not base64!\", max_bytes: 0}\n",
        &[
            "checks/api.yaml:4:9: `target`: `mail.example.com` is not `host:port`; expected e.g. \
             `mail.example.com:25` or `[::1]:25`",
            "checks/api.yaml:7:3: `tcp`: give `send` or `send_base64`, not both",
            "checks/api.yaml:8:3: `tcp.server_name`: only applies with `tls`",
            "checks/api.yaml:10:13: `expect.response`: invalid regular expression: unclosed group",
            "checks/api.yaml:11:19: `expect.cert_valid_for` needs `tcp.tls: true`",
            "checks/api.yaml:17:20: `tcp.send_base64`: not valid base64: Invalid symbol 32, offset 3",
            "checks/api.yaml:17:46: `tcp.max_bytes`: must be at least 1 byte",
        ],
    );
}

#[test]
fn sections_and_expectations_of_another_type() {
    assert_file_problems(
        "kind: Check\nname: mail\ntype: tcp\ntarget: mail.example.com:25\nhttp:\n  method: POST\nexpect:\n  json_path: {$.a: 1}\n---\nkind: Check\nname: web\ntype: http\ntarget: https://example.com/\ntcp: {tls: true}\nexpect:\n  data: {a: 1}\n  errors: true\n",
        &[
            "checks/api.yaml:5:1: section `http` does not belong to a `tcp` check; remove it or \
             change `type`",
            "checks/api.yaml:8:3: `expect.json_path` does not apply to a `tcp` check, only to \
             `http`, `graphql`, `grpc`",
            "checks/api.yaml:14:1: section `tcp` does not belong to a `http` check; remove it or \
             change `type`",
            "checks/api.yaml:16:3: `expect.data` does not apply to a `http` check, only to `graphql`",
            "checks/api.yaml:17:3: `expect.errors` does not apply to a `http` check, only to \
             `graphql`",
        ],
    );
}

#[test]
fn graphql_section_rules() {
    assert_file_problems(
        "kind: Check\nname: catalog\ntype: graphql\ntarget: catalog.example.com:443\nhttp:\n  body: x\n  headers: {x-a: b}\ngraphql:\n  query: \"  \"\n  introspect: {type: Query, field: \"\"}\nexpect:\n  response: ok\n  conditions: [\"dta.a == 1\"]\n---\nkind: Check\nname: noquery\ntype: graphql\ntarget: https://catalog.example.com/graphql\n---\nkind: Check\nname: noquery2\ntype: graphql\ntarget: https://catalog.example.com/graphql\ngraphql: {variables: {a: 1}}\n",
        &[
            "checks/api.yaml:4:9: `target`: `catalog.example.com:443` is not an http:// or https:// \
             URL (scheme `catalog.example.com`)",
            "checks/api.yaml:6:3: `http.body`: a `graphql` check builds its own request; use \
             `graphql.method`, `graphql.query` and `graphql.variables`",
            "checks/api.yaml:9:10: `graphql.query`: must not be empty; expected e.g. `{ __typename }`",
            "checks/api.yaml:10:36: `graphql.introspect.field`: must not be empty",
            "checks/api.yaml:12:3: `expect.response` does not apply to a `graphql` check, only to \
             `tcp`, `grpc`",
            "checks/api.yaml:13:16: `expect.conditions[0]`: unknown variable `dta` in `dta.a == 1`; \
             did you mean `data`? expected one of `status`, `headers`, `body`, `body_text`, \
             `latency`, `latency_ms`, `cert_expires_in`, `data`, `errors`, `code`, `message`, `response`",
            "checks/api.yaml:17:7: a `graphql` check needs a `graphql:` section with at least `query`",
            "checks/api.yaml:24:1: missing field `query` in `graphql`",
        ],
    );
}
