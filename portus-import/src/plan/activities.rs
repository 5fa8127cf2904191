//! The activity log: Portus' PublicActivity keys and Ruby-YAML parameters mapped to this
//! project's actions, targets and details.

use portus_core::model::{ImportBatch, ImportedActivity};

use super::{Names, full_name, push_row, utc};
use crate::report::{Kind, Report};
use crate::ruby_yaml::parse_parameters;
use crate::source::{PortusActivity, PortusSnapshot};

pub(super) fn plan_activities(
    snapshot: &PortusSnapshot,
    names: &Names,
    report: &mut Report,
    batches: &mut Vec<ImportBatch>,
) {
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
        source_key: activity.id.to_string(),
        at: utc(activity.created_at),
        actor: activity.owner_id.and_then(|id| names.all_users.get(&id).cloned()),
        action,
        target,
        details,
    }
}
