//! What every external sign-in (OpenID Connect, Google, GitHub, GitLab, Bitbucket) does once
//! its provider has vouched for someone: apply the provider's rules, find the local user
//! linked to the proven identity (or link or create one), and bring the memberships its groups
//! grant up to date.
//!
//! The identity, `(provider, issuer, subject)`, is the only key (OpenID Connect Core §5.7):
//! names and e-mail addresses may change or be chosen freely at the provider, so they never
//! select an existing account. A first sign-in creates a new user (when `create_users` allows
//! it) named after the provider's user name, or with Portus' `_NN` suffix when that name is
//! taken; without `create_users` it is refused until an administrator links the identity
//! (`portus user link-identity`).
//!
//! Groups: when the provider reports the person's groups, `teams` maps them to teams and
//! roles and `admin_group` to administrator rights, at **every** sign-in: a membership of a
//! mapped team is removed, and administrator rights are taken back, once the groups no longer
//! list the person. Teams no mapping names, and roles given by hand above the mapped one, are
//! left alone (see [`portus_core::ops::teams::sync_memberships`]).

use std::collections::BTreeMap;

use portus_core::model::{ExternalIdentity, NewUser, Role, User};
use portus_core::ops::teams::DirectoryMembership;
use portus_core::prelude::*;
use portus_core::{ErrorKind, PolicyStore, ops};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::error::{Error, Result};

/// What a provider proved about the person signing in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalProfile {
    /// Who they are: `(provider, issuer or base URL, the provider's stable id)`.
    pub identity: ExternalIdentity,
    /// The provider's user name (login, nickname, `preferred_username`): only a suggestion
    /// for a new account's name.
    pub preferred_username: Option<String>,
    /// An e-mail address the provider says is verified (never an unverified one).
    pub verified_email: Option<String>,
    /// The groups the provider vouches for (GitHub `org/team` slugs, GitLab group paths,
    /// Bitbucket workspaces, an ID token's groups claim); `None` when it reported none, which
    /// leaves memberships and administrator rights as they are.
    pub groups: Option<Vec<String>>,
    /// The identity a Portus import stored for this account (Portus' provider name, no
    /// issuer, the same subject), replaced by `identity` at the first sign-in.
    pub imported_as: Option<ExternalIdentity>,
}

/// One groups-to-team mapping: members of `group` belong to `team` with at least `role`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupTeam {
    /// The group as the provider names it.
    pub group: String,
    /// The team (which must exist; a missing one is logged and skipped).
    pub team: String,
    /// The role its members get (default `viewer`).
    #[serde(default = "GroupTeam::default_role")]
    pub role: Role,
}

impl GroupTeam {
    fn default_role() -> Role {
        Role::Viewer
    }
}

/// The rules of one provider, applied at every sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SignInRules {
    /// Create a local user at an identity's first sign-in (otherwise an administrator links
    /// identities beforehand).
    #[serde(default = "SignInRules::default_create")]
    pub create_users: bool,
    /// When not empty, only people whose verified e-mail address is at one of these domains
    /// may sign in.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// When not empty, only people in at least one of these groups may sign in.
    #[serde(default)]
    pub required_groups: Vec<String>,
    /// Groups to teams.
    #[serde(default)]
    pub teams: Vec<GroupTeam>,
    /// Members of this group are administrators; others signing in this way are not.
    #[serde(default)]
    pub admin_group: Option<String>,
}

impl Default for SignInRules {
    fn default() -> Self {
        SignInRules {
            create_users: true,
            allowed_domains: Vec::new(),
            required_groups: Vec::new(),
            teams: Vec::new(),
            admin_group: None,
        }
    }
}

impl SignInRules {
    fn default_create() -> bool {
        true
    }

