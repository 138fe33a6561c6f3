//! Finding and reading the files named by `-f`: files, directories (recursively,
//! `*.yaml` and `*.yml`, hidden entries skipped), and `-` for standard input.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The text of one input file and where relative paths inside it start.
#[derive(Debug, Clone)]
pub struct Source {
    /// As shown in messages: the path as found, or `<stdin>`.
    pub name: String,
    pub text: String,
    /// Directory that `ca_file` and other relative paths are resolved against.
    pub base_dir: PathBuf,
}

impl Source {
    pub fn new(
        name: impl Into<String>,
        text: impl Into<String>,
        base_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
            base_dir: base_dir.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The I/O error is part of the message rather than the error's source, so that
    /// a report of the whole chain (`{:#}`) does not print it twice.
    #[error("cannot read `{path}`: {error}; check that the path given with -f exists")]
    Read { path: String, error: std::io::Error },
    #[error("`{0}` is not valid UTF-8 text")]
    NotText(String),
    #[error("no .yaml or .yml files found under `{0}`")]
    Empty(String),
    #[error("`-f -` may be given only once")]
    StdinTwice,
}

/// Reads every input named by `paths`, in order; a directory's files in name order.
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<Source>, SourceError> {
    let mut out = Vec::new();
    let mut stdin_used = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if stdin_used {
                return Err(SourceError::StdinTwice);
            }
            stdin_used = true;
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| SourceError::Read {
                    path: "<stdin>".into(),
                    error,
                })?;
            let cwd = std::env::current_dir().unwrap_or_default();
            out.push(Source::new("<stdin>", text, cwd));
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|error| read_err(path, error))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            collect_dir(path, &mut files)?;
            if files.is_empty() {
                return Err(SourceError::Empty(path.display().to_string()));
            }
            for f in files {
                out.push(read_file(&f)?);
            }
        } else {
            out.push(read_file(path)?);
        }
    }
    Ok(out)
}

fn read_err(path: &Path, error: std::io::Error) -> SourceError {
    SourceError::Read {
        path: path.display().to_string(),
        error,
    }
}

fn read_file(path: &Path) -> Result<Source, SourceError> {
    let bytes = std::fs::read(path).map_err(|error| read_err(path, error))?;
    let text =
        String::from_utf8(bytes).map_err(|_| SourceError::NotText(path.display().to_string()))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Source::new(path.display().to_string(), text, base))
}

fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|error| read_err(dir, error))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_dir(&p, files)?;
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == "yaml" || e == "yml")
        {
            files.push(p);
        }
    }
    Ok(())
}
