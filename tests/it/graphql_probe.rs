//! `uptimeping test` on `type: graphql` checks against a real async-graphql server,
//! and one run over a directory that mixes http, tcp and graphql checks.

use std::net::SocketAddr;
use std::time::Duration;

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
use async_graphql_axum::GraphQL;
use axum::Router;
use axum::routing::post_service;
use serde_json::Value;

use crate::servers::{self, f, failures, probe, probe_files};
use crate::support::Files;
use crate::tcp_probe::{banner, tcp_check};

#[derive(SimpleObject)]
struct Item {
    name: String,
    stock: i32,
}

struct Query;

#[Object]
impl Query {
    async fn item(&self, sku: String) -> Option<Item> {
        (sku == "abc-1").then(|| Item {
            name: "Widget".into(),
            stock: 7,
        })
    }

    async fn broken(&self) -> async_graphql::Result<i32> {
        Err("database is down".into())
    }

    async fn slow(&self) -> i32 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        1
    }
}

/// The catalog schema at `/graphql`, for POST and GET.
pub fn graphql_server() -> SocketAddr {
    let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
    let service = GraphQL::new(schema);
    let app = Router::new().route(
        "/graphql",
        post_service(service.clone()).get_service(service),
    );
    let rt = servers::runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn gql_check(name: &str, addr: SocketAddr, extra: &str) -> String {
    format!(
        "kind: Check\nname: {name}\ntype: graphql\ntarget: http://{addr}/graphql\ntimeout: 1s\n{extra}"
    )
}

const ITEM_QUERY: &str = "graphql:\n  query: 'query($sku: String!) { item(sku: $sku) { name stock } }'\n  variables: {sku: abc-1}\n";

#[test]
fn query_with_variables_and_matching_data_is_up() {
    let addr = graphql_server();
    let out = probe(&[
        gql_check(
            "post",
            addr,
            &format!(
                "{ITEM_QUERY}expect:\n  data: {{item: {{name: Widget}}}}\n  conditions:\n    - data.item.stock > 0\n    - size(errors) == 0\n    - status == 200\n"
            ),
        ),
        gql_check(
            "get",
            addr,
            "graphql:\n  method: get\n  query: 'query($sku: String!) { item(sku: $sku) { stock } }'\n  variables: {sku: abc-1}\nexpect:\n  data: {item: {stock: 7}}\n",
        ),
        gql_check(
            "operation",
            addr,
            "graphql:\n  operation_name: Item\n  query: 'query Item { item(sku: \"abc-1\") { stock } } query Other { broken }'\nexpect:\n  data: {item: {stock: 7}}\n",
        ),
        gql_check(
            "schema",
            addr,
            "graphql:\n  query: '{ __typename }'\n  introspect: {type: Item, field: stock}\n",
        ),
    ]);
    assert_eq!(out.run.code, 0, "{:#?}", out.results);
    let r = out.result("post");
    assert_eq!(r["type"], "graphql");
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["error"], Value::Null);
    assert_eq!(
        r["body_excerpt"],
        r#"{"data":{"item":{"name":"Widget","stock":7}}}"#
    );
    assert_eq!(
        out.result("get")["body_excerpt"],
        r#"{"data":{"item":{"stock":7}}}"#
    );
}