    /// Checks the rules' own consistency (for configuration errors at load).
    pub fn validate(&self) -> std::result::Result<(), String> {
        if let Some(domain) = self.allowed_domains.iter().find(|d| !is_domain(d)) {
            return Err(format!("allowed_domains: {domain:?} is not a domain name"));
        }
        if self.teams.iter().any(|m| m.group.is_empty() || m.team.is_empty()) {
            return Err("teams: every mapping needs a group and a team".into());
        }
        if self.admin_group.as_deref() == Some("") || self.required_groups.iter().any(String::is_empty) {
            return Err("admin_group and required_groups cannot name an empty group".into());
        }
        Ok(())
    }

    /// Whether the rules need the person's groups (then a provider must read them).
    pub fn needs_groups(&self) -> bool {
        !self.teams.is_empty() || self.admin_group.is_some() || !self.required_groups.is_empty()
    }

    /// Why `profile` may not sign in under these rules, if it may not.
    pub fn refusal(&self, profile: &ExternalProfile) -> Option<String> {
        if !self.allowed_domains.is_empty() {
            let domain = profile
                .verified_email
                .as_deref()
                .and_then(|email| email.rsplit_once('@'))
                .map(|(_, domain)| domain);
            let allowed = domain.is_some_and(|d| self.allowed_domains.iter().any(|a| a.eq_ignore_ascii_case(d)));
            if !allowed {
                return Some(format!(
                    "the verified e-mail domain {} is not among allowed_domains",
                    domain.unwrap_or("(none)")
                ));
            }
        }
        if !self.required_groups.is_empty() {
            let groups = profile.groups.as_deref().unwrap_or_default();
            if !self.required_groups.iter().any(|g| groups.contains(g)) {
                return Some("not a member of any of required_groups".into());
            }
        }
        None
    }

    /// The membership of each mapped team that `groups` grant: the highest role of the
    /// team's mappings whose group is listed, or none.
    pub fn memberships(&self, groups: &[String]) -> Vec<(String, DirectoryMembership)> {
        let mut teams: BTreeMap<&str, DirectoryMembership> = BTreeMap::new();
        for mapping in &self.teams {
            let entry = teams
                .entry(mapping.team.as_str())
                .or_insert(DirectoryMembership::NotMember);
            if groups.contains(&mapping.group) {
                *entry = match *entry {
                    DirectoryMembership::Member(role) => DirectoryMembership::Member(role.max(mapping.role)),
                    DirectoryMembership::NotMember => DirectoryMembership::Member(mapping.role),
                };
            }
        }
        teams.into_iter().map(|(team, m)| (team.to_owned(), m)).collect()
    }
}

fn is_domain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Signs in the person `profile` describes, for a provider named `source` in logs and
/// activities: refused ([`Error::InvalidCredentials`]) when `rules` exclude them or their
/// account is disabled or locked; [`Error::NotLinked`] when their identity has no user and
/// `create_users` is off.
pub async fn sign_in(
    store: &dyn PolicyStore,
    source: &str,
    rules: &SignInRules,
    profile: ExternalProfile,
) -> Result<User> {
    if let Some(why) = rules.refusal(&profile) {
        warn!(provider = source, subject = %profile.identity.subject, "sign-in refused: {why}");
        return Err(Error::InvalidCredentials);
    }
    let user = match store.user_by_identity(&profile.identity).await? {
        Some(user) => user,
        None => first_sign_in(store, source, rules, &profile).await?,
    };
    if let Err(refusal) = portus_core::account::check_usable(&user, portus_core::model::now()) {
        info!(user = %user.username, %refusal, provider = source, "sign-in refused");
        return Err(Error::InvalidCredentials);
    }
    match &profile.groups {
        Some(groups) => apply_groups(store, source, rules, user, groups).await,
        None => Ok(user),
    }
}

