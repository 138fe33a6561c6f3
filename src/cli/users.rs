//! `uptimeping users …`: the people of the tenant (admins only): adding one with
//! a first password, inviting one, listing, changing a role, removing.

use clap::Subcommand;
use dialoguer::console::Term;

use super::auth::{need_terminal, new_password};
use super::client::{Client, REQUEST_TIMEOUT, block_on};
use super::exit;
use super::output::{fields, or_dash, relative, show, table};
use crate::model::{InvitationCreated, Role, RoleChange, UserAdd, UserInfo, UserInvite};

const EXAMPLES: &str = "\
Examples:
  uptimeping users add alice@example.com --role operator --password-stdin < first-password
  uptimeping users invite bob@example.com --role viewer
  uptimeping users list
  uptimeping users set-role bob@example.com operator
  uptimeping users remove bob@example.com --yes

Roles: viewer reads; operator also applies checks, runs, pauses and resumes them and
handles incidents; admin also manages users, API keys and tenants. A role change or a
removal ends that user's sessions at once. The last admin cannot be demoted or removed.";

/// `uptimeping users …`: one of the subcommands below, with the output format and
/// connection options they share.
pub(super) type Args = super::group::Group<Cmd>;

/// Add, invite, list and remove the tenant's users, and change their roles (admins)
#[derive(Debug, Subcommand)]
#[command(after_help = EXAMPLES)]
pub(super) enum Cmd {
    /// Add a user with a first password (asked twice on a terminal)
    #[command(
        after_help = "Examples:\n  uptimeping users add alice@example.com --role operator\n  uptimeping users add alice@example.com --role operator --password-stdin < first-password"
    )]
    Add {
        /// The user's email (unique within the tenant)
        #[arg(value_name = "EMAIL")]
        email: String,
        /// What the user may do
        #[arg(long, value_enum)]
        role: Role,
        /// Read the password from the first line of standard input instead of asking
        #[arg(long)]
        password_stdin: bool,
    },
    /// Invite a user: prints a token (and the console's link) to pass on
    #[command(after_help = INVITE_EXAMPLES)]
    Invite {
        /// The invitee's email
        #[arg(value_name = "EMAIL")]
        email: String,
        /// What the user may do once they accept
        #[arg(long, value_enum)]
        role: Role,
        /// How long the invitation can be accepted (default 7d, at most 30d)
        #[arg(long, value_name = "DURATION")]
        expires: Option<crate::spec::Duration>,
    },
    /// List users and open invitations
    #[command(after_help = "Examples:\n  uptimeping users list\n  uptimeping users list -o json")]
    List,
    /// Change a user's role (ends their sessions)
    #[command(after_help = "Examples:\n  uptimeping users set-role bob@example.com operator")]
    SetRole {
        /// The user's email
        #[arg(value_name = "EMAIL")]
        email: String,
        /// The new role
        #[arg(value_enum, value_name = "ROLE")]
        role: Role,
    },
    /// Remove a user (ends their sessions); asks first on a terminal
    #[command(
        after_help = "Examples:\n  uptimeping users remove bob@example.com\n  uptimeping users remove bob@example.com --yes   # without asking, as scripts need"
    )]
    Remove {
        /// The user's email
        #[arg(value_name = "EMAIL")]
        email: String,
        /// Remove without asking
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

const INVITE_EXAMPLES: &str = "\
Examples:
  uptimeping users invite bob@example.com --role viewer
  uptimeping users invite bob@example.com --role operator --expires 3d -o json

The token is shown once. Pass it (or the link, when the daemon knows its public URL)
to the invitee, who runs `uptimeping auth accept-invite TOKEN --url URL` or opens
the link to choose a password.";

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let output = self.output;
        match self.command {
            Cmd::Add {
                email,
                role,
                password_stdin,
            } => {
                let password = new_password(password_stdin)?;
                let client = Client::from_args(&self.connect)?;
                let req = UserAdd {
                    email,
                    role,
                    password,
                };
                let user: UserInfo = block_on(client.post(&["users"], &req, REQUEST_TIMEOUT))??;
                show(output, &user, || user_fields(&user))?;
                eprintln!("added {} as {}", user.email, user.role);
            }
            Cmd::Invite {
                email,
                role,
                expires,
            } => {
                let client = Client::from_args(&self.connect)?;
                let req = UserInvite {
                    email,
                    role,
                    expires_in: expires.map(|d| d.to_string()),
                };
                let inv: InvitationCreated =
                    block_on(client.post(&["users", "invitations"], &req, REQUEST_TIMEOUT))??;
                show(output, &inv, || {
                    fields(&[
                        ("Email", inv.email.clone()),
                        ("Role", inv.role.to_string()),
                        (
                            "Expires",
                            inv.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                        ),
                        ("Token", inv.token.clone()),
                        ("URL", or_dash(inv.url.clone())),
                    ])
                })?;
                eprintln!(
                    "the token is shown only this once: pass it to {} now; they accept with `uptimeping auth accept-invite TOKEN --url {}`{}",
                    inv.email,
                    super::client::shown_url(client.base_url()),
                    if inv.url.is_some() {
                        " or by opening the URL"
                    } else {
                        ""
                    }
                );
            }
            Cmd::List => {
                let client = Client::from_args(&self.connect)?;
                let users: Vec<UserInfo> = block_on(client.get(&["users"], &[]))??;
                show(output, &users, || {
                    let rows = users
                        .iter()
                        .map(|u| {
                            vec![
                                u.email.clone(),
                                u.role.to_string(),
                                u.state.clone(),
                                or_dash(u.last_login_at.map(relative)),
                                u.created_by.clone(),
                                or_dash(u.expires_at.map(relative)),
                            ]
                        })
                        .collect();
                    table(
                        &[
                            "EMAIL",
                            "ROLE",
                            "STATE",
                            "LAST LOGIN",
                            "CREATED BY",
                            "EXPIRES",
                        ],
                        rows,
                    )
                })?;
            }
            Cmd::SetRole { email, role } => {
                let email = normal_email(&email);
                let client = Client::from_args(&self.connect)?;
                let user: UserInfo =
                    block_on(client.put(&["users", &email, "role"], &RoleChange { role }))??;
                show(output, &user, || user_fields(&user))?;
                eprintln!(
                    "{} is now {}; their sessions have ended",
                    user.email, user.role
                );
            }
            Cmd::Remove { email, yes } => {
                let email = normal_email(&email);
                if !yes {
                    confirm_removal(&email)?;
                }
                let client = Client::from_args(&self.connect)?;
                block_on(client.delete(&["users", &email]))??;
                eprintln!("removed {email}; their sessions have ended");
            }
        }
        Ok(exit::OK)
    }
}

/// An email as the daemon keeps it (trimmed, lowercase), for the route's path.
fn normal_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn user_fields(u: &UserInfo) -> String {
    fields(&[
        ("Email", u.email.clone()),
        ("Role", u.role.to_string()),
        ("State", u.state.clone()),
        ("Created by", u.created_by.clone()),
    ])
}

/// Asks before removing; without a terminal, fails naming `--yes` rather than
/// waiting for an answer that cannot come.
fn confirm_removal(email: &str) -> anyhow::Result<()> {
    need_terminal("a confirmation", "--yes")?;
    let sure = dialoguer::Confirm::new()
        .with_prompt(format!(
            "Remove {email}? Their sessions end and they can no longer log in"
        ))
        .default(false)
        .interact_on(&Term::stderr())
        .map_err(|e| anyhow::anyhow!("reading the answer failed: {e}"))?;
    anyhow::ensure!(sure, "not removed: the answer was no");
    Ok(())
}
