//! A `.proto` compile error placed at `file:line:col`.

use std::fmt;

/// A compile error at a place in a `.proto` file (line and column 1-based, 0
/// when unknown).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProtoError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.file.is_empty(), self.line) {
            (true, _) => write!(f, "{}", self.message),
            (false, 0) => write!(f, "{}: {}", self.file, self.message),
            (false, line) => write!(f, "{}:{line}:{}: {}", self.file, self.column, self.message),
        }
    }
}

impl std::error::Error for ProtoError {}

impl ProtoError {
    /// An error about no place in particular.
    pub fn unplaced(message: String) -> Self {
        ProtoError {
            file: String::new(),
            line: 0,
            column: 0,
            message,
        }
    }
}

/// A protox error as `file:line:col: message`: the position comes from the
/// error's first label, read against its own source or the file's text
/// (`text_of`, by import name); `shown` turns an import name into what people see.
pub fn error(
    e: protox::Error,
    shown: &dyn Fn(&str) -> String,
    text_of: &dyn Fn(&str) -> Option<String>,
) -> ProtoError {
    use miette::Diagnostic;
    let name = e.file().map(str::to_string);
    let offset = e
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|l| l.offset());
    let (mut line, mut column) = (0, 0);
    if let Some(offset) = offset {
        let text = e
            .source_code()
            .and_then(|src| {
                let span = miette::SourceSpan::from((offset, 0));
                src.read_span(&span, 0, 0)
                    .ok()
                    .map(|c| (c.line() + 1, c.column() + 1))
            })
            .or_else(|| {
                let text = text_of(name.as_deref()?)?;
                let before = text.get(..offset)?;
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                Some((line, col))
            });
        if let Some((l, c)) = text {
            line = l;
            column = c;
        }
    }
    let mut message = e.to_string();
    if let Some(help) = e.help() {
        message.push_str(&format!(" ({help})"));
    }
    ProtoError {
        file: name.as_deref().map(shown).unwrap_or_default(),
        line,
        column,
        message,
    }
}