#[test]
fn errors_and_data_mismatches_are_down_with_the_actual_value() {
    let addr = graphql_server();
    let out = probe(&[
        gql_check("errors", addr, "graphql:\n  query: '{ broken }'\n"),
        gql_check(
            "data",
            addr,
            &format!("{ITEM_QUERY}expect:\n  data: {{item: {{name: Gadget, stock: 7}}}}\n"),
        ),
        gql_check(
            "missing",
            addr,
            "graphql:\n  query: '{ item(sku: \"nope\") { name } }'\nexpect:\n  data: {item: {name: Widget}}\n",
        ),
        gql_check(
            "no-errors",
            addr,
            &format!("{ITEM_QUERY}expect:\n  errors: true\n"),
        ),
        gql_check(
            "field",
            addr,
            "graphql:\n  query: '{ __typename }'\n  introspect: {type: Item, field: price}\n",
        ),
        gql_check(
            "type",
            addr,
            "graphql:\n  query: '{ __typename }'\n  introspect: {type: Product, field: name}\n",
        ),
        gql_check(
            "condition",
            addr,
            "graphql:\n  query: '{ broken }'\nexpect:\n  errors: true\n  conditions:\n    - errors[0].message == \"all fine\"\n",
        ),
    ]);
    assert_eq!(out.run.code, 2);
    let r = out.result("errors");
    assert_eq!(r["up"], false);
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["error_kind"], "expectation");
    assert_eq!(
        r["error"],
        r#"errors: expected none, got ["database is down"]"#
    );
    assert_eq!(r["attempts"], 1);
    let cases = [
        ("data", f("data.item.name", "\"Gadget\"", "\"Widget\"")),
        ("missing", f("data.item", r#"{"name":"Widget"}"#, "null")),
        ("no-errors", f("errors", "at least one", "none")),
        (
            "field",
            f(
                "introspect Item.price",
                "type `Item` with field `price`",
                "fields name, stock",
            ),
        ),
        (
            "type",
            f(
                "introspect Product.name",
                "type `Product` with field `name`",
                "no such type",
            ),
        ),
        (
            "condition",
            f(
                "condition `errors[0].message == \"all fine\"`",
                "true",
                "false: errors[0].message is \"database is down\"",
            ),
        ),
    ];
    for (name, failure) in cases {
        let r = out.result(name);
        assert_eq!(r["up"], false, "{r:#}");
        assert_eq!(failures(r), vec![failure], "{name}");
    }
}

#[test]
fn expected_errors_are_up() {
    let addr = graphql_server();
    let out = probe(&[gql_check(
        "errors",
        addr,
        "graphql:\n  query: '{ broken }'\nexpect:\n  errors: true\n",
    )]);
    assert_eq!(out.run.code, 0, "{:#?}", out.results);
}

#[test]
fn slow_resolver_times_out_and_is_retried() {
    let addr = graphql_server();
    let out = probe(&[gql_check(
        "slow",
        addr,
        "retries: 1\ngraphql:\n  query: '{ slow }'\n",
    )]);
    let r = out.result("slow");
    assert_eq!(r["up"], false);
    assert_eq!(r["error_kind"], "timeout");
    assert_eq!(r["error"], "timeout after 1s");
    assert_eq!(r["status_code"], Value::Null);
    assert_eq!(r["attempts"], 2);
}

#[test]
fn one_directory_mixes_http_tcp_and_graphql_checks() {
    let http = servers::http();
    let gql = graphql_server();
    let tcp = banner();
    let files = Files::new(&[
        (
            "checks/web.yaml",
            &servers::check("web", &http.url("/ok"), "expect:\n  status: 200\n"),
        ),
        (
            "checks/mail.yaml",
            &tcp_check("mail", tcp, "expect:\n  response: /^220 /\n"),
        ),
        (
            "checks/nested/catalog.yaml",
            &gql_check(
                "catalog",
                gql,
                &format!("{ITEM_QUERY}expect:\n  data: {{item: {{name: Widget}}}}\n"),
            ),
        ),
    ]);
    let out = probe_files(&files, "checks", &[]);
    assert_eq!(out.run.code, 0, "{:#?}", out.results);
    let mut seen: Vec<(String, String, bool)> = out
        .results
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["type"].as_str().unwrap().to_string(),
                r["up"].as_bool().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("catalog".to_string(), "graphql".to_string(), true),
            ("mail".to_string(), "tcp".to_string(), true),
            ("web".to_string(), "http".to_string(), true),
        ]
    );
}
