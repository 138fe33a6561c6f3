//! Loading `.proto` files with protox, from disk (the CLI) or from memory (the
//! API), with errors placed at `file:line:col` and warnings about what cannot
//! become a check.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use prost_reflect::{DescriptorPool, FileDescriptor, MethodDescriptor};

/// The largest `.proto` file read: descriptors are small, this is generous.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

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

/// How deeply `{`, `[` and `<` may nest in a `.proto` source. Real files stay far
/// below; protox interprets option values recursively, so a source nested
/// thousands deep would overflow the stack instead of failing.
pub const MAX_NESTING: usize = 64;

/// Where `source` first nests brackets deeper than [`MAX_NESTING`], outside
/// strings and comments: the 1-based line and column of the bracket.
pub fn too_deep(source: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let (mut line, mut col) = (1usize, 0usize);
    let mut chars = source.chars().peekable();
    let advance = |c: char, line: &mut usize, col: &mut usize| {
        if c == '\n' {
            *line += 1;
            *col = 0;
        } else {
            *col += 1;
        }
    };
    while let Some(c) = chars.next() {
        advance(c, &mut line, &mut col);
        match c {
            '/' if chars.peek() == Some(&'/') => {
                while let Some(&n) = chars.peek() {
                    if n == '\n' {
                        break;
                    }
                    advance(n, &mut line, &mut col);
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                advance('*', &mut line, &mut col);
                let mut prev = '\0';
                for n in chars.by_ref() {
                    advance(n, &mut line, &mut col);
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
            }
            '"' | '\'' => {
                while let Some(n) = chars.next() {
                    advance(n, &mut line, &mut col);
                    if n == '\\' {
                        if let Some(e) = chars.next() {
                            advance(e, &mut line, &mut col);
                        }
                    } else if n == c || n == '\n' {
                        break;
                    }
                }
            }
            '{' | '[' | '<' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some((line, col));
                }
            }
            '}' | ']' | '>' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// [`too_deep`] as an error about the file `name`.
pub fn check_nesting(name: &str, source: &str) -> Result<(), ProtoError> {
    match too_deep(source) {
        None => Ok(()),
        Some((line, column)) => Err(ProtoError {
            file: name.to_string(),
            line,
            column,
            message: format!(
                "brackets nest more than {MAX_NESTING} levels deep here; flatten the option value or message"
            ),
        }),
    }
}

/// The most `.proto` files one compile reads, imports included: a large API has
/// a few hundred. protox opens imports recursively, one stack frame chain per
/// level, so this also bounds how deep an import chain can go; the same number
/// as the Forge API's [`super::MAX_API_FILES`].
pub const MAX_PROTO_FILES: usize = 500;

/// The stack protox compiles on. A chain of [`MAX_PROTO_FILES`] imports needs
/// between 2 and 2.5 MiB in a debug build (measured; release needs less), more than a
/// request thread has; 64 MiB leaves a wide margin and is only reserved, not used.
pub const PROTO_STACK: usize = 64 * 1024 * 1024;

/// Runs `f` (a protox compile) on a thread with [`PROTO_STACK`], so that the
/// deepest import chain within [`MAX_PROTO_FILES`] fits whatever the calling
/// thread's stack is.
pub fn on_proto_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("protox".into())
            .stack_size(PROTO_STACK)
            .spawn_scoped(scope, f)
            .map_err(|e| format!("cannot start a thread to compile protos: {e}"))?;
        worker
            .join()
            .map_err(|_| "the proto compiler failed on these files; simplify them".to_string())
    })
}

/// The error for more than [`MAX_PROTO_FILES`] files, at `file`.
pub fn too_many_files(file: &str) -> ProtoError {
    ProtoError {
        file: file.to_string(),
        line: 0,
        column: 0,
        message: format!(
            "more than {MAX_PROTO_FILES} .proto files (imports included) are needed; split the schema or import fewer files"
        ),
    }
}

/// A thread failure as a [`ProtoError`] without a place.
fn thread_error(message: String) -> ProtoError {
    ProtoError {
        file: String::new(),
        line: 0,
        column: 0,
        message,
    }
}

/// Shared between a [`Guarded`] resolver and its caller: why it refused a file.
pub type Refusal = std::sync::Arc<std::sync::Mutex<Option<ProtoError>>>;

/// Gives a file's text by import name.
type Peek = Box<dyn Fn(&str) -> Option<String>>;

/// A file resolver that refuses sources nested too deeply ([`check_nesting`])
/// before protox parses and compiles them, and more than [`MAX_PROTO_FILES`]
/// files before protox recurses into the next import. `peek` gives a file's text by import
/// name, when it is one of the caller's; the refusal is kept in `refused`.
pub struct Guarded<R> {
    inner: R,
    peek: Peek,
    refused: Refusal,
    opened: std::cell::Cell<usize>,
}

