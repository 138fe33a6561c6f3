//! What people write on incidents: an update's message, an action's comment.

/// The longest update message, in characters: a few paragraphs, which with the
/// subject and links stay within every provider's message size (Telegram's 4096
/// characters, Slack's 3000 per section) and read on a phone.
pub const MAX_UPDATE_MESSAGE_CHARS: usize = 2000;
/// Most updates one incident takes: a status page shows each in the incident's
/// timeline and every channel gets each, so an endless stream of them (a script
/// gone wrong) is stopped here rather than in every receiver.
pub const MAX_UPDATES_PER_INCIDENT: i64 = 200;
/// The longest comment on an acknowledgement or a resolution, in characters: as
/// long as an update's message, for the same reasons (it is sent and shown alike).
pub const MAX_COMMENT_CHARS: usize = MAX_UPDATE_MESSAGE_CHARS;

/// An update's message as stored (trimmed), or why it cannot be one.
pub fn update_message(message: &str) -> Result<String, String> {
    let message = message.trim();
    if message.is_empty() {
        return Err("an update needs a message: say what is known now".into());
    }
    let chars = message.chars().count();
    if chars > MAX_UPDATE_MESSAGE_CHARS {
        return Err(format!(
            "an update's message is at most {MAX_UPDATE_MESSAGE_CHARS} characters; this one has {chars}: shorten it, or post it as several updates"
        ));
    }
    if let Some(c) = crate::spec::forbidden_char(message) {
        return Err(format!(
            "an update's message may not hold the character U+{:04X} (control characters but new lines and tabs, U+FFFE/U+FFFF, bidirectional overrides); write plain text (new lines are fine)",
            u32::from(c)
        ));
    }
    Ok(message.to_string())
}

/// An acknowledgement's or resolution's `comment` as stored (trimmed; blank is
/// none), or why it cannot be one.
pub fn action_comment(comment: Option<&str>) -> Result<Option<String>, String> {
    let Some(comment) = comment.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let chars = comment.chars().count();
    if chars > MAX_COMMENT_CHARS {
        return Err(format!(
            "`comment` is at most {MAX_COMMENT_CHARS} characters; this one has {chars}: shorten it, or post the rest as an update"
        ));
    }
    if let Some(c) = crate::spec::forbidden_char(comment) {
        return Err(format!(
            "`comment` may not hold the character U+{:04X} (control characters but new lines and tabs, U+FFFE/U+FFFF, bidirectional overrides); write plain text (new lines are fine)",
            u32::from(c)
        ));
    }
    Ok(Some(comment.to_string()))
}
