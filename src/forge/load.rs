//! Loading `.proto` files with protox, from disk (the CLI) or from memory (the
//! API), with errors placed at `file:line:col` and warnings about what cannot
//! become a check.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use prost_reflect::{DescriptorPool, FileDescriptor, MethodDescriptor};

pub use crate::proto::ProtoError;
use crate::proto::{
    self, MAX_FILE_BYTES, MAX_PROTO_FILES, error, on_proto_stack, refused, too_many_files,
};

/// Something Forge will skip, with where and why.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Warning {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: warning: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Compiled protos: the pool, the root files by import name, and the source of
/// every file that is not a well-known type.
#[derive(Debug, Clone)]
pub struct Protos {
    pub pool: DescriptorPool,
    /// Import names of the files asked for, in the order given.
    pub roots: Vec<String>,
    /// Import name → source, for every non-`google/protobuf` file compiled.
    pub sources: BTreeMap<String, String>,
    /// Import name → how to show the file to people (its path on disk, or its name).
    pub display: BTreeMap<String, String>,
    /// Import name → index into the include directories it was found in (disk only).
    pub include_of: BTreeMap<String, usize>,
}

impl Protos {
    /// The root files' descriptors, in the order given.
    pub fn root_files(&self) -> Vec<FileDescriptor> {
        self.roots
            .iter()
            .filter_map(|r| self.pool.get_file_by_name(r))
            .collect()
    }

    fn shown(&self, name: &str) -> String {
        self.display
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// Files without services, and methods Forge cannot turn into checks.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut out = Vec::new();
        for file in self.root_files() {
            let shown = self.shown(file.name());
            if file.services().len() == 0 {
                // At the `package` statement, else `syntax`, else the top.
                let (line, column) = span(&file, &[2])
                    .or_else(|| span(&file, &[12]))
                    .unwrap_or((1, 1));
                out.push(Warning {
                    file: shown.clone(),
                    line,
                    column,
                    message: format!(
                        "`{}` defines no service; there is nothing to check in it",
                        file.name()
                    ),
                });
            }
            for service in file.services() {
                for m in service.methods() {
                    if let Some(reason) = unsupported(&m) {
                        let (line, column) = span(&file, m.path()).unwrap_or((1, 1));
                        out.push(Warning {
                            file: shown.clone(),
                            line,
                            column,
                            message: format!(
                                "`{}/{}` is skipped: {reason}",
                                service.full_name(),
                                m.name()
                            ),
                        });
                    }
                }
            }
        }
        out
    }
}

/// Why a method cannot become a check, if it cannot.
pub fn unsupported(m: &MethodDescriptor) -> Option<&'static str> {
    match (m.is_client_streaming(), m.is_server_streaming()) {
        (true, true) => Some(
            "it is bidirectional streaming; a check sends one request and reads the answer, so only unary and server-streaming methods can be checked",
        ),
        (true, false) => Some(
            "it is client streaming; a check sends one request, so only unary and server-streaming methods can be checked",
        ),
        _ => None,
    }
}

/// The 1-based line and column where the element at `path` of `file` starts.
pub fn span(file: &FileDescriptor, path: &[i32]) -> Option<(usize, usize)> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let loc = info.location.iter().find(|l| l.path == path)?;
    let line = usize::try_from(*loc.span.first()?).ok()? + 1;
    let col = usize::try_from(*loc.span.get(1)?).ok()? + 1;
    Some((line, col))
}

/// The comment written before the element at `path`, as lines without the
/// comment markers; empty lines at either end removed.
pub fn comment(file: &FileDescriptor, path: &[i32]) -> Vec<String> {
    let Some(info) = file.file_descriptor_proto().source_code_info.as_ref() else {
        return Vec::new();
    };
    let Some(loc) = info.location.iter().find(|l| l.path == path) else {
        return Vec::new();
    };
    let text = loc
        .leading_comments
        .as_deref()
        .or(loc.trailing_comments.as_deref())
        .unwrap_or_default();
    let mut lines: Vec<String> = comment_lines(text)
        .into_iter()
        .map(|l| {
            let l = l.as_str();
            let l = l.trim_end();
            let l = l.strip_prefix(' ').unwrap_or(l);
            // Block comments keep their leading `*` on continuation lines.
            let t = l.trim_start();
            if let Some(rest) = t.strip_prefix("* ") {
                rest.to_string()
            } else if t == "*" {
                String::new()
            } else {
                l.to_string()
            }
        })
        .collect();
    while lines.first().is_some_and(|l| l.trim().is_empty()) {
        lines.remove(0);
    }
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    lines
}

