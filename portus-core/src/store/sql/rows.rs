//! The rows the SQL stores read, one struct per shape, decoded by column name with
//! `sqlx::FromRow` (the derive is generic over the row type: one struct serves `SqliteRow` and
//! `PgRow`), and their conversions into the model.
//!
//! The decoding rules live in the conversions, once per type: ids become their newtypes, enums
//! stored as text go through their `FromStr` (an unknown value is `Error::Invalid`), counters
//! stored as `BIGINT`/`INTEGER` are clamped into their unsigned types, JSON columns are parsed
//! (a malformed one is `Error::Backend`). Timestamps are stored at store precision and read as
//! they are. A column that is missing or of the wrong type fails the query itself, which the
//! backend's `db_error` maps like any other database error.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::WHAT;
use crate::model::{
    Activity, AppToken, AppTokenId, ManifestRecord, Namespace, NamespaceAccess, NamespaceId, PasswordHash,
    RefreshToken, RefreshTokenId, Repository, RepositoryId, RepositoryListing, RepositorySummary, Role, ScanRecord,
    ScanState, StoredEvent, TagId, TagRecord, Team, TeamId, TeamMember, User, UserId, Visibility,
};
use crate::{Error, Result};

/// A `BIGINT` counter as a `u32`, clamped.
fn clamp_u32(value: i64) -> u32 {
    value.clamp(0, i64::from(u32::MAX)) as u32
}

/// A `BIGINT` size or count as a `u64` (negative values read as 0).
fn clamp_u64(value: i64) -> u64 {
    value.max(0) as u64
}

/// `USER_COLUMNS`.
#[derive(FromRow)]
pub(crate) struct UserRow {
    id: i64,
    username: String,
    email: Option<String>,
    admin: bool,
    enabled: bool,
    password_hash: Option<String>,
    personal_namespace: Option<i64>,
    failed_logins: i64,
    locked_until: Option<DateTime<Utc>>,
    display_name: Option<String>,
    bot: bool,
    created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: UserId(row.id),
            username: row.username,
            email: row.email,
            admin: row.admin,
            enabled: row.enabled,
            password_hash: row.password_hash.map(PasswordHash),
            personal_namespace: row.personal_namespace.map(NamespaceId),
            failed_logins: clamp_u32(row.failed_logins),
            locked_until: row.locked_until,
            display_name: row.display_name,
            bot: row.bot,
            created_at: row.created_at,
        }
    }
}

/// `id, name, description, hidden` of `teams`.
#[derive(FromRow)]
pub(crate) struct TeamRow {
    id: i64,
    name: String,
    description: Option<String>,
    hidden: bool,
}

impl From<TeamRow> for Team {
    fn from(row: TeamRow) -> Self {
        Team {
            id: TeamId(row.id),
            name: row.name,
            description: row.description,
            hidden: row.hidden,
        }
    }
}

/// `user_id, username, role` of a team's members.
#[derive(FromRow)]
pub(crate) struct TeamMemberRow {
    user_id: i64,
    username: String,
    role: String,
}

impl TryFrom<TeamMemberRow> for TeamMember {
    type Error = Error;

    fn try_from(row: TeamMemberRow) -> Result<Self> {
        Ok(TeamMember {
            user_id: UserId(row.user_id),
            username: row.username,
            role: Role::from_str(&row.role)?,
        })
    }
}

/// `team_id, role` of a user's memberships.
#[derive(FromRow)]
pub(crate) struct MembershipRow {
    team_id: i64,
    role: String,
}

impl TryFrom<MembershipRow> for (TeamId, Role) {
    type Error = Error;

    fn try_from(row: MembershipRow) -> Result<Self> {
        Ok((TeamId(row.team_id), Role::from_str(&row.role)?))
    }
}

/// `NAMESPACE_COLUMNS` (the id as `ns_id`: joins with `users` have an `id` of their own).
#[derive(FromRow)]
pub(crate) struct NamespaceRow {
    #[sqlx(rename = "ns_id")]
    id: i64,
    name: String,
    description: Option<String>,
    team_id: Option<i64>,
    visibility: String,
    global: bool,
    personal_owner_id: Option<i64>,
}

impl TryFrom<NamespaceRow> for Namespace {
    type Error = Error;

    fn try_from(row: NamespaceRow) -> Result<Self> {
        Ok(Namespace {
            id: NamespaceId(row.id),
            name: row.name,
            description: row.description,
            team_id: row.team_id.map(TeamId),
            visibility: Visibility::from_str(&row.visibility)?,
            global: row.global,
            personal_owner: row.personal_owner_id.map(UserId),
        })
    }
}

