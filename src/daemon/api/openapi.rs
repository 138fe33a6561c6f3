//! The OpenAPI 3.1 document of this API, `GET /api/v1/openapi.json`. It is made
//! while the router is built, by the same `api_route` calls that register the
//! handlers, from the handlers' own extractor and return types, so an operation
//! is described with the types its handler really takes and gives. A route added
//! with plain `route` instead would be answered but not described: the route test
//! in `tests/it/openapi.rs` reads this module's router and fails on it.
//!
//! Here are the pieces the handlers' types need: how an error, a page, a created
//! resource, a caller's key and a JSON body show in the document, and the schemas of
//! the plan's types (kept beside the check-file schema, which is not touched here).

use std::collections::BTreeSet;
use std::sync::Arc;

use aide::generate::GenContext;
use aide::openapi::{
    self, Components, Header, Info, MediaType, OpenApi, Operation, ParameterSchemaOrContent,
    ReferenceOr, RequestBody, Response, SchemaObject, SecurityRequirement, SecurityScheme,
    StatusCode as DocStatus,
};
use aide::{OperationInput, OperationOutput};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings, json_schema};
use serde_json::Value;

use super::ApiError;
use crate::daemon::store::Principal;
use crate::model::ErrorBody;
use crate::spec::Kind;
use crate::spec::plan::{Action, Change, Desired, FieldChange, Options, Plan, Summary};

/// The path the document is served at, without a key.
pub const PATH: &str = "/api/v1/openapi.json";

/// The name of the security scheme of API keys in the document.
const BEARER: &str = "apiKey";

/// Makes the schema generator write JSON Schema 2020-12 (OpenAPI 3.1's dialect)
/// into `#/components/schemas/`; called before the routes are registered, since
/// each `api_route` generates its operation's schemas there and then. Returns
/// when it started, for [`finish`] to log how long the document took.
pub fn start() -> std::time::Instant {
    aide::generate::infer_responses(true);
    aide::generate::in_context(|ctx| {
        ctx.schema = SchemaGenerator::new(SchemaSettings::draft2020_12().with(|s| {
            s.inline_subschemas = false;
            s.definitions_path = "#/components/schemas/".into();
            s.meta_schema = None;
        }));
    });
    std::time::Instant::now()
}

/// The document as served: built once with the router, the bytes shared by every
/// request.
#[derive(Clone)]
pub struct Document(pub Arc<bytes::Bytes>);

/// Fills in what no handler's types say (title, version, the key scheme) and
/// encodes `api` once.
pub fn finish(mut api: OpenApi, started: std::time::Instant) -> Document {
    name_operations(&mut api);
    state_roles(&mut api);
    api.info = Info {
        title: "uptimeping".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        description: Some(
            "The uptimeping daemon's REST API. Everything under /api/v1 needs \
             `Authorization: Bearer <api key or access token>` with a role (viewer < \
             operator < admin) except this document, logging in (`/auth/login`, \
             `/auth/refresh`, `/auth/register`, `/auth/accept-invite`) and the chat \
             integrations' webhooks (signed with their channel's secret); /healthz, \
             /readyz and /metrics need no key. An expired access token answers 401 \
             `token_expired`: refresh it at `/auth/refresh`. Errors are `{\"error\": {\"code\", \
             \"message\", \"details\"}}`. Lists page with `limit` and `cursor`: while \
             more follow, the answer's `x-next-cursor` header holds the next page's cursor."
                .into(),
        ),
        ..Info::default()
    };
    let components = api.components.get_or_insert_with(Components::default);
    components.security_schemes.insert(
        BEARER.into(),
        ReferenceOr::Item(SecurityScheme::Http {
            scheme: "bearer".into(),
            bearer_format: Some("uptimeping API key or access token".into()),
            description: Some(
                "An API key (`upk_…`, as `uptimeping daemon` writes on first start, `POST /api/v1/tenants` or `POST /api/v1/api-keys` returns) or a user's access token (a JWT from `POST /api/v1/auth/login`)."
                    .into(),
            ),
            extensions: IndexMap::default(),
        }),
    );
    prune(&mut api);
    // Encoding a document that serde_json built itself cannot fail; an empty body
    // would still fail the document's own test loudly.
    let bytes = serde_json::to_vec(&api).unwrap_or_default();
    tracing::debug!(
        bytes = bytes.len(),
        took_ms = started.elapsed().as_secs_f64() * 1000.0,
        "OpenAPI document built"
    );
    Document(Arc::new(bytes::Bytes::from(bytes)))
}

