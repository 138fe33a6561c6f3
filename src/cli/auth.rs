//! `uptimeping auth …`: logging in and out (the tokens kept per context, see
//! [`super::session`]), who the credential in use stands for, registering,
//! changing one's password, accepting an invitation, and API keys.

use std::sync::Arc;

use clap::Subcommand;
use dialoguer::console::Term;

use super::client::{
    ApiError, Client, ClientError, ConnectArgs, Connection, Credential, Located, Login,
    REQUEST_TIMEOUT, block_on, shown_url,
};
use super::output::{fields, or_dash, relative, show};
use super::session::{MAX_LOGIN_LIFETIME, MAX_TOKEN_ANSWER_BYTES, SavedLogin};
use super::{OutputFormat, exit};
use crate::model::{
    AcceptInviteRequest, LoginRequest, LogoutRequest, PasswordChange, RegisterRequest, TokenPair,
    Whoami,
};

const EXAMPLES: &str = "\
Examples:
  uptimeping auth login                                   # asks for email and password
  uptimeping auth login --email ci@example.com --password-stdin < secret
  uptimeping auth whoami
  uptimeping auth logout
  uptimeping auth api-key create ci-deploy --role operator --expires 90d
  uptimeping auth api-key list
  uptimeping auth api-key revoke 3f9a1c0b7d2e

A login is kept per context in ~/.uptimeping/tokens/<context>.json (readable by you
only) and renews itself until its refresh token's lifetime (7 days) ends. Requests use,
in this order: --api-key, UPTIMEPING_API_KEY, the saved login, the context's API key.";

/// `uptimeping auth …`: one of the subcommands below, with the output format and
/// connection options they share.
pub(super) type Args = super::group::Group<Cmd>;

/// Says which subcommands `--output` is for, since only `whoami` and `api-key`
/// print anything that has a format. For `mut_args` rather than `mut_arg`, which
/// would move the option to the end of the completion scripts.
pub(super) fn output_help(arg: clap::Arg) -> clap::Arg {
    if arg.get_id() == "output" {
        arg.help("Output format of `whoami` and `api-key`")
    } else {
        arg
    }
}

/// Log in and out, see who you are, manage API keys
#[derive(Debug, Subcommand)]
#[command(after_help = EXAMPLES)]
pub(super) enum Cmd {
    /// Log in with an email and password and keep the tokens for this context
    #[command(after_help = LOGIN_EXAMPLES)]
    Login {
        /// The account's email; asked for on a terminal when left out
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
        /// Read the password from the first line of standard input instead of asking
        #[arg(long, requires = "email")]
        password_stdin: bool,
        /// The tenant, when the same email and password belong to users of several
        #[arg(long, value_name = "NAME")]
        tenant: Option<String>,
    },
    /// End the session on the daemon and delete the saved login
    #[command(
        after_help = "Examples:\n  uptimeping auth logout\n  uptimeping auth logout --context prod\n\n\
If the daemon cannot be reached, the saved login is deleted here all the same and\n\
the command says so; the session then ends on the daemon when its refresh token expires."
    )]
    Logout,
    /// Show who the credential in use stands for: user or key, tenant, role
    #[command(after_help = "Examples:\n  uptimeping auth whoami\n  uptimeping auth whoami -o json")]
    Whoami,
    /// Create a tenant with yourself as its admin (only where the daemon allows signup)
    #[command(
        after_help = "Examples:\n  uptimeping auth register --email me@example.com --tenant acme\n  uptimeping auth register --email me@example.com --tenant acme --password-stdin < secret\n\n\
The daemon must run with --allow-signup. You are logged in afterwards, as after `auth login`."
    )]
    Register {
        /// Your email, the new tenant's first admin
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// The new tenant's name: 1–63 lowercase letters, digits and `-`
        #[arg(long, value_name = "NAME")]
        tenant: String,
        /// Read the password from the first line of standard input instead of asking
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change your password (ends your other sessions)
    #[command(after_help = PASSWD_EXAMPLES)]
    Passwd {
        /// Read the current password from the first line of standard input and the new one from the second
        #[arg(long)]
        password_stdin: bool,
    },
    /// Accept an invitation: choose your password and log in
    #[command(
        after_help = "Examples:\n  uptimeping auth accept-invite upinv_Xq3… --url https://uptime.example.com\n  uptimeping auth accept-invite \"$TOKEN\" --password-stdin < first-password"
    )]
    AcceptInvite {
        /// The invitation token an admin gave you (`upinv_…`)
        #[arg(value_name = "TOKEN")]
        token: String,
        /// Read the password from the first line of standard input instead of asking
        #[arg(long)]
        password_stdin: bool,
    },
    /// Create, list and revoke API keys (admins)
    #[command(subcommand, name = "api-key", after_help = keys::EXAMPLES)]
    ApiKey(keys::KeyCmd),
}

