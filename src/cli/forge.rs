//! `uptimeping forge`: `.proto` files → check YAML or a Rust crate.

mod interactive;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::json;

use super::files::plural;
use super::{OutputFormat, exit};
use crate::forge::{self, Filter, Format, ProtoRefs, Protos, Settings, load, model, templates};

const EXAMPLES: &str = "\
Examples:
  uptimeping forge validate --proto api/payments.proto -I api/
  uptimeping forge generate --proto api/payments.proto -I api/ --target payments:443 --tls -o checks/payments/
  uptimeping forge generate --proto api/*.proto -I api/ --service payments.v1.Payments --method GetStatus --interval 30s
  uptimeping forge generate --proto api/payments.proto -I api/ --lang rust -o payments-checks/
  uptimeping forge generate --proto api/payments.proto -I api/ --interactive
  uptimeping forge templates export ./my-templates";

/// Turn .proto files into checks: validate them, generate check YAML or a Rust crate
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    Validate(ValidateArgs),
    Generate(Box<GenerateArgs>),
    Templates(TemplatesArgs),
}

#[derive(Debug, clap::Args)]
struct ProtoArgs {
    /// A .proto file to read; several may follow one flag (`--proto api/*.proto`).
    #[arg(long = "proto", value_name = "FILE", required = true, num_args = 1..)]
    protos: Vec<PathBuf>,
    /// A directory imports are resolved against; each file must lie under one.
    /// Without it, the directory of each file. Repeatable.
    #[arg(short = 'I', long = "import-path", value_name = "DIR")]
    includes: Vec<PathBuf>,
}

impl ProtoArgs {
    fn load(&self) -> anyhow::Result<(Protos, Vec<PathBuf>)> {
        load::from_disk(&self.protos, &self.includes).map_err(anyhow::Error::new)
    }
}

const VALIDATE_EXAMPLES: &str = "\
Examples:
  uptimeping forge validate --proto api/payments.proto -I api/
  uptimeping forge validate --proto api/*.proto -I api/ -o json
  uptimeping forge validate --proto api/*.proto -I api/ --strict   # warnings fail too

Errors are `file:line:col: message`; warnings name the files without services and
the methods that cannot become checks (client and bidirectional streaming), with why.
Exit codes: 0 valid, 1 a file does not compile (or, with --strict, a warning).";

/// Compile .proto files (no protoc needed) and report what Forge can check
#[derive(Debug, clap::Args)]
#[command(after_help = VALIDATE_EXAMPLES)]
struct ValidateArgs {
    #[command(flatten)]
    protos: ProtoArgs,
    /// Exit with 1 when there are warnings.
    #[arg(long)]
    strict: bool,
    /// Output format of the result.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
}

impl ValidateArgs {
    fn run(self) -> anyhow::Result<u8> {
        let loaded = self.protos.load();
        if self.output != OutputFormat::Table {
            let doc = match &loaded {
                Ok((protos, _)) => {
                    let warnings = protos.warnings();
                    json!({
                        "valid": true,
                        "files": protos.roots,
                        "services": summary(protos),
                        "skipped": skipped_by_default(protos),
                        "warnings": warnings,
                        "errors": [],
                    })
                }
                Err(e) => json!({
                    "valid": false, "files": [], "services": [], "skipped": [], "warnings": [],
                    "errors": [load_error_json(e)],
                }),
            };
            self.output.print_value(&doc)?;
            return Ok(match &loaded {
                Ok((p, _)) if self.strict && !p.warnings().is_empty() => exit::ERROR,
                Ok(_) => exit::OK,
                Err(_) => exit::ERROR,
            });
        }
        let (protos, _) = loaded?;
        let warnings = protos.warnings();
        for w in &warnings {
            anstream::eprintln!("{w}");
        }
        let services = summary(&protos);
        let methods: usize = services
            .iter()
            .map(|s| s["methods"].as_array().map_or(0, Vec::len))
            .sum();
        let checkable: usize = services
            .iter()
            .flat_map(|s| s["methods"].as_array().cloned().unwrap_or_default())
            .filter(|m| m["checkable"] == json!(true))
            .count();
        let files = protos.roots.len();
        writeln!(
            anstream::stdout(),
            "Valid: {files} {}, {} {}, {methods} {} ({checkable} can be checked)",
            plural(files, "file", "files"),
            services.len(),
            plural(services.len(), "service", "services"),
            plural(methods, "method", "methods"),
        )?;
        Ok(if self.strict && !warnings.is_empty() {
            exit::ERROR
        } else {
            exit::OK
        })
    }
}

fn load_error_json(e: &anyhow::Error) -> serde_json::Value {
    match e.downcast_ref::<forge::ProtoError>() {
        Some(p) => serde_json::to_value(p).unwrap_or_default(),
        None => json!({"file": "", "line": 0, "column": 0, "message": e.to_string()}),
    }
}

/// The methods `generate` leaves out by default, as possible writes.
fn skipped_by_default(protos: &Protos) -> Vec<forge::Skipped> {
    protos
        .root_files()
        .iter()
        .flat_map(|f| f.services().collect::<Vec<_>>())
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .filter(|m| load::unsupported(m).is_none())
        .filter_map(|m| {
            let a = forge::access::access(&m);
            (!a.reads).then(|| forge::Skipped {
                method: format!("{}/{}", m.parent_service().full_name(), m.name()),
                reason: a.reason,
            })
        })
        .collect()
}

/// The services of the root files and whether each method can be checked.
fn summary(protos: &Protos) -> Vec<serde_json::Value> {
    protos
        .root_files()
        .iter()
        .flat_map(|f| f.services().collect::<Vec<_>>())
        .map(|s| {
            json!({
                "name": s.full_name(),
                "file": s.parent_file().name(),
                "methods": s.methods().map(|m| json!({
                    "name": m.name(),
                    "client_streaming": m.is_client_streaming(),
                    "server_streaming": m.is_server_streaming(),
                    "checkable": load::unsupported(&m).is_none(),
                    "reads": forge::access::access(&m).reads,
                    "access": forge::access::access(&m).reason,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

const GENERATE_EXAMPLES: &str = "\
Examples:
  uptimeping forge generate --proto api/payments.proto -I api/ --target payments:443 --tls -o checks/payments/
  uptimeping forge generate --proto api/*.proto -I api/ --target localhost:50051 \\
      --service payments.v1.Payments --method GetStatus --interval 30s
  uptimeping forge generate --proto api/payments.proto -I api/ --format json
  uptimeping forge generate --proto api/payments.proto -I api/ --lang rust -o payments-checks/
  uptimeping forge generate --proto api/payments.proto -I api/ --interactive
  uptimeping forge generate --proto api/payments.proto -I api/ --template-dir ./my-templates
  uptimeping forge generate --proto api/ops.proto -I api/ --set GetOperation:name=operations/build-42
  uptimeping forge generate --proto api/ops.proto -I api/ --values values.yaml --include-writes

Writes one check per unary and server-streaming method that only reads, and a
health check per service (not with --method, nor with --no-health). Methods that
may change data (not `idempotency_level = NO_SIDE_EFFECTS`, no `google.api.http`
GET binding, no reading name such as Get…/List…) are skipped and listed, in the
files and on standard error; --include-writes generates them too.

Values marked `# placeholder` are made up from the types; give real ones with
`--set [METHOD:]FIELD.PATH=VALUE` (METHOD is `GetStatus` or
`pkg.Service/GetStatus`; without it, every request with that field) or
`--values FILE` (a YAML mapping from method, or \"*\", to request fields).

With -o DIR, one file per service in DIR whose `grpc.proto` points back at the
.proto relative to DIR; without, everything to standard output with paths
relative to the current directory. Output is the same, byte for byte, for the same input.";

/// `--format`: forge's [`Format`], as a flag's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FormatArg {
    Yaml,
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Yaml => Format::Yaml,
            FormatArg::Json => Format::Json,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Lang {
    Yaml,
    Rust,
}

/// Generate check YAML (or a Rust crate) from .proto files
#[derive(Debug, clap::Args)]
#[command(after_help = GENERATE_EXAMPLES)]
struct GenerateArgs {
    #[command(flatten)]
    protos: ProtoArgs,
    /// `host:port` the checks call.
    #[arg(long, default_value = forge::DEFAULT_TARGET)]
    target: String,
    /// How often each check runs.
    #[arg(long, default_value = forge::DEFAULT_INTERVAL)]
    interval: String,
    /// Limit on one call; shorter than the interval.
    #[arg(long, default_value = forge::DEFAULT_TIMEOUT)]
    timeout: String,
    /// Speak TLS to the target.
    #[arg(long)]
    tls: bool,
    /// Only this service (full or short name). Repeatable.
    #[arg(long = "service", value_name = "NAME")]
    services: Vec<String>,
    /// Only this method (`GetStatus` or `payments.v1.Payments/GetStatus`); leaves
    /// out the health checks. Repeatable.
    #[arg(long = "method", value_name = "NAME")]
    methods: Vec<String>,
    /// No health check per service.
    #[arg(long)]
    no_health: bool,
    /// Also generate checks for methods that may change data (delete, cancel,
    /// create, …); every run calls them. Skipped by default.
    #[arg(long)]
    include_writes: bool,
    /// A request value instead of the sampled one: `[METHOD:]FIELD.PATH=VALUE`,
    /// e.g. `GetStatus:payment_id=p-123` or `amount.units=250`. Repeatable.
    #[arg(long = "set", value_name = "[METHOD:]FIELD=VALUE")]
    sets: Vec<String>,
    /// A YAML file of request values: `{GetStatus: {payment_id: p-123}, "*": {…}}`.
    /// Applied before --set. Repeatable.
    #[arg(long = "values", value_name = "FILE")]
    values: Vec<PathBuf>,
    /// Format of the checks.
    #[arg(long, value_enum, default_value_t = FormatArg::Yaml)]
    format: FormatArg,
    /// What to generate: check files, or a Rust crate that makes the same calls.
    #[arg(long, value_enum, default_value_t = Lang::Yaml)]
    lang: Lang,
    /// Directory to write into (created if needed); standard output without it.
    #[arg(short = 'o', long = "out-dir", value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// `--lang rust`: the crate's name; by default from the output directory.
    #[arg(long, value_name = "NAME")]
    crate_name: Option<String>,
    /// Render with the templates in DIR (see `forge templates export`); files
    /// missing there come from the built-in set.
    #[arg(long, value_name = "DIR")]
    template_dir: Option<PathBuf>,
    /// Choose services, methods, target, interval and timeout at prompts,
    /// preview, then write; every choice has a flag too.
    #[arg(long)]
    interactive: bool,
    /// Set by the prompts: no method was chosen, only health checks are wanted.
    #[arg(skip)]
    no_methods: bool,
}

impl GenerateArgs {
    fn run(mut self) -> anyhow::Result<u8> {
        if self.interactive {
            interactive::need_terminal().map_err(|e| anyhow::anyhow!(e))?;
        }
        let (protos, includes) = self.protos.load()?;
        for w in protos.warnings() {
            anstream::eprintln!("{w}");
        }
        let templates = templates::Templates::new(self.template_dir.as_deref())
            .map_err(|e| anyhow::anyhow!(e))?;
        let mut health = !self.no_health && self.methods.is_empty();
        if self.interactive {
            health = self.ask(&protos)?;
        }
        forge::check_timing(&self.interval, &self.timeout).map_err(|e| anyhow::anyhow!(e))?;
        if crate::spec::split_host_port(&self.target).is_none() {
            bail!("--target `{}` is not `host:port`", self.target);
        }
        let filter = Filter {
            services: self.services.clone(),
            methods: self.methods.clone(),
            include_writes: self.include_writes,
        };
        let files: Vec<&Path> = self.values.iter().map(PathBuf::as_path).collect();
        let values =
            forge::values::Values::new(&files, &self.sets).map_err(|e| anyhow::anyhow!(e))?;
        let mut services =
            model::build(&protos, &filter, &values).map_err(|e| anyhow::anyhow!(e))?;
        let skipped = model::skipped(&services);
        for k in &skipped {
            anstream::eprintln!(
                "skipped {}: {}; --include-writes generates it",
                k.method,
                k.reason
            );
        }
        let writes: Vec<String> = model::writes(&services)
            .iter()
            .map(|m| format!("{} ({})", m.path, m.access))
            .collect();
        if !writes.is_empty() {
            anstream::eprintln!(
                "warning: --include-writes: these checks call methods that may change data on every run: {}",
                writes.join(", ")
            );
        }
        if self.no_methods {
            for s in &mut services {
                s.methods.clear();
            }
        }
        let settings = Settings {
            target: self.target.clone(),
            schedule: self.interval.clone(),
            timeout: self.timeout.clone(),
            tls: self.tls,
            health,
        };
        let services = forge::keep_nonempty(services, &settings);
        if services.is_empty() {
            bail!("{}", forge::nothing_to_generate(&skipped));
        }
        forge::check_count(&services).map_err(|e| anyhow::anyhow!(e))?;
        if self.lang == Lang::Rust {
            let Some(dir) = &self.out_dir else {
                bail!("--lang rust writes a crate: give its directory with -o DIR");
            };
            let wanted = match &self.crate_name {
                Some(n) => n.clone(),
                None => load::absolute(dir)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            };
            let files = forge::rust::render(
                &services,
                &settings,
                &protos.roots,
                &protos.sources,
                &protos.pool,
                &forge::rust::crate_name(&wanted),
                &templates,
            )
            .map_err(|e| anyhow::anyhow!(e))?;
            forge::check_output(&files).map_err(|e| anyhow::anyhow!(e))?;
            write_files(dir, &files)?;
            return Ok(exit::OK);
        }
        // Paths are resolved by the OS from the file's real directory, so they
        // are computed between real (symlink-free) directories.
        let base = match &self.out_dir {
            Some(d) => load::physical(d),
            None => load::physical(Path::new(".")),
        };
        let refs = refs(&protos, &includes, &self.protos.includes, &base);
        let files = forge::yaml::render(
            &services,
            &settings,
            &refs,
            self.format.into(),
            self.out_dir.is_some(),
            &templates,
        )
        .map_err(|e| anyhow::anyhow!(e))?;
        forge::check_output(&files).map_err(|e| anyhow::anyhow!(e))?;
        if self.interactive {
            let preview: String = files
                .iter()
                .map(|f| format!("# ---- {} ----\n{}", f.path, f.content))
                .collect();
            let what = match &self.out_dir {
                Some(d) => format!(
                    "Write {} to {}?",
                    plural(files.len(), "this file", "these files"),
                    d.display()
                ),
                None => "Print this to standard output?".to_string(),
            };
            if !interactive::confirm(&preview, &what).map_err(|e| anyhow::anyhow!(e))? {
                anstream::eprintln!("nothing written");
                return Ok(exit::OK);
            }
        }
        match &self.out_dir {
            None => {
                let mut out = std::io::stdout().lock();
                for f in &files {
                    out.write_all(f.content.as_bytes())?;
                }
            }
            Some(dir) => write_files(dir, &files)?,
        }
        Ok(exit::OK)
    }
}

impl GenerateArgs {
    /// Asks for the choices the flags make; returns whether to add health checks.
    fn ask(&mut self, protos: &Protos) -> anyhow::Result<bool> {
        // Every method is offered; those that may change data start unticked.
        let everything = Filter {
            include_writes: true,
            ..Filter::default()
        };
        let all = model::build(protos, &everything, &forge::values::Values::default())
            .map_err(|e| anyhow::anyhow!(e))?;
        let mut answers = interactive::Answers {
            services: all
                .iter()
                .filter(|s| {
                    self.services
                        .iter()
                        .any(|w| *w == s.full_name || *w == s.name)
                })
                .map(|s| s.full_name.clone())
                .collect(),
            methods: all
                .iter()
                .flat_map(|s| s.methods.iter())
                .filter(|m| self.methods.iter().any(|w| *w == m.name || *w == m.path))
                .map(|m| m.path.clone())
                .collect(),
            no_methods: false,
            include_writes: self.include_writes,
            health: !self.no_health,
            target: self.target.clone(),
            interval: self.interval.clone(),
            timeout: self.timeout.clone(),
            tls: self.tls,
            out_dir: self.out_dir.as_ref().map(|d| d.display().to_string()),
        };
        interactive::ask(&all, &mut answers).map_err(|e| anyhow::anyhow!(e))?;
        self.services = answers.services;
        self.methods = answers.methods;
        self.no_methods = answers.no_methods;
        self.include_writes = answers.include_writes;
        self.target = answers.target;
        self.interval = answers.interval;
        self.timeout = answers.timeout;
        self.tls = answers.tls;
        self.out_dir = answers.out_dir.map(PathBuf::from);
        Ok(answers.health)
    }
}

/// Writes `files` under `dir` and lists them on standard output.
fn write_files(dir: &Path, files: &[forge::OutFile]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let mut out = anstream::stdout();
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating `{}`", parent.display()))?;
        }
        std::fs::write(&path, &f.content)
            .with_context(|| format!("writing `{}`", path.display()))?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(())
}

/// Where the generated files find the protos, relative to `base` (a real
/// directory, see [`load::physical`]). Each `grpc.proto` is its import path
/// followed by its import name, so it still names the file under that import
/// path when the tree below holds symlinks.
fn refs(protos: &Protos, includes: &[PathBuf], given: &[PathBuf], base: &Path) -> ProtoRefs {
    let includes: Vec<PathBuf> = includes.iter().map(|i| load::physical(i)).collect();
    let protos_map = protos
        .roots
        .iter()
        .map(|name| {
            let dir = protos
                .include_of
                .get(name)
                .and_then(|i| includes.get(*i))
                .cloned()
                .unwrap_or_default();
            let dir = load::relative(&dir, base);
            let path = if dir == "." {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            (name.clone(), path)
        })
        .collect();
    // Without -I, each file's directory is an import path. With one file (or
    // one directory) that is where `grpc.proto` looks first anyway; with
    // several, a file may import one from another directory, so all are given.
    let import_paths = if given.is_empty() && includes.len() <= 1 {
        Vec::new()
    } else {
        includes.iter().map(|i| load::relative(i, base)).collect()
    };
    ProtoRefs {
        protos: protos_map,
        import_paths,
    }
}

const TEMPLATES_EXAMPLES: &str = "\
Examples:
  uptimeping forge templates export ./my-templates
  uptimeping forge generate --proto api/payments.proto --template-dir ./my-templates

Templates are minijinja (Jinja2 syntax). A file missing from the directory falls
back to the built-in one; an error names the template and the line.";

/// Work with the templates Forge renders
#[derive(Debug, clap::Args)]
#[command(after_help = TEMPLATES_EXAMPLES)]
struct TemplatesArgs {
    #[command(subcommand)]
    command: TemplatesSub,
}

#[derive(Debug, clap::Subcommand)]
enum TemplatesSub {
    Export(ExportArgs),
    /// List the names of the built-in templates, one a line
    List,
}

/// Write the built-in templates to a directory, to edit and use with --template-dir
#[derive(Debug, clap::Args)]
#[command(after_help = TEMPLATES_EXAMPLES)]
struct ExportArgs {
    /// Directory to write into; created if needed.
    dir: PathBuf,
    /// Overwrite templates already there.
    #[arg(long)]
    force: bool,
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        match self.command {
            Sub::Validate(a) => a.run(),
            Sub::Generate(a) => (*a).run(),
            Sub::Templates(t) => match t.command {
                TemplatesSub::Export(a) => {
                    let written =
                        templates::export(&a.dir, a.force).map_err(|e| anyhow::anyhow!(e))?;
                    let mut out = anstream::stdout();
                    for p in &written {
                        writeln!(out, "wrote {}", p.display())?;
                    }
                    Ok(exit::OK)
                }
                TemplatesSub::List => {
                    let mut out = anstream::stdout();
                    for (name, _) in templates::BUILTIN {
                        writeln!(out, "{name}")?;
                    }
                    Ok(exit::OK)
                }
            },
        }
    }
}