/// Gives each operation an id made of its method and path
/// (`get_checks_name_status`), unique since the router has one handler per method
/// and path, and a tag: the first part of its path under `/api/v1` (`checks`),
/// or `health` for the routes outside it.
fn name_operations(api: &mut OpenApi) {
    let Some(paths) = api.paths.as_mut() else {
        return;
    };
    for (path, item) in paths.paths.iter_mut() {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        let under = path.strip_prefix("/api/v1/");
        let public_page = ["/status/", "/badge/", "/index."]
            .iter()
            .any(|p| path.starts_with(p))
            || path == "/";
        let tag = under
            .and_then(|p| p.split('/').next())
            .unwrap_or(if public_page { "status" } else { "health" })
            .trim_end_matches(".json")
            .to_string();
        let mut words: Vec<&str> = under
            .unwrap_or(path.trim_start_matches('/'))
            .split(['/', '.'])
            .map(|w| w.trim_matches(['{', '}']))
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            words.push("index");
        }
        for (method, op) in [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ] {
            if let Some(op) = op {
                op.operation_id = Some(format!("{method}_{}", words.join("_")));
                op.tags = vec![tag.clone()];
            }
        }
    }
}

/// The extension of each operation naming the role it needs (`viewer`,
/// `operator`, `admin`), or `public`, from the access rules.
pub const ROLE_EXTENSION: &str = "x-uptimeping-role";

/// States on each operation the role its route needs, from
/// [`access::RULES`](super::access::RULES), as [`ROLE_EXTENSION`] and a sentence of
/// its description, so that a client can tell viewer routes from admin ones.
fn state_roles(api: &mut OpenApi) {
    use super::access::{Access, rule};
    use axum::http::Method;
    let Some(paths) = api.paths.as_mut() else {
        return;
    };
    for (path, item) in paths.paths.iter_mut() {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        for (method, op) in [
            (Method::GET, &mut item.get),
            (Method::POST, &mut item.post),
            (Method::PUT, &mut item.put),
            (Method::PATCH, &mut item.patch),
            (Method::DELETE, &mut item.delete),
        ] {
            let (Some(op), Some(access)) = (op.as_mut(), rule(&method, path)) else {
                continue;
            };
            let (role, sentence) = match access {
                Access::Public => ("public".to_string(), "Needs no credential.".to_string()),
                Access::Role(r) => (
                    r.as_str().to_string(),
                    format!(
                        "Needs a credential with at least the `{}` role (viewer < operator < admin); a lower one answers 403 `forbidden`.",
                        r.as_str()
                    ),
                ),
            };
            op.extensions
                .insert(ROLE_EXTENSION.into(), Value::String(role));
            op.description = Some(match op.description.take() {
                Some(d) if !d.is_empty() => format!("{d}\n\n{sentence}"),
                _ => sentence,
            });
        }
    }
}

