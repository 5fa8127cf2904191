//! Accounts: users, teams, namespaces, memberships and application tokens.

use std::collections::{HashMap, HashSet};

use portus_core::model::{
    ImportBatch, ImportedAppToken, ImportedMembership, ImportedNamespace, ImportedTeam, ImportedUser, Role, Visibility,
};
use portus_core::naming::{validate_namespace_name, validate_team_name, validate_username};

use super::{Names, PORTUS_INTERNAL_USER, PORTUS_UNLOCK_IN, non_empty, utc};
use crate::report::{Kind, Report};
use crate::source::PortusSnapshot;

pub(super) fn plan_users(
    snapshot: &PortusSnapshot,
    ldap: bool,
    names: &mut Names,
    report: &mut Report,
    batch: &mut ImportBatch,
) {
    let now = chrono::Utc::now();
    for user in &snapshot.users {
        names.all_users.insert(user.id, user.username.clone());
        report.found(Kind::Users);
        if user.username == PORTUS_INTERNAL_USER {
            report.skip(
                Kind::Users,
                &user.username,
                "Portus' internal account, not a person (portus has no such account)",
            );
            continue;
        }
        if let Err(e) = validate_username(&user.username) {
            report.skip(Kind::Users, &user.username, &e.to_string());
            continue;
        }
        let mut identities = Vec::new();
        if let Some(ldap) = non_empty(user.ldap_name.clone()) {
            identities.push(("ldap".to_owned(), String::new(), ldap));
        }
        if let (Some(provider), Some(uid)) = (non_empty(user.provider.clone()), non_empty(user.uid.clone())) {
            identities.push((provider, String::new(), uid));
        }
        // Portus stored a bcrypt of a directory user's LDAP password at their first sign-in:
        // kept, it would let a password LDAP no longer accepts in. LDAP decides for them here.
        let directory_user = !user.bot && (ldap || non_empty(user.ldap_name.clone()).is_some());
        let password_hash = Some(user.encrypted_password.clone()).filter(|h| !h.is_empty() && !directory_user);
        if directory_user {
            report.note(format!(
                "{}: an LDAP account; its password is checked by LDAP, not by a copy Portus kept",
                user.username
            ));
        } else if password_hash.is_none() {
            report.note(format!(
                "{}: no local password in Portus; signs in through LDAP, OAuth or application tokens only",
                user.username
            ));
        }
        let locked_until = utc(user.locked_at).map(|at| at + PORTUS_UNLOCK_IN);
        match locked_until {
            Some(until) if until > now => report.note(format!(
                "{}: locked in Portus; stays locked for the rest of Portus' 10-minute lock (or until an administrator unlocks it)",
                user.username
            )),
            Some(_) => report.note(format!(
                "{}: was locked in Portus; that lock has expired, as it had there",
                user.username
            )),
            None => {}
        }
        batch.users.push(ImportedUser {
            source_key: user.id.to_string(),
            username: user.username.clone(),
            email: non_empty(user.email.clone()),
            admin: user.admin,
            enabled: user.enabled,
            locked_until: locked_until.filter(|until| *until > now),
            password_hash,
            display_name: non_empty(user.display_name.clone()),
            bot: user.bot,
            identities,
            created_at: utc(user.created_at),
        });
        names.users.insert(user.id, user.username.clone());
        report.planned(Kind::Users);
    }
}

fn visibility(value: Option<i64>) -> Visibility {
    match value {
        Some(2) => Visibility::Public,
        Some(1) => Visibility::Protected,
        _ => Visibility::Private,
    }
}

fn role(value: i64) -> Role {
    match value {
        2 => Role::Owner,
        1 => Role::Contributor,
        _ => Role::Viewer,
    }
}