/// `NAMESPACE_COLUMNS` and the caller's role in the namespace's team (`m.role`).
#[derive(FromRow)]
pub(crate) struct AccessRow {
    #[sqlx(flatten)]
    namespace: NamespaceRow,
    role: Option<String>,
}

impl TryFrom<AccessRow> for NamespaceAccess {
    type Error = Error;

    fn try_from(row: AccessRow) -> Result<Self> {
        Ok(NamespaceAccess {
            namespace: row.namespace.try_into()?,
            role: row.role.as_deref().map(Role::from_str).transpose()?,
        })
    }
}

/// The columns of `app_tokens` an [`AppTokenRow`] reads.
pub(crate) const APP_TOKEN_COLUMNS: &str = "id, user_id, label, created_at, expires_at, scope, last_used_at";

/// [`APP_TOKEN_COLUMNS`] of `app_tokens`.
#[derive(FromRow)]
pub(crate) struct AppTokenRow {
    id: i64,
    user_id: i64,
    label: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    /// The scope's rules as a JSON array of strings.
    scope: Option<String>,
    last_used_at: Option<DateTime<Utc>>,
}

/// An [`AppTokenRow`] with the stored hash of its secret.
#[derive(FromRow)]
pub(crate) struct LegacyAppTokenRow {
    #[sqlx(flatten)]
    pub(crate) token: AppTokenRow,
    pub(crate) secret_hash: String,
}

impl From<AppTokenRow> for AppToken {
    fn from(row: AppTokenRow) -> Self {
        // A scope that no longer parses (never written so) fails closed: it allows nothing.
        let scope = row.scope.map(|text| {
            serde_json::from_str::<Vec<String>>(&text)
                .ok()
                .and_then(|rules| crate::model::TokenScope::parse(&rules).ok())
                .unwrap_or_else(crate::model::TokenScope::nothing)
        });
        AppToken {
            id: AppTokenId(row.id),
            user_id: UserId(row.user_id),
            label: row.label,
            created_at: row.created_at,
            limits: crate::model::TokenLimits {
                expires_at: row.expires_at,
                scope,
            },
            last_used_at: row.last_used_at,
        }
    }
}

/// `id, user_id, service, app_token_id, created_at` of `refresh_tokens`.
#[derive(FromRow)]
pub(crate) struct RefreshTokenRow {
    id: i64,
    user_id: i64,
    service: String,
    app_token_id: Option<i64>,
    created_at: DateTime<Utc>,
}

impl From<RefreshTokenRow> for RefreshToken {
    fn from(row: RefreshTokenRow) -> Self {
        RefreshToken {
            id: RefreshTokenId(row.id),
            user_id: UserId(row.user_id),
            service: row.service,
            app_token_id: row.app_token_id.map(AppTokenId),
            created_at: row.created_at,
        }
    }
}