/// Drops the component schemas nothing refers to: the parameter structs, whose
/// properties became parameters and which no schema names.
fn prune(api: &mut OpenApi) {
    fn refs(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref")
                    && let Some(name) = r.strip_prefix("#/components/schemas/")
                {
                    out.insert(name.to_string());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let Some(components) = api.components.as_mut() else {
        return;
    };
    let schemas = std::mem::take(&mut components.schemas);
    let mut used = BTreeSet::new();
    refs(
        &serde_json::to_value(&api.paths).unwrap_or_default(),
        &mut used,
    );
    // What the used schemas refer to, until nothing new turns up.
    loop {
        let mut more = BTreeSet::new();
        for name in &used {
            if let Some(s) = schemas.get(name) {
                refs(&s.json_schema.clone().to_value(), &mut more);
            }
        }
        let before = used.len();
        used.extend(more);
        if used.len() == before {
            break;
        }
    }
    if let Some(components) = api.components.as_mut() {
        components.schemas = schemas
            .into_iter()
            .filter(|(name, _)| used.contains(name))
            .collect();
    }
}

/// The answer of `GET /api/v1/openapi.json`.
pub struct Served(Document);

impl IntoResponse for Served {
    fn into_response(self) -> axum::response::Response {
        (
            [(header::CONTENT_TYPE, "application/json")],
            bytes::Bytes::clone(&self.0.0),
        )
            .into_response()
    }
}

impl OperationOutput for Served {
    type Inner = ();

    fn operation_response(_ctx: &mut GenContext, _op: &mut Operation) -> Option<Response> {
        Some(Response {
            description: "This document: OpenAPI 3.1, JSON.".into(),
            content: IndexMap::from_iter([(
                "application/json".into(),
                media(json_schema!({"type": "object"})),
            )]),
            ..Response::default()
        })
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        op: &mut Operation,
    ) -> Vec<(Option<DocStatus>, Response)> {
        ok(Self::operation_response(ctx, op))
    }
}

/// An operation's main response as its 200 answer, for `inferred_responses`.
pub fn ok(response: Option<Response>) -> Vec<(Option<DocStatus>, Response)> {
    response
        .map(|r| (Some(DocStatus::Code(200)), r))
        .into_iter()
        .collect()
}

/// `GET /api/v1/openapi.json`: shape only, so no key is needed.
pub async fn serve(axum::Extension(doc): axum::Extension<Document>) -> Served {
    Served(doc)
}

/// A response whose body is text in each of `types` (HTML, feeds, badges, metrics).
pub fn text(description: &str, types: &[&str]) -> Response {
    Response {
        description: description.into(),
        content: types
            .iter()
            .map(|t| (t.to_string(), media(json_schema!({"type": "string"}))))
            .collect::<IndexMap<_, _>>(),
        ..Response::default()
    }
}

pub fn media(schema: Schema) -> MediaType {
    MediaType {
        schema: Some(SchemaObject {
            json_schema: schema,
            example: None,
            external_docs: None,
        }),
        ..MediaType::default()
    }
}

/// A response whose body is this API's error, `{"error": {...}}`.
pub fn error_response(ctx: &mut GenContext, description: &str) -> Response {
    Response {
        description: description.into(),
        content: IndexMap::from_iter([(
            "application/json".into(),
            media(ctx.schema.subschema_for::<ErrorBody>()),
        )]),
        ..Response::default()
    }
}

/// The statuses every handler's error may have, whatever it does; the ones only
/// some routes give (401 and 403 where a key is taken, 413, 415) are added by
/// what those routes take.
const ERRORS: &[(u16, &str)] = &[
    (
        400,
        "`invalid`: a parameter or the body is wrong; the message says which and what it takes.",
    ),
    (404, "`not_found`: no such resource (or route)."),
    (
        409,
        "`conflict`, `revision_moved` or `wrong_tenant`: the state does not allow it now.",
    ),
    (
        422,
        "`invalid` or `invalid_proto`: the resources sent do not validate; `details` lists every problem.",
    ),
    (
        500,
        "`internal`: a bug or a stored row that cannot be read.",
    ),
    (
        503,
        "`busy` (too many at once; retry shortly), `store_unavailable` (the disk cannot be written; see /readyz) or `unavailable`.",
    ),
];

impl OperationOutput for ApiError {
    type Inner = ErrorBody;

    fn operation_response(ctx: &mut GenContext, _op: &mut Operation) -> Option<Response> {
        Some(error_response(ctx, "An error."))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        _op: &mut Operation,
    ) -> Vec<(Option<DocStatus>, Response)> {
        ERRORS
            .iter()
            .map(|(code, what)| (Some(DocStatus::Code(*code)), error_response(ctx, what)))
            .collect()
    }
}

/// A resource made by the request: 201 with `T` as JSON.
pub struct Created<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> axum::response::Response {
        (StatusCode::CREATED, axum::Json(self.0)).into_response()
    }
}

impl<T: JsonSchema> OperationOutput for Created<T> {
    type Inner = T;

    fn operation_response(ctx: &mut GenContext, _op: &mut Operation) -> Option<Response> {
        Some(json_response::<T>(ctx, "Created."))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        op: &mut Operation,
    ) -> Vec<(Option<DocStatus>, Response)> {
        Self::operation_response(ctx, op)
            .map(|r| vec![(Some(DocStatus::Code(201)), r)])
            .unwrap_or_default()
    }
}

/// The caller (an API key or a user), as the access layer resolved it. Every
/// handler of a route that needs a role takes it, so the document marks exactly
/// those operations as needing a credential (and answering 401 without one).
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "this route takes a key but is not behind the authentication layer",
                )
            })
    }
}