const LOGIN_EXAMPLES: &str = "\
Examples:
  uptimeping auth login
  uptimeping auth login --context prod
  uptimeping auth login --email ci@example.com --password-stdin < secret
  uptimeping auth login --url http://127.0.0.1:8080 --email me@example.com --tenant acme

The tokens are kept in ~/.uptimeping/tokens/<context>.json (for a --url without a
context, a file named after the URL), mode 0600, and are only sent to the URL they
were made for. UPTIMEPING_API_KEY and --api-key still win over them.";

const PASSWD_EXAMPLES: &str = "\
Examples:
  uptimeping auth passwd                                   # asks for both, the new one twice
  printf '%s\\n%s\\n' \"$OLD\" \"$NEW\" | uptimeping auth passwd --password-stdin

Only a logged-in user can change their password (not an API key). Your other
sessions (other machines, the console) end; this login keeps working.";

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        match self.command {
            Cmd::Login {
                email,
                password_stdin,
                tenant,
            } => login(&self.connect, email, password_stdin, tenant),
            Cmd::Logout => logout(&self.connect),
            Cmd::Whoami => whoami(&self.connect, self.output),
            Cmd::Register {
                email,
                tenant,
                password_stdin,
            } => {
                let password = new_password(password_stdin)?;
                let req = RegisterRequest {
                    email,
                    password,
                    tenant,
                };
                obtain_login(&self.connect, "auth/register", |c| {
                    block_on(c.post(&["auth", "register"], &req, REQUEST_TIMEOUT))
                })
            }
            Cmd::Passwd { password_stdin } => passwd(&self.connect, password_stdin),
            Cmd::AcceptInvite {
                token,
                password_stdin,
            } => {
                let password = new_password(password_stdin)?;
                let req = AcceptInviteRequest { token, password };
                obtain_login(&self.connect, "auth/accept-invite", |c| {
                    block_on(c.post(&["auth", "accept-invite"], &req, REQUEST_TIMEOUT))
                })
            }
            Cmd::ApiKey(cmd) => keys::run(&self.connect, cmd, self.output),
        }
    }
}

fn login(
    connect: &ConnectArgs,
    email: Option<String>,
    password_stdin: bool,
    tenant: Option<String>,
) -> anyhow::Result<u8> {
    let email = match email {
        Some(email) => email,
        None => {
            need_terminal("the email", "--email EMAIL --password-stdin")?;
            dialoguer::Input::<String>::new()
                .with_prompt("Email")
                .interact_text_on(&Term::stderr())
                .map_err(prompt_error)?
        }
    };
    let password = if password_stdin {
        read_stdin_lines(1)?.remove(0)
    } else {
        need_terminal("the password", "--password-stdin")?;
        ask_password("Password")?
    };
    let req = LoginRequest {
        email,
        password,
        tenant,
    };
    obtain_login(connect, "auth/login", |c| {
        block_on(c.post(&["auth", "login"], &req, REQUEST_TIMEOUT))
    })
}

