//! The catalog and what hangs on it: repositories, tags, stars, comments and webhooks.

use std::collections::BTreeMap;

use portus_core::model::{
    ImportBatch, ImportedComment, ImportedDelivery, ImportedRepository, ImportedStar, ImportedTag, ImportedWebhook,
};
use portus_core::scope::validate_path_component;

use super::{Names, SOURCE, full_name, non_empty, push_row, utc};
use crate::report::{Kind, Report};
use crate::source::PortusSnapshot;

pub(super) fn plan_repositories(
    snapshot: &PortusSnapshot,
    names: &mut Names,
    report: &mut Report,
    batch: &mut ImportBatch,
) {
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
            source_key: repository.id.to_string(),
            name: name.clone(),
            description: non_empty(repository.description.clone()),
            created_at: utc(repository.created_at),
        });
        names.repositories.insert(repository.id, name);
        report.planned(Kind::Repositories);
    }
}

/// The registry's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    name.len() <= 128 && name.chars().next().is_some_and(word) && name.chars().all(|c| word(c) || c == '.' || c == '-')
}

pub(super) fn plan_tags(
    snapshot: &PortusSnapshot,
    names: &mut Names,
    report: &mut Report,
    batches: &mut Vec<ImportBatch>,
) {
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
                source_key: tag.id.to_string(),
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

pub(super) fn plan_stars_and_comments(
    snapshot: &PortusSnapshot,
    names: &Names,
    report: &mut Report,
    batches: &mut Vec<ImportBatch>,
) {
    for (user_id, repository_id) in &snapshot.stars {
        report.found(Kind::Stars);
        let (user, repository) = (user_id, repository_id);
        match (names.users.get(user), names.repositories.get(repository)) {
            (Some(user), Some(repository)) => {
                let star = ImportedStar {
                    source_key: format!("{user_id}/{repository_id}"),
                    username: user.clone(),
                    repository: repository.clone(),
                };
                push_row(batches, |b| b.stars.push(star));
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
                source_key: comment.id.to_string(),
                repository: repository.clone(),
                author,
                body: comment.body.clone(),
                created_at: utc(comment.created_at),
            });
        });
        report.planned(Kind::Comments);
    }
}

pub(super) fn plan_webhooks(
    snapshot: &PortusSnapshot,
    names: &mut Names,
    report: &mut Report,
    batches: &mut Vec<ImportBatch>,
) {
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
            source_key: webhook.id.to_string(),
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