impl OperationInput for Caller {
    fn operation_input(_ctx: &mut GenContext, op: &mut Operation) {
        let requirement: SecurityRequirement = IndexMap::from_iter([(BEARER.into(), Vec::new())]);
        if !op.security.contains(&requirement) {
            op.security.push(requirement);
        }
    }

    fn inferred_early_responses(
        ctx: &mut GenContext,
        _op: &mut Operation,
    ) -> Vec<(Option<DocStatus>, Response)> {
        vec![
            (
                Some(DocStatus::Code(401)),
                error_response(
                    ctx,
                    "`unauthorized`: no `Authorization: Bearer` header, or the key or token is not valid (revoked, its session ended); `token_expired`: the access token has expired (refresh it).",
                ),
            ),
            (
                Some(DocStatus::Code(403)),
                error_response(
                    ctx,
                    "`forbidden`: the caller's role is below what this needs (viewer < operator < admin).",
                ),
            ),
        ]
    }
}

/// The client's address, as the listener saw it (none in tests that call the
/// router without a socket). Nothing in the document: it is no parameter.
pub struct Source(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Source(super::source(&parts.extensions)))
    }
}

impl OperationInput for Source {}

/// The body of a JSON request: `T`, and the errors reading it may give.
pub fn json_body<T: JsonSchema>(ctx: &mut GenContext, op: &mut Operation) {
    let schema = ctx.schema.subschema_for::<T>();
    aide::operation::set_body(
        ctx,
        op,
        RequestBody {
            description: None,
            content: IndexMap::from_iter([("application/json".into(), media(schema))]),
            required: true,
            extensions: IndexMap::default(),
        },
    );
}

pub fn json_body_errors(ctx: &mut GenContext) -> Vec<(Option<DocStatus>, Response)> {
    vec![
        (
            Some(DocStatus::Code(413)),
            error_response(ctx, "`too_large`: the body is over the limit."),
        ),
        (
            Some(DocStatus::Code(415)),
            error_response(
                ctx,
                "`invalid`: the body is not sent as `application/json`.",
            ),
        ),
    ]
}

/// The query parameters `T`'s properties describe, for an extractor that reads
/// the query itself.
pub fn query_params<T: JsonSchema>(ctx: &mut GenContext, op: &mut Operation) {
    let schema = ctx.schema.subschema_for::<T>();
    let params =
        aide::operation::parameters_from_schema(ctx, schema, aide::operation::ParamLocation::Query);
    aide::operation::add_parameters(ctx, op, params);
}

/// A response header, for [`Response::headers`].
pub fn header(description: &str) -> ReferenceOr<Header> {
    ReferenceOr::Item(Header {
        description: Some(description.into()),
        style: openapi::HeaderStyle::Simple,
        required: false,
        deprecated: None,
        format: ParameterSchemaOrContent::Schema(SchemaObject {
            json_schema: json_schema!({"type": "string"}),
            example: None,
            external_docs: None,
        }),
        example: None,
        examples: IndexMap::default(),
        extensions: IndexMap::default(),
    })
}