/// Asks the daemon for a token pair with `ask` (login, register, accept-invite)
/// and keeps it as this context's login, replacing (and ending) an older one.
/// That the login can be kept is checked first, under the login's lock, so that
/// the daemon is not asked for a session that would be left behind; should it
/// still not be kept, the new session is ended on the daemon.
fn obtain_login(
    connect: &ConnectArgs,
    what: &str,
    ask: impl FnOnce(&Client) -> anyhow::Result<anyhow::Result<TokenPair>>,
) -> anyhow::Result<u8> {
    let located = connect.located()?;
    let store = located.login_store()?;
    // A broken old file is replaced, not a reason to refuse the new login.
    let old = located.saved_login().ok().flatten();
    let lock = block_on(store.lock())??;
    store.check_can_save()?;
    let client = Client::anonymous(located.url.clone())?.max_response(MAX_TOKEN_ANSWER_BYTES);
    let asked_at = chrono::Utc::now();
    let pair = ask(&client)?.map_err(|e| match e.downcast_ref::<ClientError>() {
        Some(ClientError::TooLarge { .. }) => e.context(format!(
            "the answer to POST /api/v1/{what} is not a login; check that --url points at an uptimeping daemon"
        )),
        _ => without_key_hint(e, what),
    })?;
    let kept = SavedLogin::from_pair(&located.url, &pair, asked_at)
        .and_then(|fresh| store.save(&fresh).map(|()| fresh));
    drop(lock);
    let fresh = match kept {
        Ok(fresh) => fresh,
        Err(e) => {
            let ended = match end_session(&located, &pair.access_token, &pair.refresh_token) {
                Ok(()) => "the daemon logged you in, but the login cannot be kept here, so its new session \
                           has been ended again"
                    .to_string(),
                Err(why) => format!(
                    "the daemon logged you in, but the login cannot be kept here, and its new session could \
                     not be ended ({why:#}); it ends by itself within {}",
                    humantime::format_duration(std::time::Duration::from_secs(
                        pair.refresh_expires_in.min(MAX_LOGIN_LIFETIME.as_secs())
                    ))
                ),
            };
            return Err(e.context(ended));
        }
    };
    if let Some((_, old)) = old
        && old.refresh_token != fresh.refresh_token
        && !old.access_expiring(chrono::Utc::now())
    {
        // A failure only leaves the old session to expire.
        let _ = end_session(&located, &old.access_token, &old.refresh_token);
    }
    eprintln!(
        "logged in to {} as {} (tenant {}, role {}); the login is kept in {} and renews itself until {}",
        shown_url(&located.url),
        pair.user.name,
        pair.user.tenant,
        pair.user.role,
        store.path.display(),
        fresh.refresh_expires_at.format("%Y-%m-%d %H:%M UTC"),
    );
    if located.key_given() {
        eprintln!(
            "note: --api-key or UPTIMEPING_API_KEY is set, and wins over this login; unset it to use the login"
        );
    }
    Ok(exit::OK)
}

/// Ends the session of a token pair on the daemon. The access token is sent
/// as it is: refreshing it would rotate a token that is being thrown away.
fn end_session(located: &Located, access_token: &str, refresh_token: &str) -> anyhow::Result<()> {
    let conn = Connection {
        url: located.url.clone(),
        credential: Credential::Key(access_token.to_string()),
    };
    let client = Client::new(conn)?;
    let req = LogoutRequest {
        refresh_token: Some(refresh_token.to_string()),
    };
    block_on(client.post_empty(&["auth", "logout"], &req))?
}