/// Brings `user`'s mapped memberships and administrator rights in line with `groups`.
async fn apply_groups(
    store: &dyn PolicyStore,
    source: &str,
    rules: &SignInRules,
    user: User,
    groups: &[String],
) -> Result<User> {
    let mut user = user;
    if let Some(admin_group) = &rules.admin_group {
        let admin = groups.contains(admin_group);
        if admin != user.admin {
            ops::users::set_admin(store, Some(source), &user, admin).await?;
            info!(user = %user.username, admin, provider = source, "administrator rights from the provider's groups");
            user = store.require_user_by_id(user.id).await?;
        }
    }
    let wanted = rules.memberships(groups);
    if !wanted.is_empty() {
        let sync = ops::teams::sync_memberships(store, Some(source), &user, &wanted).await?;
        for (team, why) in &sync.skipped {
            warn!(user = %user.username, %team, provider = source, "group mapping skipped: {why}");
        }
        if !sync.granted.is_empty() || !sync.removed.is_empty() {
            info!(user = %user.username, granted = ?sync.granted, removed = ?sync.removed, provider = source, "team memberships from the provider's groups");
        }
    }
    Ok(user)
}

/// The local user of an identity that no user is linked to yet: the account a Portus import
/// made for it, else a new user if `create_users` allows, else none.
async fn first_sign_in(
    store: &dyn PolicyStore,
    source: &str,
    rules: &SignInRules,
    profile: &ExternalProfile,
) -> Result<User> {
    let identity = &profile.identity;
    if let Some(imported) = &profile.imported_as
        && let Some(user) = store.user_by_identity(imported).await?
    {
        return replace_imported(store, source, user, identity, imported).await;
    }
    if !rules.create_users {
        // Never the existing user of the same name or e-mail: the provider may let anyone
        // choose those. The administrator learns what to link.
        warn!(
            provider = source,
            claimed_name = profile.preferred_username.as_deref().unwrap_or(""),
            "sign-in refused: no user is linked to this identity and create_users is off; an administrator \
             must link it: portus user link-identity USER --provider {} --issuer {} --subject {}",
            identity.provider,
            identity.issuer,
            identity.subject,
        );
        return Err(Error::NotLinked);
    }
    let Some(username) = profile.preferred_username.as_deref() else {
        warn!(provider = source, "sign-in refused: the provider gave no user name");
        return Err(Error::InvalidCredentials);
    };
    if let Err(error) = portus_core::naming::validate_username(username) {
        warn!(provider = source, %error, "sign-in refused: the provider's user name is not a valid portus name");
        return Err(Error::InvalidCredentials);
    }
    create(store, source, identity, username, profile.verified_email.clone()).await
}

/// Links `identity` to `user`, whose imported Portus identity `imported` is, in its place:
/// from now on the link is the issuer's, and unlinking it ends these sign-ins.
async fn replace_imported(
    store: &dyn PolicyStore,
    source: &str,
    user: User,
    identity: &ExternalIdentity,
    imported: &ExternalIdentity,
) -> Result<User> {
    match ops::users::link_identity(store, Some(source), &user, identity).await {
        Ok(_) => {}
        // A sign-in at the same moment linked it: to whom, the store says.
        Err(error) if error.kind() == ErrorKind::Conflict => {
            return Ok(store.user_by_identity(identity).await?.ok_or(error)?);
        }
        Err(error) => return Err(error.into()),
    }
    match ops::users::unlink_identity(store, Some(source), &user, imported).await {
        // Another sign-in of the same identity replaced it meanwhile.
        Err(error) if error.kind() != ErrorKind::NotFound => return Err(error.into()),
        _ => {}
    }
    info!(user = %user.username, provider = source, "identity imported from Portus linked to its issuer");
    Ok(user)
}