/// `text` split into lines at every line break a reader might see (`\n`,
/// `\r\n`, a lone `\r`, U+2028, U+2029), with other control characters and
/// byte order marks dropped: comments end up in YAML comments and Rust doc
/// comments, where any of them could end the comment early.
pub fn comment_lines(text: &str) -> Vec<String> {
    text.replace("\r\n", "\n")
        .split(['\n', '\r', '\u{2028}', '\u{2029}'])
        .map(|l| {
            l.chars()
                .filter(|c| *c == '\t' || !(c.is_control() || *c == '\u{feff}'))
                .collect()
        })
        .collect()
}

/// Lexically normalised absolute form of `p` (no file system access, so paths
/// that do not exist yet work too).
pub fn absolute(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The real absolute path of `p`: symlinks and `..` resolved by the file
/// system for the part that exists, the rest (directories still to be
/// created) appended and normalised. A relative path between two of these
/// resolves the same however either directory is reached later.
pub fn physical(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut existing = joined.as_path();
    let mut rest: Vec<Component> = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            let mut out = real;
            for c in rest.iter().rev() {
                match c {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::CurDir => {}
                    other => out.push(other),
                }
            }
            return out;
        }
        let (Some(parent), Some(last)) = (existing.parent(), existing.components().next_back())
        else {
            return absolute(p);
        };
        rest.push(last);
        existing = parent;
    }
}

/// The deepest directory holding both files, when there is one below the root.
fn common_parent(a: &Path, b: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for (x, y) in a.parent()?.components().zip(b.parent()?.components()) {
        if x != y {
            break;
        }
        out.push(x);
    }
    (out.components().count() > 1).then_some(out)
}