pub(super) fn plan_teams_and_namespaces(
    snapshot: &PortusSnapshot,
    names: &mut Names,
    report: &mut Report,
    batch: &mut ImportBatch,
) {
    // Personal namespaces are the ones users point at; their teams are the hidden personal teams.
    let personal_owner: HashMap<i64, i64> = snapshot
        .users
        .iter()
        .filter_map(|u| u.namespace_id.map(|ns| (ns, u.id)))
        .collect();
    let global_teams: HashSet<i64> = snapshot
        .namespaces
        .iter()
        .filter(|n| n.global)
        .filter_map(|n| n.team_id)
        .collect();
    let teams_of_namespaces: HashSet<i64> = snapshot.namespaces.iter().filter_map(|n| n.team_id).collect();

    for team in &snapshot.teams {
        names.all_teams.insert(team.id, team.name.clone());
        report.found(Kind::Teams);
        if global_teams.contains(&team.id) {
            report.skip(
                Kind::Teams,
                &team.name,
                "Portus' internal team of the global namespace (administrators own it here)",
            );
            continue;
        }
        if team.hidden && !teams_of_namespaces.contains(&team.id) {
            report.skip(Kind::Teams, &team.name, "a hidden Portus team that owns no namespace");
            continue;
        }
        if let Err(e) = validate_team_name(&team.name) {
            report.skip(Kind::Teams, &team.name, &e.to_string());
            continue;
        }
        batch.teams.push(ImportedTeam {
            source_key: team.id.to_string(),
            name: team.name.clone(),
            description: non_empty(team.description.clone()),
            hidden: team.hidden,
        });
        names.teams.insert(team.id, team.name.clone());
        report.planned(Kind::Teams);
    }

    for namespace in &snapshot.namespaces {
        report.found(Kind::Namespaces);
        if namespace.global {
            names.all_namespaces.insert(namespace.id, String::new());
            names.namespaces.insert(namespace.id, String::new());
            let mut visibility = visibility(namespace.visibility);
            if visibility == Visibility::Private {
                report.note(
                    "the global namespace was private in Portus; it is protected here (signed-in users pull)".into(),
                );
                visibility = Visibility::Protected;
            }
            batch.namespaces.push(ImportedNamespace {
                source_key: namespace.id.to_string(),
                name: String::new(),
                description: non_empty(namespace.description.clone()),
                visibility,
                team: None,
                personal_owner: None,
                global: true,
            });
            report.planned(Kind::Namespaces);
            continue;
        }
        names.all_namespaces.insert(namespace.id, namespace.name.clone());
        if let Err(e) = validate_namespace_name(&namespace.name) {
            report.skip(
                Kind::Namespaces,
                &namespace.name,
                &format!("{e} (no registry accepts such a name, so it holds no image)"),
            );
            continue;
        }
        let owner = personal_owner.get(&namespace.id);
        let owner_name = match owner {
            Some(id) => match names.users.get(id) {
                Some(name) => Some(name.clone()),
                None => {
                    report.skip(
                        Kind::Namespaces,
                        &namespace.name,
                        "the personal namespace of a user who is not imported",
                    );
                    continue;
                }
            },
            None => None,
        };
        let team = namespace.team_id.and_then(|t| names.teams.get(&t).cloned());
        if team.is_none() {
            report.note(format!(
                "namespace {}: its team is not imported; administrators own it until one is assigned",
                namespace.name
            ));
        }
        batch.namespaces.push(ImportedNamespace {
            source_key: namespace.id.to_string(),
            name: namespace.name.clone(),
            description: non_empty(namespace.description.clone()),
            visibility: visibility(namespace.visibility),
            team,
            personal_owner: owner_name,
            global: false,
        });
        names.namespaces.insert(namespace.id, namespace.name.clone());
        report.planned(Kind::Namespaces);
    }

    for member in &snapshot.team_users {
        report.found(Kind::Memberships);
        let (Some(team), Some(user)) = (names.teams.get(&member.team_id), names.users.get(&member.user_id)) else {
            let who = names
                .all_users
                .get(&member.user_id)
                .cloned()
                .unwrap_or_else(|| format!("user #{}", member.user_id));
            let team = names
                .all_teams
                .get(&member.team_id)
                .cloned()
                .unwrap_or_else(|| format!("team #{}", member.team_id));
            report.skip(
                Kind::Memberships,
                &format!("{who} in {team}"),
                "the user or the team is not imported",
            );
            continue;
        };
        batch.memberships.push(ImportedMembership {
            source_key: format!("{}/{}", member.team_id, member.user_id),
            team: team.clone(),
            username: user.clone(),
            role: role(member.role),
        });
        report.planned(Kind::Memberships);
    }
}

pub(super) fn plan_tokens(snapshot: &PortusSnapshot, names: &mut Names, report: &mut Report, batch: &mut ImportBatch) {
    for token in &snapshot.application_tokens {
        names.tokens.insert(token.id, token.application.clone());
        report.found(Kind::AppTokens);
        let Some(user) = names.users.get(&token.user_id) else {
            report.skip(Kind::AppTokens, &token.application, "its owner is not imported");
            continue;
        };
        if !token.token_hash.starts_with("$2") {
            report.skip(
                Kind::AppTokens,
                &format!("{user}/{}", token.application),
                "the stored hash is not a bcrypt hash",
            );
            continue;
        }
        batch.app_tokens.push(ImportedAppToken {
            source_key: token.id.to_string(),
            username: user.clone(),
            label: token.application.clone(),
            secret_hash: token.token_hash.clone(),
        });
        report.planned(Kind::AppTokens);
    }
}
