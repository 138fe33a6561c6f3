//! `forge generate --interactive`: the choices the flags make, asked at
//! prompts on the terminal (standard error, so standard output stays data).

use std::io::IsTerminal;

use dialoguer::console::Term;
use dialoguer::{Confirm, Input, MultiSelect};

use crate::forge::check_timing;
use crate::forge::model::{Method, Service};

/// What the prompts decide; filled in with the flags' values first.
#[derive(Debug, Clone)]
pub struct Answers {
    /// Full names of the services chosen.
    pub services: Vec<String>,
    /// `package.Service/Method` of the methods chosen; empty when all of the
    /// chosen services' methods are.
    pub methods: Vec<String>,
    /// No method was chosen: only the health checks are generated.
    pub no_methods: bool,
    /// Methods that may change data are generated: one was ticked.
    pub include_writes: bool,
    pub health: bool,
    pub target: String,
    pub interval: String,
    pub timeout: String,
    pub tls: bool,
    /// Where to write; `None` prints to standard output.
    pub out_dir: Option<String>,
}

/// The flags that do what the prompts do, for messages.
pub const FLAGS: &str =
    "--service, --method, --no-health, --target, --interval, --timeout, --tls and -o DIR";

/// Fails unless standard input and standard error are terminals.
pub fn need_terminal() -> Result<(), String> {
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        Ok(())
    } else {
        Err(format!(
            "--interactive needs a terminal to ask on; without one, choose with the flags instead: {FLAGS}"
        ))
    }
}

fn prompt_error(e: dialoguer::Error) -> String {
    format!("reading the answer failed: {e}")
}

/// Asks for every choice, starting from `answers`.
pub fn ask(all: &[Service], answers: &mut Answers) -> Result<(), String> {
    need_terminal()?;
    let term = Term::stderr();
    let names: Vec<String> = all
        .iter()
        .map(|s| format!("{} ({} methods)", s.full_name, s.methods.len()))
        .collect();
    let defaults: Vec<bool> = all
        .iter()
        .map(|s| answers.services.is_empty() || answers.services.contains(&s.full_name))
        .collect();
    let chosen = MultiSelect::new()
        .with_prompt("Services (space toggles, enter accepts)")
        .items(&names)
        .defaults(&defaults)
        .interact_on(&term)
        .map_err(prompt_error)?;
    if chosen.is_empty() {
        return Err("no service chosen; nothing to generate".into());
    }
    answers.services = chosen.iter().map(|&i| all[i].full_name.clone()).collect();

    let chosen_methods: Vec<&Method> = chosen.iter().flat_map(|&i| all[i].methods.iter()).collect();
    let methods: Vec<&str> = chosen_methods.iter().map(|m| m.path.as_str()).collect();
    if !methods.is_empty() {
        // A method that may change data starts unticked, unless it was asked for.
        let defaults: Vec<bool> = chosen_methods
            .iter()
            .map(|m| {
                let named = answers.methods.contains(&m.path);
                named || (answers.methods.is_empty() && (m.reads || answers.include_writes))
            })
            .collect();
        let labels: Vec<String> = chosen_methods
            .iter()
            .map(|m| {
                if m.reads {
                    m.path.clone()
                } else {
                    format!("{}  [WRITES? {}; called on every run]", m.path, m.access)
                }
            })
            .collect();
        let picked = MultiSelect::new()
            .with_prompt("Methods to check (those marked WRITES? may change data)")
            .items(&labels)
            .defaults(&defaults)
            .interact_on(&term)
            .map_err(prompt_error)?;
        answers.include_writes = picked.iter().any(|&i| !chosen_methods[i].reads);
        if answers.include_writes {
            let writes: Vec<&str> = picked
                .iter()
                .filter(|&&i| !chosen_methods[i].reads)
                .map(|&i| methods[i])
                .collect();
            term.write_line(&format!(
                "warning: checks of these methods may change data on every run: {}",
                writes.join(", ")
            ))
            .map_err(|e| e.to_string())?;
        }
        answers.no_methods = picked.is_empty();
        answers.methods = if picked.len() == methods.len() || picked.is_empty() {
            Vec::new()
        } else {
            picked.iter().map(|&i| methods[i].to_string()).collect()
        };
    }
    if answers.no_methods {
        // Nothing else would be generated: the health checks are the point.
        term.write_line("No method chosen: only a health check per service.")
            .map_err(|e| e.to_string())?;
        answers.health = true;
    } else {
        answers.health = Confirm::new()
            .with_prompt("A health check per service?")
            .default(answers.health)
            .interact_on(&term)
            .map_err(prompt_error)?;
    }
    answers.target = Input::<String>::new()
        .with_prompt("Target (host:port)")
        .default(answers.target.clone())
        .validate_with(|t: &String| -> Result<(), String> {
            crate::spec::split_host_port(t)
                .map(|_| ())
                .ok_or_else(|| format!("`{t}` is not host:port"))
        })
        .interact_text_on(&term)
        .map_err(prompt_error)?;
    answers.tls = Confirm::new()
        .with_prompt("Speak TLS?")
        .default(answers.tls)
        .interact_on(&term)
        .map_err(prompt_error)?;
    answers.interval = Input::<String>::new()
        .with_prompt("Interval")
        .default(answers.interval.clone())
        .validate_with(|i: &String| -> Result<(), String> {
            // Any timeout shorter than a valid interval passes: only the interval is checked.
            check_timing(i, "1ms")
        })
        .interact_text_on(&term)
        .map_err(prompt_error)?;
    let interval = answers.interval.clone();
    answers.timeout = Input::<String>::new()
        .with_prompt("Timeout")
        .default(answers.timeout.clone())
        .validate_with(move |t: &String| check_timing(&interval, t))
        .interact_text_on(&term)
        .map_err(prompt_error)?;
    let out = Input::<String>::new()
        .with_prompt("Output directory (empty prints to standard output)")
        .default(answers.out_dir.clone().unwrap_or_default())
        .allow_empty(true)
        .interact_text_on(&term)
        .map_err(prompt_error)?;
    answers.out_dir = (!out.trim().is_empty()).then(|| out.trim().to_string());
    Ok(())
}

/// Shows what will be written and asks to go ahead.
pub fn confirm(preview: &str, what: &str) -> Result<bool, String> {
    let term = Term::stderr();
    term.write_line(preview).map_err(|e| e.to_string())?;
    Confirm::new()
        .with_prompt(what)
        .default(true)
        .interact_on(&term)
        .map_err(prompt_error)
}
