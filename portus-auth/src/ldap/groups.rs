//! LDAP group to team mapping: which of the mapped groups list the user, and the team
//! memberships they grant, written through `portus_core::ops::teams::grant_at_least` (added or
//! raised, never removed or lowered; see the module documentation of `ldap`).

use ldap3::{Ldap, Scope};
use portus_core::Error as CoreError;
use portus_core::model::{Role, User};
use portus_core::prelude::*;
use tracing::{info, warn};

use super::LdapAuthenticator;
use super::config::non_empty;
use super::error::{RC_NO_SUCH_OBJECT, RC_SIZE_LIMIT_EXCEEDED, unavailable};

/// The actor of the activities LDAP sign-ins record (users created, group memberships).
const LDAP_ACTOR: &str = "ldap";

impl LdapAuthenticator {
    /// The teams (with roles) of the mapped groups that list `user_dn` as a member.
    pub(super) async fn group_teams(&self, ldap: &mut Ldap, user_dn: &str) -> Result<Vec<(String, Role)>, CoreError> {
        let member = format!("(|(member={0})(uniqueMember={0}))", ldap3::ldap_escape(user_dn));
        let group_base = non_empty(self.config.group_base.as_deref()).unwrap_or_default();
        let mut teams: Vec<(String, Role)> = Vec::new();
        for mapping in &self.config.groups {
            let (base, scope, filter) = match (non_empty(mapping.dn.as_deref()), non_empty(mapping.cn.as_deref())) {
                (Some(dn), _) => (dn, Scope::Base, member.clone()),
                (None, Some(cn)) => (
                    group_base.clone(),
                    Scope::Subtree,
                    format!("(&(cn={}){member})", ldap3::ldap_escape(cn.as_str())),
                ),
                (None, None) => continue,
            };
            let ldap3::SearchResult(entries, result) = self
                .connector
                .within("group search", ldap.search(&base, scope, &filter, vec!["1.1"]))
                .await
                .map_err(unavailable)?;
            match result.rc {
                0 | RC_SIZE_LIMIT_EXCEEDED => {}
                RC_NO_SUCH_OBJECT => {
                    warn!(group = %base, team = %mapping.team, "mapped LDAP group does not exist; skipped");
                    continue;
                }
                code => {
                    warn!(group = %base, team = %mapping.team, code, text = %result.text, "cannot read mapped LDAP group; skipped");
                    continue;
                }
            }
            if entries.is_empty() {
                continue;
            }
            match teams.iter_mut().find(|(team, _)| *team == mapping.team) {
                Some((_, role)) => *role = (*role).max(mapping.role),
                None => teams.push((mapping.team.clone(), mapping.role)),
            }
        }
        Ok(teams)
    }

    /// Adds `user` to `teams` (or raises its role there) through
    /// [`grant_at_least`](portus_core::ops::teams::grant_at_least); missing and personal teams
    /// are logged and skipped.
    pub(super) async fn join_teams(&self, user: &User, teams: &[(String, Role)]) -> Result<(), CoreError> {
        for (name, role) in teams {
            let Some(team) = self.store.team_by_name(name).await? else {
                warn!(team = %name, "team of an LDAP group mapping does not exist; skipped");
                continue;
            };
            if team.hidden {
                warn!(team = %name, "LDAP group mapping names a personal team; skipped");
                continue;
            }
            // Administrators become owners, and a role is raised, never lowered: the same rules
            // as every other membership change.
            if !portus_core::ops::teams::grant_at_least(self.store.as_ref(), Some(LDAP_ACTOR), &team, user, *role)
                .await?
            {
                continue;
            }
            info!(user = %user.username, team = %name, %role, "team membership from LDAP group");
        }
        Ok(())
    }
}
