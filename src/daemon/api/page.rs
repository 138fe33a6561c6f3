//! Paging, the same for every list: the caller sends `limit` and the `cursor` the
//! previous page gave; an answer with more after it carries the next cursor in the
//! [`NEXT_CURSOR_HEADER`] header. A cursor is opaque to callers: it names the list it
//! belongs to and where the page ended.

use aide::OperationOutput;
use aide::generate::GenContext;
use aide::openapi::{Operation, Response as DocResponse, StatusCode};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use schemars::JsonSchema;
use serde::Serialize;

use super::ApiError;

/// The response header holding the cursor of the next page; absent on the last.
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// Most items one page holds: a thousand rows answer in milliseconds and stay far
/// below the client's cap on an answer's size.
pub const MAX_PAGE: u32 = 1000;

/// Longest cursor accepted, in bytes: a check name (63 characters) encoded is far
/// shorter; anything longer was not made here.
const MAX_CURSOR_BYTES: usize = 256;

/// What a cursor of one list points after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Audit,
    Checks,
    Channels,
    Incidents,
    Results,
}

impl List {
    fn tag(self) -> &'static str {
        match self {
            List::Audit => "audit entries",
            List::Checks => "checks",
            List::Channels => "channels",
            List::Incidents => "incidents",
            List::Results => "results",
        }
    }
}

/// The cursor for the page after `last` (a name, or a row id) of `list`.
pub fn encode(list: List, last: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{last}", list.tag()))
}

/// Where the page after `cursor` starts, or an error for a cursor this list did
/// not make.
pub fn decode(list: List, cursor: &str) -> Result<String, ApiError> {
    let bad = || {
        ApiError::invalid(format!(
            "`cursor` is not one this list of {} gave; pass the `{NEXT_CURSOR_HEADER}` of the previous page, or start again without it",
            list.tag()
        ))
    };
    if cursor.len() > MAX_CURSOR_BYTES {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (tag, last) = text.split_once(':').ok_or_else(bad)?;
    if tag != list.tag() {
        return Err(bad());
    }
    Ok(last.to_string())
}

/// A cursor that holds a row id.
pub fn decode_id(list: List, cursor: &str) -> Result<i64, ApiError> {
    decode(list, cursor)?.parse().map_err(|_| {
        ApiError::invalid(format!(
            "`cursor` is not one this list of {} gave; start again without it",
            list.tag()
        ))
    })
}

/// `limit`, `default` when not given; outside 1..=[`MAX_PAGE`] it is refused
/// rather than bent, so that a caller never gets another page than it asked for.
pub fn limit(given: Option<u32>, default: u32) -> Result<u32, ApiError> {
    match given {
        None => Ok(default.clamp(1, MAX_PAGE)),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(format!(
            "`limit` takes 1 to {MAX_PAGE}, not {n}; follow `{NEXT_CURSOR_HEADER}` for more"
        ))),
    }
}

/// A page of a list: `T` as JSON, with the next page's cursor in the
/// [`NEXT_CURSOR_HEADER`] header when there is one.
pub struct Paged<T> {
    body: T,
    next: Option<String>,
}

/// `body` as JSON, with the next page's cursor in its header when there is one.
pub fn respond<T: Serialize>(body: T, next: Option<String>) -> Paged<T> {
    Paged { body, next }
}

impl<T> Paged<T> {
    /// The page and the next page's cursor, for callers inside the daemon (the
    /// console) that render the page themselves.
    pub(crate) fn into_parts(self) -> (T, Option<String>) {
        (self.body, self.next)
    }
}

impl<T: Serialize> IntoResponse for Paged<T> {
    fn into_response(self) -> Response {
        let mut res = axum::Json(self.body).into_response();
        if let Some(next) = self.next
            && let Ok(value) = HeaderValue::from_str(&next)
        {
            res.headers_mut().insert(NEXT_CURSOR_HEADER, value);
        }
        res
    }
}

impl<T: JsonSchema> OperationOutput for Paged<T> {
    type Inner = T;

    fn operation_response(ctx: &mut GenContext, _op: &mut Operation) -> Option<DocResponse> {
        let mut res = super::openapi::json_response::<T>(ctx, "A page of the list.");
        res.headers.insert(
            NEXT_CURSOR_HEADER.into(),
            super::openapi::header(
                "The `cursor` of the next page; absent on the last. Opaque: pass it back as it is.",
            ),
        );
        Some(res)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        op: &mut Operation,
    ) -> Vec<(Option<StatusCode>, DocResponse)> {
        super::openapi::ok(Self::operation_response(ctx, op))
    }
}

/// The first `limit` of `items` (already in list order and after the cursor), and
/// the cursor after the last of them when more follow.
pub fn cut<T>(
    mut items: Vec<T>,
    limit: u32,
    list: List,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    if items.len() <= limit as usize {
        return (items, None);
    }
    items.truncate(limit as usize);
    let next = items.last().map(|last| encode(list, &key(last)));
    (items, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_belongs_to_its_list() {
        let c = encode(List::Checks, "api-v2");
        assert_eq!(decode(List::Checks, &c).ok().as_deref(), Some("api-v2"));
        assert!(decode(List::Channels, &c).is_err());
        assert!(decode(List::Checks, "not base64!").is_err());
        assert!(decode(List::Checks, &"A".repeat(MAX_CURSOR_BYTES + 4)).is_err());
        assert!(decode_id(List::Incidents, &encode(List::Incidents, "x")).is_err());
        assert_eq!(
            decode_id(List::Incidents, &encode(List::Incidents, "42")).ok(),
            Some(42)
        );
    }

    #[test]
    fn cut_keeps_the_limit_and_points_after_the_last() {
        let (items, next) = cut(vec![1, 2, 3], 2, List::Incidents, i32::to_string);
        assert_eq!(items, [1, 2]);
        assert_eq!(
            next.map(|n| decode(List::Incidents, &n).ok()),
            Some(Some("2".into()))
        );
        assert_eq!(cut(vec![1, 2], 2, List::Incidents, i32::to_string).1, None);
    }
}