/// A JSON response of `T` with `description`.
pub fn json_response<T: JsonSchema>(ctx: &mut GenContext, description: &str) -> Response {
    let schema = ctx.schema.subschema_for::<T>();
    Response {
        description: description.into(),
        content: IndexMap::from_iter([("application/json".into(), media(schema))]),
        ..Response::default()
    }
}

/// The `{name}` of a route: a check's or a channel's name.
#[derive(serde::Deserialize, JsonSchema)]
pub struct Named {
    /// The resource's name, as in its file.
    pub name: String,
}

/// The `{id}` of a route: an incident's number.
#[derive(serde::Deserialize, JsonSchema)]
pub struct Numbered {
    /// The incident's id.
    pub id: i64,
}

// The schemas of the plan's types. Each stands in for the type of the same name
// in `spec::plan`; `same_*` below fail to compile when a field is added, removed,
// renamed or retyped there, and the document's tests compare real plans with them.

/// The plan document, as `plan -o json` prints it.
#[derive(JsonSchema)]
#[schemars(rename = "Plan")]
#[allow(dead_code)]
struct PlanDoc {
    format_version: u32,
    state_revision: u64,
    /// The tenant whose state the plan was made against (its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<i64>,
    source: String,
    #[schemars(with = "Vec<ChangeDoc>")]
    changes: Vec<Change>,
    #[schemars(with = "SummaryDoc")]
    summary: Summary,
    #[serde(default)]
    diagnostics: Vec<String>,
    /// Resources of `source` that the files no longer hold and that stay because
    /// the plan was made without `prune`.
    #[serde(default)]
    absent: usize,
}

#[allow(dead_code)]
fn same_plan(p: Plan) -> PlanDoc {
    let Plan {
        format_version,
        state_revision,
        tenant,
        source,
        changes,
        summary,
        diagnostics,
        absent,
    } = p;
    PlanDoc {
        format_version,
        state_revision,
        tenant,
        source,
        changes,
        summary,
        diagnostics,
        absent,
    }
}

/// What the plan does to one resource.
#[derive(JsonSchema)]
#[schemars(rename = "Change")]
#[allow(dead_code)]
struct ChangeDoc {
    kind: Kind,
    name: String,
    #[schemars(with = "ActionDoc")]
    action: Action,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<usize>,
    /// The whole resource before, secrets masked.
    #[serde(default)]
    before: Option<Value>,
    /// The whole resource after, secrets masked.
    #[serde(default)]
    after: Option<Value>,
    /// For updates: each field that changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<FieldChangeDoc>")]
    fields: Vec<FieldChange>,
}

#[allow(dead_code)]
fn same_change(c: Change) -> ChangeDoc {
    let Change {
        kind,
        name,
        action,
        file,
        line,
        before,
        after,
        fields,
    } = c;
    ChangeDoc {
        kind,
        name,
        action,
        file,
        line,
        before,
        after,
        fields,
    }
}

#[derive(JsonSchema)]
#[schemars(rename = "Action")]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum ActionDoc {
    Create,
    Update,
    Delete,
}

#[allow(dead_code)]
fn same_action(a: Action) -> ActionDoc {
    match a {
        Action::Create => ActionDoc::Create,
        Action::Update => ActionDoc::Update,
        Action::Delete => ActionDoc::Delete,
    }
}

/// One field that differs. Secret values are masked; `sensitive` says so.
#[derive(JsonSchema)]
#[schemars(rename = "FieldChange")]
#[allow(dead_code)]
struct FieldChangeDoc {
    /// Dotted path: `expect.status`, `http.headers.authorization`.
    path: String,
    #[serde(default)]
    before: Option<Value>,
    #[serde(default)]
    after: Option<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    sensitive: bool,
}

