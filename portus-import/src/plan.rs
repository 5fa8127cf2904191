//! The decisions of an import, as a pure function of what was read: which rows become which
//! records here, which are skipped and why, and how they are split into batches (one
//! transaction each).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use portus_core::model::{
    ImportBatch, ImportedActivity, ImportedAppToken, ImportedComment, ImportedDelivery, ImportedMembership,
    ImportedNamespace, ImportedRepository, ImportedTag, ImportedTeam, ImportedUser, ImportedWebhook, Role, Visibility,
};
use portus_core::naming::{validate_namespace_name, validate_team_name, validate_username};
use portus_core::scope::validate_path_component;

use crate::report::{Kind, Report};
use crate::ruby_yaml::parse_parameters;
use crate::source::{PortusActivity, PortusSnapshot};

/// The name of Portus' internal account (its background jobs' identity), which is not a person.
pub const PORTUS_INTERNAL_USER: &str = "portus";

/// The import ledger's name for rows from Portus.
pub const SOURCE: &str = "portus";

/// Rows per batch for the kinds that can be numerous (tags, stars, comments, activities).
pub const BATCH_ROWS: usize = 2_000;

/// How long an account locked in Portus stays locked here: until an administrator unlocks it.
fn locked_forever() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn utc(time: Option<NaiveDateTime>) -> Option<DateTime<Utc>> {
    time.map(|t| Utc.from_utc_datetime(&t))
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

/// An import worked out: the batches to write, in order, and the report.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Batches in dependency order (accounts, repositories, then the rest), each written in one
    /// transaction.
    pub batches: Vec<ImportBatch>,
    /// What was found, what will be imported, what is skipped and why.
    pub report: Report,
}

/// Names of the rows that made it into the plan, by their Portus ids.
#[derive(Default)]
pub(crate) struct Names {
    users: HashMap<i64, String>,
    /// Every user's name, imported or not (activities keep actors by name).
    all_users: HashMap<i64, String>,
    teams: HashMap<i64, String>,
    all_teams: HashMap<i64, String>,
    /// Imported namespaces; the global one is "".
    namespaces: HashMap<i64, String>,
    all_namespaces: HashMap<i64, String>,
    repositories: HashMap<i64, String>,
    all_repositories: HashMap<i64, String>,
    tags: HashMap<i64, String>,
    tokens: HashMap<i64, String>,
    webhooks: HashMap<i64, String>,
}

/// Works out the import of `snapshot`.
pub fn plan(snapshot: &PortusSnapshot) -> Plan {
    let mut report = Report::default();
    let mut names = Names::default();
    let mut accounts = ImportBatch::new(SOURCE);

    for registry in &snapshot.registries {
        let scheme = if registry.use_ssl { "https" } else { "http" };
        report.hint(format!(
            "Portus' registry '{}' is {scheme}://{}: set `registry.url = \"{scheme}://{}\"` (the address portus reaches it at)",
            registry.name, registry.hostname, registry.hostname
        ));
        if let Some(external) = non_empty(registry.external_hostname.clone()) {
            report.hint(format!("clients pull from {external} (Portus' external_hostname)"));
        }
    }
    if snapshot.registries.len() > 1 {
        report.hint("the database lists several registries; Portus used only the first".into());
    }

    plan_users(snapshot, &mut names, &mut report, &mut accounts);
    plan_teams_and_namespaces(snapshot, &mut names, &mut report, &mut accounts);
    plan_tokens(snapshot, &mut names, &mut report, &mut accounts);

    let mut repositories = ImportBatch::new(SOURCE);
    plan_repositories(snapshot, &mut names, &mut report, &mut repositories);
    let mut rest = Vec::new();
    plan_tags(snapshot, &mut names, &mut report, &mut rest);
    plan_stars_and_comments(snapshot, &names, &mut report, &mut rest);
    plan_webhooks(snapshot, &mut names, &mut report, &mut rest);
    plan_activities(snapshot, &names, &mut report, &mut rest);

    let mut batches = vec![accounts, repositories];
    batches.extend(rest);
    batches.retain(|b| !b.is_empty());
    Plan { batches, report }
}

