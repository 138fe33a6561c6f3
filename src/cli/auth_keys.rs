//! `uptimeping auth api-key …`: creating (the secret shown once), listing and
//! revoking the tenant's API keys.

use clap::Subcommand;

use super::super::client::{Client, ConnectArgs, REQUEST_TIMEOUT, block_on};
use super::super::output::{fields, or_dash, relative, show, table};
use super::super::{OutputFormat, exit};
use crate::model::{ApiKeyCreate, ApiKeyCreated, ApiKeyInfo, Role};

pub(super) const EXAMPLES: &str = "\
Examples:
  uptimeping auth api-key create ci-deploy --role operator --expires 90d
  uptimeping auth api-key list
  uptimeping auth api-key revoke 3f9a1c0b7d2e

A key's secret is shown once, when it is made: store it right away (a CI secret,
a file for `context set --api-key-file`). Expired and revoked keys stop working at once.";

#[derive(Debug, Subcommand)]
pub(in crate::cli) enum KeyCmd {
    /// Create an API key and print it once
    #[command(
        after_help = "Examples:\n  uptimeping auth api-key create ci-deploy --role operator --expires 90d\n  uptimeping auth api-key create grafana --role viewer -o json | jq -r .key"
    )]
    Create {
        /// The key's name: 1–63 letters, digits, `-`, `_` and `.`
        #[arg(value_name = "NAME")]
        name: String,
        /// What the key may do
        #[arg(long, value_enum)]
        role: Role,
        /// How long the key works (`90d`, `12h`); without it the key does not expire
        #[arg(long, value_name = "DURATION")]
        expires: Option<crate::spec::Duration>,
    },
    /// List the tenant's API keys (never their secrets)
    #[command(
        after_help = "Examples:\n  uptimeping auth api-key list\n  uptimeping auth api-key list -o json"
    )]
    List,
    /// Revoke an API key: it stops working at once
    #[command(after_help = "Examples:\n  uptimeping auth api-key revoke 3f9a1c0b7d2e")]
    Revoke {
        /// The key's public id, as `api-key list` shows it
        #[arg(value_name = "ID")]
        id: String,
    },
}

pub(super) fn run(connect: &ConnectArgs, cmd: KeyCmd, output: OutputFormat) -> anyhow::Result<u8> {
    let client = Client::from_args(connect)?;
    match cmd {
        KeyCmd::Create {
            name,
            role,
            expires,
        } => {
            let req = ApiKeyCreate {
                name,
                role,
                expires_in: expires.map(|d| d.to_string()),
            };
            let created: ApiKeyCreated =
                block_on(client.post(&["api-keys"], &req, REQUEST_TIMEOUT))??;
            show(output, &created, || {
                fields(&[
                    ("Name", created.info.name.clone()),
                    ("ID", created.info.id.clone()),
                    ("Role", created.info.role.to_string()),
                    (
                        "Expires",
                        or_dash(
                            created
                                .info
                                .expires_at
                                .map(|t| t.format("%Y-%m-%d %H:%M UTC")),
                        ),
                    ),
                    ("API key", created.key.clone()),
                ])
            })?;
            eprintln!(
                "the API key is shown only this once: store it now (a CI secret, or a file for `uptimeping context set NAME --api-key-file PATH`)"
            );
        }
        KeyCmd::List => {
            let keys: Vec<ApiKeyInfo> = block_on(client.get(&["api-keys"], &[]))??;
            show(output, &keys, || {
                if keys.is_empty() {
                    return "No API keys.\n".into();
                }
                let rows = keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.id.clone(),
                            k.name.clone(),
                            k.role.to_string(),
                            k.state.clone(),
                            or_dash(k.expires_at.map(relative)),
                            or_dash(k.last_used_at.map(relative)),
                            k.created_by.clone(),
                        ]
                    })
                    .collect();
                table(
                    &[
                        "ID",
                        "NAME",
                        "ROLE",
                        "STATE",
                        "EXPIRES",
                        "LAST USED",
                        "CREATED BY",
                    ],
                    rows,
                )
            })?;
        }
        KeyCmd::Revoke { id } => {
            let id = key_id(&id);
            block_on(client.delete(&["api-keys", &id]))??;
            eprintln!("revoked API key {id}: it no longer works");
        }
    }
    Ok(exit::OK)
}

/// The public id of a key given as its id or, pasted whole, as
/// `upk_<id>_<secret>` (the secret is not sent).
fn key_id(text: &str) -> String {
    let text = text.trim();
    match text.strip_prefix("upk_") {
        Some(rest) => rest.split('_').next().unwrap_or(rest).to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_key_gives_only_its_id() {
        assert_eq!(key_id("3f9a1c0b7d2e"), "3f9a1c0b7d2e");
        assert_eq!(key_id("upk_3f9a1c0b7d2e_SECRETSECRET"), "3f9a1c0b7d2e");
    }
}