#[allow(dead_code)]
fn same_field_change(f: FieldChange) -> FieldChangeDoc {
    let FieldChange {
        path,
        before,
        after,
        sensitive,
    } = f;
    FieldChangeDoc {
        path,
        before,
        after,
        sensitive,
    }
}

#[derive(JsonSchema)]
#[schemars(rename = "Summary")]
#[allow(dead_code)]
struct SummaryDoc {
    add: usize,
    change: usize,
    destroy: usize,
}

#[allow(dead_code)]
fn same_summary(s: Summary) -> SummaryDoc {
    let Summary {
        add,
        change,
        destroy,
    } = s;
    SummaryDoc {
        add,
        change,
        destroy,
    }
}

/// One resource of the desired set, as the CLI sends it.
#[derive(JsonSchema)]
#[schemars(rename = "Desired")]
#[allow(dead_code)]
struct DesiredDoc {
    kind: Kind,
    name: String,
    /// The resource's canonical JSON: one document of a check file (a check, a
    /// channel, a template or a maintenance window), of the shape `uptimeping
    /// schema` describes; the daemon validates it as `uptimeping validate` does.
    #[schemars(with = "serde_json::Map<String, Value>")]
    spec: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    /// Pointers of values that came from `${...}`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    sensitive: BTreeSet<String>,
}

#[allow(dead_code)]
fn same_desired(d: Desired) -> DesiredDoc {
    let Desired {
        kind,
        name,
        spec,
        file,
        line,
        sensitive,
    } = d;
    DesiredDoc {
        kind,
        name,
        spec,
        file,
        line,
        sensitive,
    }
}

#[derive(JsonSchema)]
#[schemars(rename = "Options")]
#[allow(dead_code)]
struct OptionsDoc {
    /// Ownership label of this apply.
    #[schemars(length(min = 1, max = 200))]
    source: String,
    /// Delete resources of `source` that are not in the desired set.
    #[serde(default)]
    prune: bool,
    /// Allow an empty desired set to prune everything of `source`.
    #[serde(default)]
    allow_empty: bool,
    /// Take over resources that another source applied.
    #[serde(default)]
    take_over: bool,
    /// Adopt resources that were created outside plan/apply.
    #[serde(default)]
    adopt: bool,
}

#[allow(dead_code)]
fn same_options(o: Options) -> OptionsDoc {
    let Options {
        source,
        prune,
        allow_empty,
        take_over,
        adopt,
    } = o;
    OptionsDoc {
        source,
        prune,
        allow_empty,
        take_over,
        adopt,
    }
}

macro_rules! schema_as {
    ($real:ty, $doc:ty, $name:literal) => {
        impl JsonSchema for $real {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(generator: &mut SchemaGenerator) -> Schema {
                <$doc>::json_schema(generator)
            }
        }
    };
}

schema_as!(Plan, PlanDoc, "Plan");
schema_as!(Desired, DesiredDoc, "Desired");
schema_as!(Options, OptionsDoc, "Options");

impl JsonSchema for Kind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Kind".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        json_schema!({
            "description": "The kind of a resource.",
            "type": "string",
            "enum": names,
        })
    }
}

/// For tests of extractors that read their query themselves: the names of
/// `T`'s properties, and those listed after "expected" in `unknown`'s message.
#[cfg(test)]
pub fn documented_and_read<T: JsonSchema>(
    unknown: &ApiError,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let schema = schemars::schema_for!(T);
    let documented = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let listed = unknown
        .message
        .split_once("expected ")
        .map(|(_, l)| l)
        .unwrap_or_default();
    let read = listed
        .split(", ")
        .flat_map(|p| p.split(" or "))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    (documented, read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_schema_names_what_kinds_serialize_as() {
        let schema = schemars::schema_for!(Kind);
        let listed = schema.get("enum").cloned().unwrap_or_default();
        let serialized: Vec<Value> = Kind::ALL
            .iter()
            .map(|k| serde_json::to_value(k).unwrap_or_default())
            .collect();
        assert_eq!(listed, Value::Array(serialized));
    }
}
