//! The background group sync (`[ldap.sync]`): reading the directory for a pass, computing
//! each user's memberships ([`wanted_memberships`], the pure part) and applying them through
//! [`portus_core::ops::teams::sync_memberships`]. The rules are in the `ldap` module
//! documentation ("Group sync").

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ldap3::{Ldap, Scope, SearchEntry, SearchOptions};
use portus_core::Error as CoreError;
use portus_core::model::{Role, User};
use portus_core::ops::teams::{DirectoryMembership, sync_memberships};
use portus_core::prelude::*;
use tracing::{debug, info, warn};

use super::LdapAuthenticator;
use super::config::{GroupMapping, non_empty};
use super::error::{LdapServerError, RC_NO_SUCH_OBJECT, result_error, unavailable};
use super::search::{UserSearch, values};

/// The actor of the activities the sync records.
const SYNC_ACTOR: &str = "ldap";

/// Group attributes listing members.
const MEMBER_ATTRIBUTES: [&str; 2] = ["member", "uniqueMember"];

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupSyncSummary {
    /// Local LDAP users looked at.
    pub users: usize,
    /// Memberships added or raised.
    pub granted: usize,
    /// Memberships removed.
    pub removed: usize,
    /// Users (several entries with their name) and memberships (missing team, last owner)
    /// left as they were.
    pub skipped: usize,
}

impl fmt::Display for GroupSyncSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} users: {} granted, {} removed, {} skipped",
            self.users, self.granted, self.removed, self.skipped
        )
    }
}

/// The last pass: when it finished and what came of it (its error as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSyncStatus {
    /// When the pass finished.
    pub finished_at: DateTime<Utc>,
    /// Its summary, or why it failed (nothing was changed then).
    pub outcome: Result<GroupSyncSummary, String>,
}

/// One mapping with the members the directory lists for its group(s).
#[derive(Debug, Clone)]
pub(super) struct GroupRead {
    pub(super) team: String,
    pub(super) role: Role,
    pub(super) sync: bool,
    /// Normalized member DNs; `None` when the group was not found.
    pub(super) members: Option<HashSet<String>>,
}

/// What the directory says of one user for every synced team: member with the highest role of
/// the team's groups listing `user_dn` (`None`: the user is not in the directory), else not a
/// member. Teams with a `sync = false` mapping are left out, and so is the removal from a team
/// one of whose groups was not found.
pub(super) fn wanted_memberships(groups: &[GroupRead], user_dn: Option<&str>) -> Vec<(String, DirectoryMembership)> {
    let user_dn = user_dn.map(normalize_dn);
    let mut teams: Vec<&str> = Vec::new();
    for group in groups {
        if !teams.contains(&group.team.as_str()) {
            teams.push(&group.team);
        }
    }
    let mut wanted = Vec::new();
    for team in teams {
        let mapped: Vec<&GroupRead> = groups.iter().filter(|g| g.team == team).collect();
        if mapped.iter().any(|g| !g.sync) {
            continue;
        }
        let listed = |g: &&&GroupRead| match (&g.members, &user_dn) {
            (Some(members), Some(dn)) => members.contains(dn),
            _ => false,
        };
        match mapped.iter().filter(listed).map(|g| g.role).max() {
            Some(role) => wanted.push((team.to_owned(), DirectoryMembership::Member(role))),
            None if mapped.iter().all(|g| g.members.is_some()) => {
                wanted.push((team.to_owned(), DirectoryMembership::NotMember));
            }
            None => {}
        }
    }
    wanted
}

/// A DN in a form two spellings of the same DN share: attribute types and values lower-cased,
/// spaces around `,`, `+` and `=` removed. Escapes are kept as written.
pub(super) fn normalize_dn(dn: &str) -> String {
    let mut rdns: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    let mut flush = |current: &mut String, separator: Option<char>| {
        let part = std::mem::take(current);
        let normalized = match part.split_once('=') {
            Some((kind, value)) => format!("{}={}", kind.trim(), value.trim()),
            None => part.trim().to_owned(),
        };
        rdns.push(normalized.to_lowercase());
        if let Some(separator) = separator {
            rdns.push(separator.to_string());
        }
    };
    for c in dn.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' => {
                current.push(c);
                escaped = true;
            }
            ',' | '+' => flush(&mut current, Some(c)),
            _ => current.push(c),
        }
    }
    flush(&mut current, None);
    rdns.concat()
}