/// `REPOSITORY_COLUMNS`.
#[derive(FromRow)]
pub(crate) struct RepositoryRow {
    id: i64,
    name: String,
    namespace_id: i64,
    stars: i64,
    description: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<RepositoryRow> for Repository {
    fn from(row: RepositoryRow) -> Self {
        Repository {
            id: RepositoryId(row.id),
            name: row.name,
            namespace_id: NamespaceId(row.namespace_id),
            stars: clamp_u64(row.stars),
            description: row.description,
            created_at: row.created_at,
        }
    }
}

/// A repository's figures as the summary queries select them: id, tags, latest push, failed,
/// done, holding no image, and the six severities.
#[derive(FromRow)]
pub(crate) struct SummaryRow(
    pub(crate) i64,
    i64,
    Option<DateTime<Utc>>,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

impl SummaryRow {
    pub(crate) fn summary(&self) -> RepositorySummary {
        super::summaries::summary_from_columns(
            self.1,
            self.2,
            self.3,
            self.4,
            self.5,
            [self.6, self.7, self.8, self.9, self.10, self.11],
        )
    }
}

/// `REPOSITORY_COLUMNS` with the kept figures (`s_` columns) of `repository_summaries`.
#[derive(FromRow)]
pub(crate) struct RepositoryListingRow {
    #[sqlx(flatten)]
    repository: RepositoryRow,
    s_tags: i64,
    s_latest_push: Option<DateTime<Utc>>,
    s_failed: i64,
    s_done: i64,
    s_not_images: i64,
    s_unknown: i64,
    s_negligible: i64,
    s_low: i64,
    s_medium: i64,
    s_high: i64,
    s_critical: i64,
}

impl From<RepositoryListingRow> for RepositoryListing {
    fn from(row: RepositoryListingRow) -> Self {
        RepositoryListing {
            repository: row.repository.into(),
            summary: super::summaries::summary_from_columns(
                row.s_tags,
                row.s_latest_push,
                row.s_failed,
                row.s_done,
                row.s_not_images,
                [
                    row.s_unknown,
                    row.s_negligible,
                    row.s_low,
                    row.s_medium,
                    row.s_high,
                    row.s_critical,
                ],
            ),
        }
    }
}

/// `TAG_COLUMNS`.
#[derive(FromRow)]
pub(crate) struct TagRow {
    id: i64,
    repository: String,
    name: String,
    digest: String,
    media_type: String,
    size: Option<i64>,
    pushed_by: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    image_id: Option<String>,
    image_size: Option<i64>,
    pulled_at: Option<DateTime<Utc>>,
    artifact_kind: Option<String>,
    artifact_type: Option<String>,
    chart_name: Option<String>,
    chart_version: Option<String>,
    artifact_subject: Option<String>,
    signed: bool,
    pull_count: i64,
    platform_sizes: Option<String>,
}

impl From<TagRow> for TagRecord {
    fn from(row: TagRow) -> Self {
        TagRecord {
            id: TagId(row.id),
            repository: row.repository,
            name: row.name,
            manifest: ManifestRecord {
                digest: row.digest,
                media_type: row.media_type,
                size: row.size.map(clamp_u64),
            },
            pushed_by: row.pushed_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            image_id: row.image_id,
            image_size: row.image_size.map(clamp_u64),
            pulled_at: row.pulled_at,
            // A kind this version does not know reads as not yet recognized (looked at again).
            artifact: row
                .artifact_kind
                .and_then(|k| k.parse::<crate::model::ArtifactKind>().ok())
                .map(|kind| crate::model::Artifact {
                    kind,
                    artifact_type: row.artifact_type,
                    chart: match (row.chart_name, row.chart_version) {
                        (Some(name), Some(version)) => Some(crate::model::ChartInfo { name, version }),
                        _ => None,
                    },
                    subject: row.artifact_subject,
                }),
            signed: row.signed,
            pull_count: clamp_u64(row.pull_count),
            // Written by `record_image_sizes` only; an unreadable value is as good as unknown.
            platform_sizes: row
                .platform_sizes
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default(),
        }
    }
}

/// `seq, event_id, payload` of `registry_events`.
#[derive(FromRow)]
pub(crate) struct StoredEventRow {
    seq: i64,
    event_id: String,
    payload: String,
}

impl From<StoredEventRow> for StoredEvent {
    fn from(row: StoredEventRow) -> Self {
        StoredEvent {
            seq: row.seq,
            event_id: row.event_id,
            payload: row.payload,
        }
    }
}

/// `digest, backend, state, report, error, attempts, updated_at, next_attempt_at` of
/// `scan_records`; the report is JSON text.
#[derive(FromRow)]
pub(crate) struct ScanRecordRow {
    digest: String,
    backend: String,
    state: String,
    report: Option<String>,
    error: Option<String>,
    attempts: i64,
    updated_at: DateTime<Utc>,
    next_attempt_at: Option<DateTime<Utc>>,
}

impl TryFrom<ScanRecordRow> for ScanRecord {
    type Error = Error;

    fn try_from(row: ScanRecordRow) -> Result<Self> {
        Ok(ScanRecord {
            digest: row.digest,
            backend: row.backend,
            state: ScanState::from_str(&row.state)?,
            report: row
                .report
                .map(|r| serde_json::from_str(&r))
                .transpose()
                .map_err(|e| Error::Backend {
                    what: WHAT,
                    source: Box::new(e),
                })?,
            error: row.error,
            attempts: clamp_u32(row.attempts),
            updated_at: row.updated_at,
            next_attempt_at: row.next_attempt_at,
        })
    }
}

/// `id, at, actor, action, target, details` of `activities`.
#[derive(FromRow)]
pub(crate) struct ActivityRow {
    id: i64,
    at: DateTime<Utc>,
    actor: Option<String>,
    action: String,
    target: String,
    details: Option<String>,
}

impl From<ActivityRow> for Activity {
    fn from(row: ActivityRow) -> Self {
        Activity {
            id: row.id,
            at: row.at,
            actor: row.actor,
            action: row.action,
            target: row.target,
            details: row.details,
        }
    }
}
