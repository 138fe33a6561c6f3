//! The guards every protox compile runs behind: hostile `.proto` sources are
//! refused for their nesting, size and file count before protox recurses into
//! them, and protox runs on a thread with a stack big enough for the deepest
//! import chain the file count allows.

use std::path::{Path, PathBuf};

use super::ProtoError;

/// The largest `.proto` file read: descriptors are small, this is generous.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

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
/// as the Forge API's limit on the files of one request.
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

/// The error for more than [`MAX_PROTO_FILES`] files, found while opening `file`.
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

/// The error for `given` in-memory files, more than [`MAX_PROTO_FILES`].
pub fn too_many_given(given: usize) -> ProtoError {
    ProtoError::unplaced(format!(
        "{given} .proto files given; at most {MAX_PROTO_FILES}, imports included (split the schema or import fewer files)"
    ))
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

/// A protox compiler that reads imports from `includes`, then Google's
/// well-known files, every file under the guards; with the refusal it fills
/// when a guard stops a file. Imports are kept in the compiled pool.
pub fn guarded_compiler(includes: &[PathBuf]) -> (protox::Compiler, Refusal) {
    let mut chain = protox::file::ChainFileResolver::new();
    for dir in includes {
        chain.add(protox::file::IncludeFileResolver::new(dir.clone()));
    }
    chain.add(protox::file::GoogleFileResolver::new());
    let dirs = includes.to_vec();
    let guarded = Guarded::new(chain, move |name| read_under(&dirs, name));
    let refusal = guarded.refusal();
    let mut compiler = protox::Compiler::with_file_resolver(guarded);
    compiler.include_imports(true);
    (compiler, refusal)
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

/// A resolver over sources in memory, by import name.
pub(super) struct Memory(pub(super) std::collections::BTreeMap<String, String>);

impl protox::file::FileResolver for Memory {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        match self.0.get(name) {
            Some(source) => protox::file::File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
