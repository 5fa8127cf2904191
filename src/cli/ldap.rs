//! `portus ldap sync`: one pass of the LDAP group sync, now.

use clap::Subcommand;

use crate::Error;
use crate::app::{self, DataPaths};
use crate::config::Config;

/// LDAP commands.
#[derive(Debug, Subcommand)]
pub enum LdapCommand {
    /// Bring the teams of the [[ldap.groups]] mappings in line with the directory now: one pass
    /// of the background group sync (whether or not [ldap.sync] turns it on), adding and
    /// removing memberships; prints what it did. Fails, changing nothing, when the directory
    /// cannot answer.
    Sync,
}

pub(super) async fn run(config: &Config, paths: &DataPaths, command: LdapCommand) -> Result<(), Error> {
    match command {
        LdapCommand::Sync => {
            let app = app::build(config, paths).await?;
            let Some(ldap) = app.ldap else {
                return Err(Error::Config("there is no [ldap] section: nothing to sync".into()));
            };
            let summary = ldap.sync_groups().await?;
            println!("ldap sync: {summary}");
            Ok(())
        }
    }
}