impl<R> Guarded<R> {
    pub fn new(inner: R, peek: impl Fn(&str) -> Option<String> + 'static) -> Self {
        Guarded {
            inner,
            peek: Box::new(peek),
            refused: Refusal::default(),
            opened: std::cell::Cell::new(0),
        }
    }

    pub fn refusal(&self) -> Refusal {
        self.refused.clone()
    }
}

/// Takes the refusal out of `refused`, if the compile failed because of one.
pub fn refused(refused: &Refusal) -> Option<ProtoError> {
    refused.lock().unwrap_or_else(|p| p.into_inner()).take()
}

impl<R: protox::file::FileResolver> protox::file::FileResolver for Guarded<R> {
    fn resolve_path(&self, path: &Path) -> Option<String> {
        self.inner.resolve_path(path)
    }

    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        if !name.starts_with("google/protobuf/") {
            self.opened.set(self.opened.get() + 1);
            if self.opened.get() > MAX_PROTO_FILES {
                let e = too_many_files(name);
                let message = e.to_string();
                *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                return Err(protox::Error::new(std::io::Error::other(message)));
            }
        }
        if let Some(text) = (self.peek)(name)
            && let Err(e) = check_nesting(name, &text)
        {
            let message = e.to_string();
            *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            return Err(protox::Error::new(std::io::Error::other(message)));
        }
        self.inner.open_file(name)
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
    on_proto_stack(|| from_disk_here(protos, includes)).map_err(thread_error)?
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
    let mut chain = protox::file::ChainFileResolver::new();
    for dir in &includes {
        chain.add(protox::file::IncludeFileResolver::new(dir.clone()));
    }
    chain.add(protox::file::GoogleFileResolver::new());
    let dirs = includes.clone();
    let guarded = Guarded::new(chain, move |name| read_under(&dirs, name));
    let refusal = guarded.refusal();
    let mut compiler = protox::Compiler::with_file_resolver(guarded);
    compiler.include_imports(true).include_source_info(true);
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
/// well-known types need not be given.
pub fn from_memory(
    roots: &[String],
    files: &BTreeMap<String, String>,
) -> Result<Protos, ProtoError> {
    if files.len() > MAX_PROTO_FILES {
        return Err(too_many_files(""));
    }
    on_proto_stack(|| from_memory_here(roots, files)).map_err(thread_error)?
}

fn from_memory_here(
    roots: &[String],
    files: &BTreeMap<String, String>,
) -> Result<Protos, ProtoError> {
    for (name, source) in files {
        check_nesting(name, source)?;
    }
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(Memory(files.clone()));
    resolver.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true).include_source_info(true);
    let names: Vec<&str> = roots.iter().map(String::as_str).collect();
    compiler
        .open_files(names)
        .map_err(|e| error(e, &|n: &str| n.to_string(), &|n| files.get(n).cloned()))?;
    let sources = compiler
        .files()
        .filter(|f| files.contains_key(f.name()))
        .map(|f| (f.name().to_string(), files[f.name()].clone()))
        .collect();
    Ok(Protos {
        pool: compiler.descriptor_pool(),
        roots: roots.to_vec(),
        sources,
        display: BTreeMap::new(),
        include_of: BTreeMap::new(),
    })
}

/// The text of the file `name` under the first of `dirs` that has it, when it
/// is not too large to be a `.proto` file (protox refuses those itself).
pub fn read_under(dirs: &[PathBuf], name: &str) -> Option<String> {
    let path = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())?;
    if std::fs::metadata(&path).ok()?.len() > MAX_FILE_BYTES {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

struct Memory(BTreeMap<String, String>);

impl protox::file::FileResolver for Memory {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        match self.0.get(name) {
            Some(source) => protox::file::File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
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

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        let deep = format!("message M {{\n  option (x) = {};\n}}", "{ a ".repeat(70));
        // Line 2: `  option (x) = ` is 15 columns, then `{ a ` repeats; the 65th
        // level opens at 16 + 63 * 4.
        assert_eq!(too_deep(&deep), Some((2, 16 + 63 * 4)));
        let quiet = format!(
            "// {}\n/* {} */ message M {{ string s = 1 [default = \"{}\\\"{{\"]; }} '{}'",
            "{".repeat(100),
            "[".repeat(100),
            "<".repeat(100),
            "{".repeat(100)
        );
        assert_eq!(too_deep(&quiet), None);
        assert_eq!(too_deep(&"{}".repeat(1000)), None);
        let err = check_nesting("a.proto", &deep).unwrap_err();
        assert_eq!((err.line, err.column), (2, 268));
        assert!(err.to_string().starts_with("a.proto:2:268: "), "{err}");
    }
}
