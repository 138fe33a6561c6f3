//! The default `--source` of plan and apply: a name that stays the same for a
//! repository whoever runs it and from wherever, so ownership does not flip between
//! a laptop and CI. In order:
//!
//! 1. the `source` key of `uptimeping.yaml` in the first `-f` directory (the file's
//!    directory for a file, the working directory for `-f -`) or its nearest parent
//!    that has one;
//! 2. the name of the root directory of the git repository holding that directory;
//! 3. that directory's own name.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The file whose `source` key names the source.
pub const PROJECT_FILE: &str = "uptimeping.yaml";

/// The default source name for files given as `first` (the first `-f`).
pub fn default_source(first: &Path) -> anyhow::Result<String> {
    let dir = start_dir(first)?;
    for ancestor in dir.ancestors() {
        let candidate = ancestor.join(PROJECT_FILE);
        if candidate.is_file() {
            if let Some(name) = read_source(&candidate)? {
                return Ok(name);
            }
            break;
        }
    }
    if let Some(root) = dir.ancestors().find(|a| a.join(".git").exists())
        && let Some(name) = dir_name(root)
    {
        return Ok(name);
    }
    dir_name(&dir).with_context(|| {
        format!(
            "cannot name a source after `{}`; pass --source NAME",
            dir.display()
        )
    })
}

/// The directory the files are in, absolute and without `..`.
fn start_dir(first: &Path) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("finding the working directory")?;
    let path = if first.as_os_str() == "-" {
        cwd
    } else {
        cwd.join(first)
    };
    let path = path
        .canonicalize()
        .with_context(|| format!("resolving `{}`", first.display()))?;
    Ok(if path.is_dir() {
        path
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or(path)
    })
}

fn read_source(path: &Path) -> anyhow::Result<Option<String>> {
    use crate::spec::yaml::{self, NodeValue};
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
    let (docs, soft) = yaml::parse(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: {}",
            path.display(),
            e.pos.line,
            e.pos.col,
            e.message
        )
    })?;
    if let Some(e) = soft.first() {
        anyhow::bail!(
            "{}:{}:{}: {}",
            path.display(),
            e.pos.line,
            e.pos.col,
            e.message
        );
    }
    let Some(root) = docs.into_iter().next().and_then(|d| d.root) else {
        return Ok(None);
    };
    let NodeValue::Map(entries) = root.value else {
        anyhow::bail!(
            "{}:{}:{}: expected a mapping such as `source: my-repo`",
            path.display(),
            root.pos.line,
            root.pos.col
        );
    };
    let Some((_, value)) = entries.iter().find(|(k, _)| k.as_str() == Some("source")) else {
        return Ok(None);
    };
    match value.as_str().map(str::trim) {
        Some(s) if !s.is_empty() => Ok(Some(s.to_string())),
        _ => anyhow::bail!(
            "{}:{}:{}: `source` must be a non-empty name",
            path.display(),
            value.pos.line,
            value.pos.col
        ),
    }
}

fn dir_name(dir: &Path) -> Option<String> {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    #[test]
    fn the_project_file_in_a_parent_names_the_source() {
        let t = tree(&[
            ("repo/.git/HEAD", "ref: refs/heads/main\n"),
            (
                "repo/monitoring/uptimeping.yaml",
                "source: platform-checks\n",
            ),
            ("repo/monitoring/checks/api.yaml", ""),
        ]);
        let checks = t.path().join("repo/monitoring/checks");
        assert_eq!(default_source(&checks).expect("name"), "platform-checks");
        assert_eq!(
            default_source(&checks.join("api.yaml")).expect("name"),
            "platform-checks"
        );
    }

    #[test]
    fn the_nearest_project_file_wins() {
        let t = tree(&[
            ("repo/uptimeping.yaml", "source: outer\n"),
            ("repo/team/uptimeping.yaml", "source: inner\nother: key\n"),
            ("repo/team/checks/api.yaml", ""),
        ]);
        assert_eq!(
            default_source(&t.path().join("repo/team/checks")).expect("name"),
            "inner"
        );
    }

    #[test]
    fn without_a_project_file_the_git_root_names_the_source() {
        let t = tree(&[
            ("payments-infra/.git/HEAD", "ref: refs/heads/main\n"),
            ("payments-infra/monitoring/checks/api.yaml", ""),
        ]);
        let checks = t.path().join("payments-infra/monitoring/checks");
        assert_eq!(default_source(&checks).expect("name"), "payments-infra");
    }

    #[test]
    fn a_git_worktree_file_counts_as_a_repository_root() {
        let t = tree(&[
            ("wt/.git", "gitdir: /elsewhere\n"),
            ("wt/checks/api.yaml", ""),
        ]);
        assert_eq!(
            default_source(&t.path().join("wt/checks")).expect("name"),
            "wt"
        );
    }

    #[test]
    fn a_project_file_without_source_falls_through_to_git() {
        let t = tree(&[
            ("repo/.git/HEAD", ""),
            ("repo/uptimeping.yaml", "# nothing yet\n"),
            ("repo/checks/api.yaml", ""),
        ]);
        assert_eq!(
            default_source(&t.path().join("repo/checks")).expect("name"),
            "repo"
        );
    }

    #[test]
    fn outside_git_the_directory_names_the_source() {
        let t = tree(&[("plain/checks/api.yaml", "")]);
        let checks = t.path().join("plain/checks");
        assert_eq!(default_source(&checks).expect("name"), "checks");
        assert_eq!(
            default_source(&checks.join("api.yaml")).expect("name"),
            "checks"
        );
    }

    #[test]
    fn an_empty_source_is_an_error_naming_the_file() {
        let t = tree(&[
            ("repo/uptimeping.yaml", "source: ''\n"),
            ("repo/a.yaml", ""),
        ]);
        let err = default_source(&t.path().join("repo")).expect_err("empty");
        assert!(err.to_string().contains("uptimeping.yaml"), "{err}");
    }
}