/// A new user for `identity`, named `username` or, when taken, the first free of Portus'
/// `username_01` ... `username_998`, linked to it in the same transaction.
async fn create(
    store: &dyn PolicyStore,
    source: &str,
    identity: &ExternalIdentity,
    username: &str,
    mut email: Option<String>,
) -> Result<User> {
    let mut names = portus_core::naming::suffixed_user_names(username);
    let mut candidate = names.next();
    while let Some(name) = candidate.take() {
        if store.user_by_name(&name).await?.is_some() {
            candidate = names.next();
            continue;
        }
        let new = NewUser {
            username: name.clone(),
            email: email.clone(),
            admin: false,
            password_hash: None,
            bot: false,
        };
        match ops::users::create_with_identity(store, Some(source), new, identity).await {
            Ok(user) => {
                info!(user = %user.username, claimed_name = username, provider = source, "created local user at an identity's first sign-in");
                return Ok(user);
            }
            Err(error) if error.kind() == ErrorKind::Conflict => {
                // Either another sign-in of this identity won (then that user it is) or
                // someone took the name meanwhile (then the next one).
                if let Some(user) = store.user_by_identity(identity).await? {
                    return Ok(user);
                }
                if store.user_by_name(&name).await?.is_none() {
                    // The name is free: the address was taken, by another account.
                    if email.take().is_some() {
                        warn!(user = %name, "e-mail address in use by another account; creating the user without e-mail");
                        candidate = Some(name);
                        continue;
                    }
                    return Err(error.into());
                }
                candidate = names.next();
            }
            Err(error) if error.kind() == ErrorKind::Invalid && email.is_some() => {
                warn!(user = %name, %error, "e-mail refused; creating the user without e-mail");
                email = None;
                candidate = Some(name);
            }
            Err(error) => return Err(error.into()),
        }
    }
    warn!(
        provider = source,
        "sign-in refused: '{username}' and its _01 to _998 are taken"
    );
    Err(Error::InvalidCredentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(email: Option<&str>, groups: Option<&[&str]>) -> ExternalProfile {
        ExternalProfile {
            identity: ExternalIdentity::new("oidc", "https://id", "s1"),
            preferred_username: Some("carol".into()),
            verified_email: email.map(str::to_owned),
            groups: groups.map(|g| g.iter().map(|s| s.to_string()).collect()),
            imported_as: None,
        }
    }

    #[test]
    fn domains_and_groups_decide_who_may_sign_in() {
        let rules = SignInRules {
            allowed_domains: vec!["example.org".into()],
            required_groups: vec!["staff".into(), "ops".into()],
            ..SignInRules::default()
        };
        assert_eq!(rules.refusal(&profile(Some("c@Example.ORG"), Some(&["ops"]))), None);
        for refused in [
            profile(Some("c@example.org.evil.net"), Some(&["ops"])),
            profile(Some("c@sub.example.org"), Some(&["ops"])),
            profile(None, Some(&["ops"])),
            profile(Some("c@example.org"), Some(&["visitors"])),
            profile(Some("c@example.org"), None),
        ] {
            assert!(rules.refusal(&refused).is_some(), "{refused:?}");
        }
        assert_eq!(SignInRules::default().refusal(&profile(None, None)), None);
    }

    #[test]
    fn a_team_gets_the_highest_role_of_its_listed_groups_or_none() {
        let mapping = |group: &str, team: &str, role| GroupTeam {
            group: group.into(),
            team: team.into(),
            role,
        };
        let rules = SignInRules {
            teams: vec![
                mapping("dev", "devs", Role::Contributor),
                mapping("lead", "devs", Role::Owner),
                mapping("qa", "qa", Role::Viewer),
            ],
            ..SignInRules::default()
        };
        let groups = ["lead".to_owned(), "dev".to_owned()];
        assert_eq!(
            rules.memberships(&groups),
            vec![
                ("devs".to_owned(), DirectoryMembership::Member(Role::Owner)),
                ("qa".to_owned(), DirectoryMembership::NotMember),
            ]
        );
    }

    #[test]
    fn rules_are_checked_at_load() {
        let bad = |rules: SignInRules| rules.validate().unwrap_err();
        bad(SignInRules {
            allowed_domains: vec!["exa mple.org".into()],
            ..SignInRules::default()
        });
        bad(SignInRules {
            admin_group: Some(String::new()),
            ..SignInRules::default()
        });
        bad(SignInRules {
            teams: vec![GroupTeam {
                group: "g".into(),
                team: String::new(),
                role: Role::Viewer,
            }],
            ..SignInRules::default()
        });
        assert!(SignInRules::default().validate().is_ok());
    }
}
