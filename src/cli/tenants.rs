//! `uptimeping tenants create`: a new tenant and its first admin API key.

use clap::Subcommand;

use super::client::{Client, REQUEST_TIMEOUT, block_on};
use super::exit;
use super::output::{fields, show};
use crate::model::{TenantCreated, TenantRequest};

const EXAMPLES: &str = "\
Examples:
  uptimeping tenants create acme
  uptimeping tenants create acme -o json | jq -r .api_key

Only admin keys of the first tenant may create tenants. The new tenant's admin
key is shown once: store it right away.";

/// `uptimeping tenants …`: one of the subcommands below, with the output format and
/// connection options they share.
pub(super) type Args = super::group::Group<Cmd>;

/// Manage tenants (admin keys of the first tenant only)
#[derive(Debug, Subcommand)]
#[command(after_help = EXAMPLES)]
pub(super) enum Cmd {
    /// Create a tenant and print its admin API key
    #[command(after_help = "Examples:\n  uptimeping tenants create acme")]
    Create {
        /// The tenant's name: 1–63 lowercase letters, digits and `-`
        name: String,
    },
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        let client = Client::from_args(&self.connect)?;
        match &self.command {
            Cmd::Create { name } => {
                let req = TenantRequest { name: name.clone() };
                let created: TenantCreated =
                    block_on(client.post(&["tenants"], &req, REQUEST_TIMEOUT))??;
                show(self.output, &created, || {
                    fields(&[
                        ("Tenant", format!("{} (id {})", created.name, created.id)),
                        ("API key", created.api_key.clone()),
                    ])
                })?;
                eprintln!("the API key is shown only this once: store it now");
                Ok(exit::OK)
            }
        }
    }
}