fn plan_users(snapshot: &PortusSnapshot, names: &mut Names, report: &mut Report, batch: &mut ImportBatch) {
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
        let password_hash = Some(user.encrypted_password.clone()).filter(|h| !h.is_empty());
        if password_hash.is_none() {
            report.note(format!(
                "{}: no local password in Portus; signs in through LDAP, OAuth or application tokens only",
                user.username
            ));
        }
        if user.locked_at.is_some() {
            report.note(format!(
                "{}: locked in Portus; stays locked until an administrator unlocks it",
                user.username
            ));
        }
        batch.users.push(ImportedUser {
            username: user.username.clone(),
            email: non_empty(user.email.clone()),
            admin: user.admin,
            enabled: user.enabled,
            locked_until: user.locked_at.map(|_| locked_forever()),
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

fn plan_teams_and_namespaces(
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
            team: team.clone(),
            username: user.clone(),
            role: role(member.role),
        });
        report.planned(Kind::Memberships);
    }
}

fn plan_tokens(snapshot: &PortusSnapshot, names: &mut Names, report: &mut Report, batch: &mut ImportBatch) {
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
            username: user.clone(),
            label: token.application.clone(),
            secret_hash: token.token_hash.clone(),
        });
        report.planned(Kind::AppTokens);
    }
}

/// The full name of a Portus repository: `namespace/name`, or `name` in the global namespace.
fn full_name(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}

fn plan_repositories(snapshot: &PortusSnapshot, names: &mut Names, report: &mut Report, batch: &mut ImportBatch) {
    for repository in &snapshot.repositories {
        report.found(Kind::Repositories);
        let namespace_name = repository
            .namespace_id
            .and_then(|id| names.all_namespaces.get(&id).cloned())
            .unwrap_or_default();
        let name = full_name(&namespace_name, &repository.name);
        names.all_repositories.insert(repository.id, name.clone());
        let Some(namespace) = repository.namespace_id.and_then(|id| names.namespaces.get(&id)) else {
            report.skip(Kind::Repositories, &name, "its namespace is not imported");
            continue;
        };
        if repository.marked {
            report.skip(Kind::Repositories, &name, "Portus was deleting it");
            continue;
        }
        if let Some(reason) = repository
            .name
            .split('/')
            .find_map(|c| validate_path_component(c).err())
        {
            report.skip(Kind::Repositories, &name, &format!("invalid repository name: {reason}"));
            continue;
        }
        let name = full_name(namespace, &repository.name);
        batch.repositories.push(ImportedRepository {
            name: name.clone(),
            description: non_empty(repository.description.clone()),
            created_at: utc(repository.created_at),
        });
        names.repositories.insert(repository.id, name);
        report.planned(Kind::Repositories);
    }
}

/// Appends `item` to the last batch of `batches` whose `rows` are under [`BATCH_ROWS`],
/// starting a new batch when it is full.
fn push_row(batches: &mut Vec<ImportBatch>, add: impl FnOnce(&mut ImportBatch)) {
    if batches.last().is_none_or(|b| b.len() >= BATCH_ROWS) {
        batches.push(ImportBatch::new(SOURCE));
    }
    if let Some(batch) = batches.last_mut() {
        add(batch);
    }
}

/// The registry's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    name.len() <= 128 && name.chars().next().is_some_and(word) && name.chars().all(|c| word(c) || c == '.' || c == '-')
}

