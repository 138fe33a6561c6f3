//! The maximums of what one resource may hold (counts, lengths, sizes), with why
//! each is that value, and the checks that refuse more at its place in the file.

use super::decode::{Positions, escape_segment};
use super::diag::Pos;

type Errors = Vec<(Pos, String)>;

/// The most labels one resource may carry. Labels select checks for
/// maintenance and filter listings; a few dozen cover any real scheme, and each
/// is stored with every resource and compared on every selection.
pub const MAX_LABELS: usize = 64;

/// The longest label key, as for a Kubernetes label name.
pub const MAX_LABEL_KEY_LEN: usize = 63;

/// The longest label value: room for a team, an owner's address or a short URL.
pub const MAX_LABEL_VALUE_LEN: usize = 256;

/// The most `http.headers` or `grpc.metadata` entries of one check. Every
/// entry is sent on every run; servers commonly refuse requests with more than
/// about a hundred headers.
pub const MAX_HEADERS: usize = 64;

/// The longest header or metadata value, in bytes: 8 KiB is the whole header
/// block many servers accept.
pub const MAX_HEADER_VALUE_LEN: usize = 8 * 1024;

/// The longest `target`, in bytes: browsers and servers refuse URLs much past
/// 2 KiB, and a `host:port` is far shorter.
pub const MAX_TARGET_LEN: usize = 2048;

/// The most entries in one check's `depends_on`: a check is held back by the
/// failure of any of them, and more than a few dozen upstreams is a design
/// that no longer says which one failed.
pub const MAX_DEPENDS_ON: usize = 64;

/// The most `expect.json_path` entries one check may have. Each path is parsed and
/// run over the whole body on every probe; 64 is far more than a check reads.
pub const MAX_JSON_PATHS: usize = 64;

/// The most `expect.headers` patterns one check may have. Each is a regex compiled
/// (up to 10 MiB) on every probe; 64 is more headers than a response usually has.
pub const MAX_EXPECT_HEADERS: usize = 64;

/// Refuses more than `max` entries in `field`, at the field.
pub(crate) fn at_most_count(
    field: &str,
    what: &str,
    count: usize,
    max: usize,
    pos: &Positions,
    errors: &mut Errors,
) -> bool {
    if count <= max {
        return true;
    }
    let at = format!("/{}", field.replace('.', "/"));
    errors.push((
        pos.key(&at),
        format!("`{field}`: {count} {what} is more than the maximum of {max}; remove some"),
    ));
    false
}

/// Refuses a value of `field` longer than `max` bytes, at the value.
pub(crate) fn at_most_len(
    field: &str,
    at: &str,
    len: usize,
    max: usize,
    pos: &Positions,
    errors: &mut Errors,
) -> bool {
    if len <= max {
        return true;
    }
    errors.push((
        pos.value(at),
        format!("`{field}`: {len} bytes is more than the maximum of {max}; shorten it"),
    ));
    false
}

/// The count and length maximums of a resource's labels.
pub(crate) fn labels(
    labels: &std::collections::BTreeMap<String, String>,
    pos: &Positions,
    errors: &mut Errors,
) {
    if !at_most_count("labels", "labels", labels.len(), MAX_LABELS, pos, errors) {
        return;
    }
    for (k, v) in labels {
        let at = format!("/labels/{}", escape_segment(k));
        if k.len() > MAX_LABEL_KEY_LEN {
            errors.push((
                pos.key(&at),
                format!(
                    "`labels`: a key of {} bytes is more than the maximum of {MAX_LABEL_KEY_LEN}; shorten it",
                    k.len()
                ),
            ));
        } else {
            at_most_len(
                &format!("labels.{k}"),
                &at,
                v.len(),
                MAX_LABEL_VALUE_LEN,
                pos,
                errors,
            );
        }
    }
}

/// Refuses `field` (dotted) above its documented maximum, which bounds the memory
/// or work one run may take; `unit` follows the maximum in the message.
pub(crate) fn at_most(
    field: &str,
    (value, max): (u64, u64),
    unit: &str,
    pos: &Positions,
    errors: &mut Errors,
) {
    if value > max {
        errors.push((
            pos.value(&format!("/{}", field.replace('.', "/"))),
            format!("`{field}`: {value} is more than the maximum of {max}{unit}; lower it"),
        ));
    }
}