/// `target` relative to the directory `base`, both absolute, with `/` separators.
pub fn relative(target: &Path, base: &Path) -> String {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Compiles `protos` from disk. Each must lie under one of `includes`; without
/// includes, the directory of each file is one.
pub fn from_disk(
    protos: &[PathBuf],
    includes: &[PathBuf],
) -> Result<(Protos, Vec<PathBuf>), ProtoError> {
    on_proto_stack(|| from_disk_here(protos, includes)).map_err(ProtoError::unplaced)?
}

fn from_disk_here(
    protos: &[PathBuf],
    includes: &[PathBuf],
) -> Result<(Protos, Vec<PathBuf>), ProtoError> {
    if protos.len() > MAX_PROTO_FILES {
        return Err(too_many_files(""));
    }
    for dir in includes {
        let problem = match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => "not a directory".to_string(),
            Err(e) => e.to_string(),
        };
        return Err(ProtoError {
            file: dir.display().to_string(),
            line: 0,
            column: 0,
            message: format!("import path (-I): {problem}"),
        });
    }
    let mut includes: Vec<PathBuf> = includes.iter().map(|i| absolute(i)).collect();
    if includes.is_empty() {
        for p in protos {
            let dir = absolute(p)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            if !includes.contains(&dir) {
                includes.push(dir);
            }
        }
    }
    let mut roots = Vec::new();
    let mut display = BTreeMap::new();
    let mut seen: BTreeMap<String, (PathBuf, PathBuf)> = BTreeMap::new();
    for p in protos {
        let abs = absolute(p);
        let Some(dir) = includes.iter().find(|i| abs.starts_with(i)) else {
            return Err(ProtoError {
                file: p.display().to_string(),
                line: 0,
                column: 0,
                message: "the file is not under any import path; add its directory (or a parent of it) with -I".into(),
            });
        };
        let name = relative(&abs, dir);
        // The name is written into comments of the generated files.
        if name.chars().any(char::is_control) {
            return Err(ProtoError {
                file: p.display().to_string().escape_debug().to_string(),
                line: 0,
                column: 0,
                message: "the file's name has control characters; rename it".into(),
            });
        }
        match std::fs::metadata(&abs) {
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                return Err(ProtoError {
                    file: p.display().to_string(),
                    line: 0,
                    column: 0,
                    message: format!("larger than {MAX_FILE_BYTES} bytes"),
                });
            }
            Ok(_) => {}
            Err(e) => {
                return Err(ProtoError {
                    file: p.display().to_string(),
                    line: 0,
                    column: 0,
                    message: format!("cannot read: {e}"),
                });
            }
        }
        if let Some((other, other_abs)) = seen.get(&name) {
            if *other_abs != abs {
                return Err(ProtoError {
                    file: p.display().to_string(),
                    line: 0,
                    column: 0,
                    message: format!(
                        "its import name `{name}` is also that of `{}`, so only one of them could be compiled; give a common parent directory with -I (e.g. -I {}) so that their names differ",
                        other.display(),
                        common_parent(&abs, other_abs)
                            .map(|c| relative(&c, &std::env::current_dir().unwrap_or_default()))
                            .unwrap_or_else(|| "DIR".into())
                    ),
                });
            }
            continue;
        }
        seen.insert(name.clone(), (p.clone(), abs.clone()));
        display.insert(name.clone(), p.display().to_string());
        roots.push(name);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let locate = |name: &str| -> Option<(usize, PathBuf)> {
        includes
            .iter()
            .enumerate()
            .map(|(i, dir)| (i, dir.join(name)))
            .find(|(_, p)| p.is_file())
    };
    let shown = |name: &str| -> String {
        match locate(name) {
            Some((_, p)) => match p.strip_prefix(&cwd) {
                Ok(rel) => rel.display().to_string(),
                Err(_) => p.display().to_string(),
            },
            None => name.to_string(),
        }
    };
    let (mut compiler, refusal) = proto::guarded_compiler(&includes);
    compiler.include_source_info(true);
    let names: Vec<&str> = roots.iter().map(String::as_str).collect();
    compiler.open_files(names).map_err(|e| {
        if let Some(mut e) = refused(&refusal) {
            e.file = shown(&e.file);
            return e;
        }
        error(e, &shown, &|n| {
            locate(n).and_then(|(_, p)| std::fs::read_to_string(p).ok())
        })
    })?;
    let mut sources = BTreeMap::new();
    let mut include_of = BTreeMap::new();
    for file in compiler.files() {
        let Some(path) = file.path() else { continue };
        let name = file.name().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ProtoError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        if let Some((i, _)) = locate(&name) {
            include_of.insert(name.clone(), i);
        }
        display.entry(name.clone()).or_insert_with(|| shown(&name));
        sources.insert(name, text);
    }
    Ok((
        Protos {
            pool: compiler.descriptor_pool(),
            roots,
            sources,
            display,
            include_of,
        },
        includes,
    ))
}

/// Compiles `roots` from in-memory `files` (import name → source); the
/// well-known types need not be given. Goes through the shared pool cache, so a
/// request that repeats sources already compiled is not compiled again.
pub fn from_memory(
    roots: &[String],
    files: &BTreeMap<String, String>,
) -> Result<Protos, ProtoError> {
    let pool = proto::compile(roots, files)?;
    let pool = DescriptorPool::clone(&pool);
    let sources = pool
        .files()
        .filter_map(|f| Some((f.name().to_string(), files.get(f.name())?.clone())))
        .collect();
    Ok(Protos {
        pool,
        roots: roots.to_vec(),
        sources,
        display: BTreeMap::new(),
        include_of: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_split_at_every_line_break_and_lose_control_characters() {
        assert_eq!(
            comment_lines("\u{feff}Returns the status.\renabled: false\r\nnext\u{2028}x\u{7}y\tz"),
            ["Returns the status.", "enabled: false", "next", "xy\tz"]
        );
    }
}