fn plan_tags(snapshot: &PortusSnapshot, names: &mut Names, report: &mut Report, batches: &mut Vec<ImportBatch>) {
    let mut rescans = 0usize;
    for tag in &snapshot.tags {
        report.found(Kind::Tags);
        let repository = names.all_repositories.get(&tag.repository_id).cloned();
        let label = format!("{}:{}", repository.as_deref().unwrap_or("?"), tag.name);
        let Some(repository) = names.repositories.get(&tag.repository_id).cloned() else {
            report.skip(Kind::Tags, &label, "its repository is not imported");
            continue;
        };
        if tag.marked {
            report.skip(Kind::Tags, &label, "Portus was deleting it");
            continue;
        }
        let Some(digest) = non_empty(tag.digest.clone()) else {
            report.skip(Kind::Tags, &label, "no digest recorded; the next catalog sync finds it");
            continue;
        };
        if !valid_tag(&tag.name) {
            report.skip(
                Kind::Tags,
                &label,
                "invalid tag name (registries accept [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})",
            );
            continue;
        }
        if tag.scanned == 2 {
            rescans += 1;
        }
        let pushed_by = tag
            .user_id
            .and_then(|id| names.all_users.get(&id).cloned())
            .or_else(|| non_empty(tag.username.clone()));
        let image_id =
            non_empty(tag.image_id.clone()).map(|id| if id.contains(':') { id } else { format!("sha256:{id}") });
        push_row(batches, |b| {
            b.tags.push(ImportedTag {
                repository: repository.clone(),
                name: tag.name.clone(),
                digest,
                media_type: None,
                image_id,
                image_size: tag.size.and_then(|s| u64::try_from(s).ok()),
                pushed_by,
                created_at: utc(tag.created_at),
                updated_at: utc(tag.updated_at.or(tag.created_at)),
                pulled_at: utc(tag.pulled_at),
            });
        });
        names.tags.insert(tag.id, tag.name.clone());
        report.planned(Kind::Tags);
    }
    if rescans > 0 {
        report.note(format!(
            "{rescans} tags were scanned by Portus; their findings are not imported, the configured scanners scan them again"
        ));
    }
}

fn plan_stars_and_comments(
    snapshot: &PortusSnapshot,
    names: &Names,
    report: &mut Report,
    batches: &mut Vec<ImportBatch>,
) {
    for (user, repository) in &snapshot.stars {
        report.found(Kind::Stars);
        match (names.users.get(user), names.repositories.get(repository)) {
            (Some(user), Some(repository)) => {
                push_row(batches, |b| b.stars.push((user.clone(), repository.clone())));
                report.planned(Kind::Stars);
            }
            _ => report.skip(
                Kind::Stars,
                &format!("star #{user}/{repository}"),
                "the user or the repository is not imported",
            ),
        }
    }
    for comment in &snapshot.comments {
        report.found(Kind::Comments);
        let Some(repository) = names.repositories.get(&comment.repository_id) else {
            report.skip(
                Kind::Comments,
                &format!("comment #{}", comment.id),
                "its repository is not imported",
            );
            continue;
        };
        let author = comment.user_id.and_then(|id| names.all_users.get(&id).cloned());
        push_row(batches, |b| {
            b.comments.push(ImportedComment {
                source_id: comment.id,
                repository: repository.clone(),
                author,
                body: comment.body.clone(),
                created_at: utc(comment.created_at),
            });
        });
        report.planned(Kind::Comments);
    }
}