/// The local users the sync manages: no local password, not a bot, no linked external
/// identity.
async fn ldap_users(store: &dyn PolicyStore) -> Result<Vec<User>, CoreError> {
    let mut users = Vec::new();
    for user in store.list_users().await? {
        if user.password_hash.is_some() || user.bot || !store.identities_of(user.id).await?.is_empty() {
            continue;
        }
        users.push(user);
    }
    Ok(users)
}

/// What the directory says of one local user.
enum Entry {
    /// The DN of its entry, or `None` when the directory has no such user.
    Dn(Option<String>),
    /// Several entries: skipped, as sign-in refuses it.
    Ambiguous,
}

impl LdapAuthenticator {
    /// Runs one pass of the group sync (see "Group sync" in the [`ldap`](super) module) and
    /// records its outcome for [`last_sync`](Self::last_sync). Runs whether or not `sync.enabled` is set
    /// (`portus ldap sync`). On `Err` nothing was changed, unless the store itself failed
    /// while the changes were written.
    pub async fn sync_groups(&self) -> Result<GroupSyncSummary, CoreError> {
        let outcome = self.sync_pass().await;
        match &outcome {
            Ok(summary) => info!(%summary, "LDAP group sync finished"),
            Err(error) => warn!(%error, "LDAP group sync failed; nothing was changed"),
        }
        let status = GroupSyncStatus {
            finished_at: Utc::now(),
            outcome: outcome.as_ref().map(|s| *s).map_err(|e| e.to_string()),
        };
        *self.last_sync.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(status);
        outcome
    }