fn logout(connect: &ConnectArgs) -> anyhow::Result<u8> {
    let located = connect.located()?;
    let Some((store, saved)) = located.saved_login()? else {
        let where_ = located
            .login_store()
            .map(|s| format!(" (no {})", s.path.display()))
            .unwrap_or_default();
        eprintln!(
            "not logged in to {}{where_}; nothing to do",
            shown_url(&located.url)
        );
        return Ok(exit::OK);
    };
    let until = saved.refresh_expires_at;
    let login = Arc::new(Login::new(store.clone(), saved));
    let client = Client::new(Connection {
        url: located.url.clone(),
        credential: Credential::Login(Arc::clone(&login)),
    })?;
    let outcome = block_on(client.post_empty(&["auth", "logout"], &LogoutRequest::default()))?;
    // Deleted whatever the daemon said, under the lock so that a refresh in
    // another process cannot write it back.
    block_on(async {
        let _lock = store.lock().await?;
        store.delete()
    })??;
    match outcome {
        Ok(()) => eprintln!(
            "logged out of {}: the session has ended and {} is deleted",
            shown_url(&located.url),
            store.path.display()
        ),
        Err(e)
            if e.downcast_ref::<ClientError>()
                .is_some_and(|e| matches!(e, ClientError::LoginEnded { .. })) =>
        {
            eprintln!(
                "the login had already ended on the daemon; deleted {}",
                store.path.display()
            );
        }
        Err(e) => eprintln!(
            "warning: could not end the session on the daemon: {e:#}\n\
             deleted {} here all the same; on the daemon the session lasts until {} unless an admin ends it \
             (or you log in and out again)",
            store.path.display(),
            until.format("%Y-%m-%d %H:%M UTC")
        ),
    }
    Ok(exit::OK)
}

fn whoami(connect: &ConnectArgs, output: OutputFormat) -> anyhow::Result<u8> {
    let client = Client::from_args(connect)?;
    let me: Whoami = block_on(client.get(&["auth", "whoami"], &[]))??;
    let credential = match client.credential() {
        Credential::Login(login) => format!(
            "saved login ({}), renewed by itself until {}",
            login.store().path.display(),
            block_on(login.ends_at())?.format("%Y-%m-%d %H:%M UTC")
        ),
        Credential::Key(_) => "API key".to_string(),
        Credential::None => "none".to_string(),
    };
    show(output, &me, || {
        fields(&[
            (
                if me.kind == "user" { "User" } else { "API key" },
                me.name.clone(),
            ),
            ("ID", me.id.clone()),
            ("Tenant", format!("{} (id {})", me.tenant, me.tenant_id)),
            ("Role", me.role.to_string()),
            ("Permissions", me.permissions.join(", ")),
            ("Expires", or_dash(me.expires_at.map(relative))),
            ("Daemon", shown_url(client.base_url())),
            ("Credential", credential),
        ])
    })?;
    Ok(exit::OK)
}

fn passwd(connect: &ConnectArgs, password_stdin: bool) -> anyhow::Result<u8> {
    let (current_password, new_password) = if password_stdin {
        let mut lines = read_stdin_lines(2)?;
        let new = lines.remove(1);
        (lines.remove(0), new)
    } else {
        need_terminal("the passwords", "--password-stdin")?;
        (
            ask_password("Current password")?,
            ask_new_password("New password")?,
        )
    };
    let client = Client::from_args(connect)?;
    let req = PasswordChange {
        current_password,
        new_password,
    };
    block_on(client.post_empty(&["auth", "password"], &req))??;
    eprintln!("password changed; your other sessions have ended");
    Ok(exit::OK)
}

/// The daemon's refusal of a login, register or invitation without the hint to
/// check the API key, which none of them uses.
fn without_key_hint(e: anyhow::Error, what: &str) -> anyhow::Error {
    match e.downcast::<ApiError>() {
        Ok(api) => {
            let mut text = api.message;
            for d in &api.details {
                text.push_str("\n  ");
                text.push_str(d);
            }
            anyhow::anyhow!(text).context(format!("POST /api/v1/{what} answered {}", api.status))
        }
        Err(e) => e,
    }
}

#[path = "auth_keys.rs"]
mod keys;

#[path = "auth_input.rs"]
mod input;
use input::{ask_new_password, ask_password, prompt_error, read_stdin_lines};
pub(super) use input::{need_terminal, new_password};