fn plan_webhooks(snapshot: &PortusSnapshot, names: &mut Names, report: &mut Report, batches: &mut Vec<ImportBatch>) {
    let mut headers: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
    for (webhook, name, value) in &snapshot.webhook_headers {
        headers.entry(*webhook).or_default().push((name.clone(), value.clone()));
    }
    let mut deliveries: BTreeMap<i64, Vec<ImportedDelivery>> = BTreeMap::new();
    for d in &snapshot.webhook_deliveries {
        deliveries.entry(d.webhook_id).or_default().push(ImportedDelivery {
            uuid: d.uuid.clone(),
            status: d.status,
            request_header: d.request_header.clone(),
            request_body: d.request_body.clone(),
            response_header: d.response_header.clone(),
            response_body: d.response_body.clone(),
            created_at: utc(d.created_at),
        });
    }
    let mut batch = ImportBatch::new(SOURCE);
    for webhook in &snapshot.webhooks {
        report.found(Kind::Webhooks);
        let Some(namespace) = names.namespaces.get(&webhook.namespace_id).cloned() else {
            report.skip(Kind::Webhooks, &webhook.name, "its namespace is not imported");
            continue;
        };
        batch.webhooks.push(ImportedWebhook {
            source_id: webhook.id,
            namespace,
            name: webhook.name.clone(),
            url: webhook.url.clone(),
            method: if webhook.request_method == 0 { "GET" } else { "POST" }.into(),
            content_type: if webhook.content_type == 1 {
                "application/x-www-form-urlencoded"
            } else {
                "application/json"
            }
            .into(),
            username: non_empty(webhook.username.clone()),
            password: non_empty(webhook.password.clone()),
            enabled: webhook.enabled,
            headers: headers.remove(&webhook.id).unwrap_or_default(),
            deliveries: deliveries.remove(&webhook.id).unwrap_or_default(),
            created_at: utc(webhook.created_at),
        });
        names.webhooks.insert(webhook.id, webhook.name.clone());
        report.planned(Kind::Webhooks);
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
}

fn plan_activities(snapshot: &PortusSnapshot, names: &Names, report: &mut Report, batches: &mut Vec<ImportBatch>) {
    for activity in &snapshot.activities {
        report.found(Kind::Activities);
        let mapped = map_activity(activity, names);
        push_row(batches, |b| b.activities.push(mapped));
        report.planned(Kind::Activities);
    }
}

/// This project's action, target and details for a Portus activity. Names come from the
/// objects the activity points at, or, for deleted objects, from the names Portus froze into
/// its parameters.
pub(crate) fn map_activity(activity: &PortusActivity, names: &Names) -> ImportedActivity {
    let params = activity.parameters.as_deref().map(parse_parameters).unwrap_or_default();
    let param = |key: &str| params.get(key).cloned();
    let trackable = |kind: &str| -> Option<String> {
        let id = activity.trackable_id?;
        (activity.trackable_type.as_deref() == Some(kind)).then_some(())?;
        match kind {
            "Namespace" => names.all_namespaces.get(&id).cloned(),
            "Repository" => names.all_repositories.get(&id).cloned(),
            "Team" => names.all_teams.get(&id).cloned(),
            "User" => names.all_users.get(&id).cloned(),
            "ApplicationToken" => names.tokens.get(&id).cloned(),
            "Webhook" => names.webhooks.get(&id).cloned(),
            _ => None,
        }
    };
    let recipient_user = || {
        (activity.recipient_type.as_deref() == Some("User"))
            .then_some(())
            .and(activity.recipient_id)
            .and_then(|id| names.all_users.get(&id).cloned())
    };
    let namespace = || {
        trackable("Namespace")
            .or_else(|| param("namespace_name"))
            .unwrap_or_default()
    };
    let repository = || {
        trackable("Repository").or_else(|| match (param("namespace_name"), param("repo_name")) {
            (Some(ns), Some(repo)) => Some(full_name(&ns, &repo)),
            (None, Some(repo)) => Some(repo),
            _ => None,
        })
    };
    let tag_name = || {
        (activity.recipient_type.as_deref() == Some("Tag"))
            .then_some(())
            .and(activity.recipient_id)
            .and_then(|id| names.tags.get(&id).cloned())
            .or_else(|| param("tag_name"))
    };
    let team = || {
        trackable("Team")
            .or_else(|| param("team"))
            .or_else(|| param("team_name"))
            .unwrap_or_default()
    };
    let team_by_id = |key: &str| {
        param(key).map(|v| {
            v.parse::<i64>()
                .ok()
                .and_then(|id| names.all_teams.get(&id).cloned())
                .unwrap_or(v)
        })
    };
    let with_tag = |repository: Option<String>| {
        let repository = repository.unwrap_or_default();
        match tag_name() {
            Some(tag) => format!("{repository}:{tag}"),
            None => repository,
        }
    };

    let (action, target, details): (String, String, Option<String>) = match activity.key.as_str() {
        "repository.push" => ("tag.push".into(), with_tag(repository()), None),
        "repository.delete" => ("tag.delete".into(), with_tag(repository()), None),
        "namespace.create" => ("namespace.create".into(), namespace(), None),
        "namespace.change_namespace_description" => (
            "namespace.update".into(),
            namespace(),
            Some("description changed".into()),
        ),
        "namespace.change_namespace_name" => (
            "namespace.update".into(),
            namespace(),
            Some(match (param("old"), param("new")) {
                (Some(old), Some(new)) => format!("renamed from {old} to {new}"),
                _ => "renamed".into(),
            }),
        ),
        "namespace.change_team" => (
            "namespace.update".into(),
            namespace(),
            Some(match (team_by_id("old"), team_by_id("new")) {
                (Some(old), Some(new)) => format!("team changed from {old} to {new}"),
                _ => "team changed".into(),
            }),
        ),
        "namespace.change_visibility" => (
            "namespace.change_visibility".into(),
            namespace(),
            param("visibility").map(|v| v.trim_start_matches("visibility_").to_owned()),
        ),
        "namespace.public" => ("namespace.change_visibility".into(), namespace(), Some("public".into())),
        "namespace.private" => (
            "namespace.change_visibility".into(),
            namespace(),
            Some("private".into()),
        ),
        "namespace.delete" => ("repository.delete".into(), repository().unwrap_or_default(), None),
        "registry.delete" => (
            "namespace.delete".into(),
            param("namespace_name").unwrap_or_else(namespace),
            None,
        ),
        "registry.remove_team" => ("team.delete".into(), team(), None),
        "team.create" => ("team.create".into(), team(), None),
        "team.change_team_name" => ("team.update".into(), team(), Some("renamed".into())),
        "team.change_team_description" => ("team.update".into(), team(), Some("description changed".into())),
        "team.add_member" => (
            "team.member.add".into(),
            team(),
            recipient_user().map(|u| match param("role") {
                Some(role) => format!("{u} as {role}"),
                None => u,
            }),
        ),
        "team.remove_member" => ("team.member.remove".into(), team(), recipient_user()),
        "team.change_member_role" => (
            "team.member.change_role".into(),
            team(),
            recipient_user().map(|u| match (param("old_role"), param("new_role")) {
                (Some(old), Some(new)) => format!("{u}: {old} to {new}"),
                _ => u,
            }),
        ),
        "user.delete" => (
            "user.delete".into(),
            trackable("User").or_else(|| param("username")).unwrap_or_default(),
            None,
        ),
        "application_token.create" | "application_token.destroy" => {
            let owner = activity
                .owner_id
                .and_then(|id| names.all_users.get(&id).cloned())
                .unwrap_or_default();
            let label = trackable("ApplicationToken")
                .or_else(|| param("application"))
                .unwrap_or_default();
            (activity.key.clone(), format!("{owner}/{label}"), None)
        }
        key if key.starts_with("webhook.") => (
            key.to_owned(),
            format!(
                "{}/{}",
                namespace(),
                trackable("Webhook")
                    .or_else(|| param("webhook_name"))
                    .unwrap_or_default()
            ),
            None,
        ),
        key => (
            format!("portus.{key}"),
            activity
                .trackable_type
                .as_deref()
                .map(|t| format!("{t} #{}", activity.trackable_id.unwrap_or_default()))
                .unwrap_or_default(),
            (!params.is_empty()).then(|| {
                params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        ),
    };
    ImportedActivity {
        source_id: activity.id,
        at: utc(activity.created_at),
        actor: activity.owner_id.and_then(|id| names.all_users.get(&id).cloned()),
        action,
        target,
        details,
    }
}