    /// The outcome of the last pass of this process, if one ran.
    pub fn last_sync(&self) -> Option<GroupSyncStatus> {
        self.last_sync
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Runs [`sync_groups`](Self::sync_groups) in the background when `sync.enabled` is set:
    /// the first pass shortly after the start (after the interval, at most 5 seconds), then
    /// every `sync.interval_secs`, until the task is aborted. `None` when the sync is off.
    pub fn spawn_group_sync(self: Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        if !self.config.sync.enabled {
            return None;
        }
        let interval = Duration::from_secs(self.config.sync.interval_secs);
        Some(tokio::spawn(async move {
            tokio::time::sleep(interval.min(Duration::from_secs(5))).await;
            loop {
                // The outcome is logged and kept by sync_groups.
                let _ = self.sync_groups().await;
                tokio::time::sleep(interval).await;
            }
        }))
    }

    async fn sync_pass(&self) -> Result<GroupSyncSummary, CoreError> {
        let users = ldap_users(self.store.as_ref()).await?;
        let mut ldap = self.connector.connect().await?;
        let read = self.read_directory(&mut ldap, &users).await;
        self.connector.close(ldap).await;
        let (groups, entries) = read?;
        let mut summary = GroupSyncSummary {
            users: users.len(),
            ..GroupSyncSummary::default()
        };
        for user in &users {
            let dn = match entries.get(&user.username) {
                Some(Entry::Dn(dn)) => dn.as_deref(),
                Some(Entry::Ambiguous) | None => {
                    summary.skipped += 1;
                    continue;
                }
            };
            let wanted = wanted_memberships(&groups, dn);
            let sync = sync_memberships(self.store.as_ref(), Some(SYNC_ACTOR), user, &wanted).await?;
            for team in &sync.granted {
                info!(user = %user.username, team = %team, "team membership from LDAP group sync");
            }
            for team in &sync.removed {
                info!(user = %user.username, team = %team, "team membership removed: no LDAP group of the team lists the user");
            }
            for (team, why) in &sync.skipped {
                debug!(user = %user.username, team = %team, why = %why, "LDAP group sync left the membership alone");
            }
            summary.granted += sync.granted.len();
            summary.removed += sync.removed.len();
            summary.skipped += sync.skipped.len();
        }
        Ok(summary)
    }

    /// Every read of a pass; any failure fails it.
    async fn read_directory(
        &self,
        ldap: &mut Ldap,
        users: &[User],
    ) -> Result<(Vec<GroupRead>, HashMap<String, Entry>), CoreError> {
        self.connector
            .service_bind(ldap, self.config.authentication.as_ref())
            .await?;
        let timelimit = i32::try_from(self.config.timeout).unwrap_or(i32::MAX);
        // Without this check a missing base would make every user "not in the directory".
        for base in self.admin_base.iter().chain([&self.config.base]) {
            ldap.with_search_options(SearchOptions::new().timelimit(timelimit));
            let ldap3::SearchResult(_, result) = self
                .connector
                .within(
                    "base check",
                    ldap.search(base, Scope::Base, "(objectClass=*)", vec!["1.1"]),
                )
                .await
                .map_err(unavailable)?;
            if result.rc != 0 {
                return Err(result_error("base check", &result));
            }
        }
        let mut groups = Vec::with_capacity(self.config.groups.len());
        for mapping in &self.config.groups {
            let members = if mapping.sync {
                self.group_members(ldap, mapping, timelimit).await?
            } else {
                None
            };
            groups.push(GroupRead {
                team: mapping.team.clone(),
                role: mapping.role,
                sync: mapping.sync,
                members,
            });
        }
        let mut entries = HashMap::new();
        for user in users {
            let entry = match self.find_user(ldap, &user.username).await? {
                UserSearch::Found(entry, _) if values(&entry, &self.config.uid).any(|v| *v == user.username) => {
                    Entry::Dn(Some(entry.dn))
                }
                UserSearch::Found(..) | UserSearch::NotFound => Entry::Dn(None),
                UserSearch::Ambiguous => {
                    warn!(user = %user.username, "several LDAP entries match this user name; group sync skips it");
                    Entry::Ambiguous
                }
            };
            entries.insert(user.username.clone(), entry);
        }
        Ok((groups, entries))
    }

    /// The normalized member DNs of the mapping's group(s); `None` when there is no such
    /// group.
    async fn group_members(
        &self,
        ldap: &mut Ldap,
        mapping: &GroupMapping,
        timelimit: i32,
    ) -> Result<Option<HashSet<String>>, CoreError> {
        let (base, scope, filter) = match (non_empty(mapping.dn.as_deref()), non_empty(mapping.cn.as_deref())) {
            (Some(dn), _) => (dn, Scope::Base, "(objectClass=*)".to_owned()),
            (None, Some(cn)) => (
                non_empty(self.config.group_base.as_deref()).unwrap_or_default(),
                Scope::Subtree,
                format!("(cn={})", ldap3::ldap_escape(cn.as_str())),
            ),
            (None, None) => return Ok(None),
        };
        ldap.with_search_options(SearchOptions::new().timelimit(timelimit));
        let ldap3::SearchResult(entries, result) = self
            .connector
            .within(
                "group read",
                ldap.search(&base, scope, &filter, MEMBER_ATTRIBUTES.to_vec()),
            )
            .await
            .map_err(unavailable)?;
        match result.rc {
            0 => {}
            RC_NO_SUCH_OBJECT if scope == Scope::Base => {
                warn!(group = %base, team = %mapping.team, "mapped LDAP group does not exist; its team keeps its members");
                return Ok(None);
            }
            // A partial answer (size or time limit, ...) must not remove anyone.
            _ => return Err(result_error("group read", &result)),
        }
        if entries.is_empty() {
            warn!(group = %base, filter = %filter, team = %mapping.team, "mapped LDAP group not found; its team keeps its members");
            return Ok(None);
        }
        let mut members = HashSet::new();
        for entry in entries.into_iter().map(SearchEntry::construct) {
            // Active Directory hands large groups out in ranges (`member;range=0-1499`); a
            // partial list would remove the members it leaves out.
            if let Some(ranged) = entry
                .attrs
                .keys()
                .find(|name| name.to_ascii_lowercase().contains(";range="))
            {
                return Err(unavailable(LdapServerError::Refused {
                    operation: "group read",
                    code: 0,
                    text: format!(
                        "{} lists its members in ranges ({ranged}), which group sync cannot read",
                        entry.dn
                    ),
                }));
            }
            for attribute in MEMBER_ATTRIBUTES {
                members.extend(values(&entry, attribute).map(|dn| normalize_dn(dn)));
            }
        }
        Ok(Some(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(team: &str, role: Role, sync: bool, members: Option<&[&str]>) -> GroupRead {
        GroupRead {
            team: team.into(),
            role,
            sync,
            members: members.map(|m| m.iter().map(|dn| normalize_dn(dn)).collect()),
        }
    }

    const ALICE: &str = "uid=alice,ou=people,dc=example,dc=org";
    const BOB: &str = "uid=bob,ou=people,dc=example,dc=org";

    #[test]
    fn members_get_the_highest_role_of_their_teams_groups_and_others_none() {
        let groups = [
            group("devs", Role::Viewer, true, Some(&[ALICE, BOB])),
            group(
                "devs",
                Role::Contributor,
                true,
                Some(&["UID=Alice, OU=People,DC=Example,DC=org"]),
            ),
            group("ops", Role::Owner, true, Some(&[BOB])),
        ];
        assert_eq!(
            wanted_memberships(&groups, Some(ALICE)),
            [
                ("devs".to_owned(), DirectoryMembership::Member(Role::Contributor)),
                ("ops".to_owned(), DirectoryMembership::NotMember),
            ]
        );
        assert_eq!(
            wanted_memberships(&groups, Some(BOB)),
            [
                ("devs".to_owned(), DirectoryMembership::Member(Role::Viewer)),
                ("ops".to_owned(), DirectoryMembership::Member(Role::Owner)),
            ]
        );
        // A user the directory no longer has is in no group.
        assert_eq!(
            wanted_memberships(&groups, None),
            [
                ("devs".to_owned(), DirectoryMembership::NotMember),
                ("ops".to_owned(), DirectoryMembership::NotMember),
            ]
        );
    }

    #[test]
    fn excluded_teams_are_never_named_and_missing_groups_never_remove() {
        let groups = [
            group("devs", Role::Viewer, true, Some(&[BOB])),
            group("devs", Role::Viewer, false, None),
            group("ops", Role::Viewer, true, Some(&[ALICE])),
            group("ops", Role::Owner, true, None),
            group("qa", Role::Viewer, true, None),
        ];
        for dn in [Some(ALICE), Some(BOB), None] {
            let wanted = wanted_memberships(&groups, dn);
            assert!(
                wanted.iter().all(|(team, _)| team != "devs"),
                "sync = false: {wanted:?}"
            );
            assert!(
                !wanted.contains(&("ops".to_owned(), DirectoryMembership::NotMember)),
                "one of ops' groups is missing: {wanted:?}"
            );
            assert!(wanted.iter().all(|(team, _)| team != "qa"), "{wanted:?}");
        }
        assert_eq!(
            wanted_memberships(&groups, Some(ALICE)),
            [("ops".to_owned(), DirectoryMembership::Member(Role::Viewer))],
            "a group that lists the user still grants"
        );
    }

    #[test]
    fn dns_are_compared_without_case_and_spaces() {
        assert_eq!(
            normalize_dn("UID=Alice , ou = People,DC=example,dc=ORG"),
            normalize_dn(ALICE)
        );
        assert_eq!(normalize_dn("cn=a+sn=b,dc=x"), "cn=a+sn=b,dc=x");
        assert_ne!(
            normalize_dn(r"cn=a\,b,dc=x"),
            normalize_dn("cn=a,b,dc=x"),
            "escaped commas stay"
        );
        assert_ne!(normalize_dn(ALICE), normalize_dn(BOB));
    }
}
