//! The SQL body of [`WebhookStore`](crate::traits::WebhookStore), for both databases.

use chrono::{DateTime, Utc};

use crate::model::{
    Delivery, DeliveryAttempt, DeliveryId, DeliveryState, NamespaceId, Webhook, WebhookEvent, WebhookId,
    WebhookSettings,
};
use crate::traits::Severity;
use crate::{Error, Result};

/// The columns of a webhook, in [`WebhookRow`] order.
pub(crate) const WEBHOOK_COLUMNS: &str = "id, namespace_id, name, url, method, content_type, events, min_severity, \
     enabled, header_names, has_credentials, sealed, created_at, updated_at";

/// The columns of a delivery, in [`DeliveryRow`] order.
pub(crate) const DELIVERY_COLUMNS: &str = "id, webhook_id, event, event_key, body, state, attempts, next_attempt_at, \
     created_at, attempted_at, status, duration_ms, request_headers, response_headers, response_body, error";

/// A webhook as read.
pub(crate) type WebhookRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    bool,
    String,
    bool,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
);

/// A delivery as read.
pub(crate) type DeliveryRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    i64,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn corrupt(what: &str, value: &str) -> Error {
    Error::Backend {
        what: super::WHAT,
        source: format!("stored webhook {what} '{value}' is not understood").into(),
    }
}

/// The events column: names joined by commas.
pub(crate) fn events_text(events: &[WebhookEvent]) -> String {
    events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",")
}

/// A severity's stored rank (its place in [`Severity::ALL`]).
pub(crate) fn severity_rank(severity: Severity) -> i64 {
    Severity::ALL.iter().position(|s| *s == severity).unwrap_or(0) as i64
}

pub(crate) fn webhook_from_row(row: WebhookRow) -> Result<Webhook> {
    let (
        id,
        namespace,
        name,
        url,
        method,
        content_type,
        events,
        severity,
        enabled,
        headers,
        credentials,
        sealed,
        created,
        updated,
    ) = row;
    let events = events
        .split(',')
        .filter(|e| !e.is_empty())
        .map(|e| e.parse().map_err(|_| corrupt("event", e)))
        .collect::<Result<Vec<WebhookEvent>>>()?;
    Ok(Webhook {
        id: WebhookId(id),
        namespace_id: NamespaceId(namespace),
        settings: WebhookSettings {
            name,
            method: method.parse().map_err(|_| corrupt("method", &method))?,
            content_type: content_type
                .parse()
                .map_err(|_| corrupt("content type", &content_type))?,
            url,
            events,
            min_severity: usize::try_from(severity)
                .ok()
                .and_then(|i| Severity::ALL.get(i).copied())
                .ok_or_else(|| corrupt("severity", &severity.to_string()))?,
            enabled,
            header_names: headers.lines().map(str::to_owned).collect(),
            has_credentials: credentials,
            sealed,
        },
        created_at: created,
        updated_at: updated,
    })
}

pub(crate) fn delivery_from_row(row: DeliveryRow) -> Result<Delivery> {
    let (
        id,
        webhook,
        event,
        event_key,
        body,
        state,
        attempts,
        next,
        created,
        at,
        status,
        duration,
        req,
        resp,
        resp_body,
        error,
    ) = row;
    let last_attempt = at.map(|at| DeliveryAttempt {
        at: Some(at),
        status: status.and_then(|s| u16::try_from(s).ok()),
        duration_ms: duration.and_then(|d| u64::try_from(d).ok()).unwrap_or(0),
        request_headers: req.unwrap_or_default(),
        response_headers: resp.unwrap_or_default(),
        response_body: resp_body.unwrap_or_default(),
        error,
    });
    Ok(Delivery {
        id: DeliveryId(id),
        webhook_id: WebhookId(webhook),
        event: event.parse().map_err(|_| corrupt("event", &event))?,
        event_key,
        body,
        state: state
            .parse::<DeliveryState>()
            .map_err(|_| corrupt("delivery state", &state))?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: next,
        created_at: created,
        last_attempt,
    })
}

/// Binds a webhook's stored settings, in the column order both `INSERT` and `UPDATE` use
/// (`name` through `sealed`), after whatever `$query` has bound already.
macro_rules! bind_webhook_settings {
    ($query:expr, $settings:expr) => {
        $query
            .bind(&$settings.name)
            .bind(&$settings.url)
            .bind($settings.method.as_str())
            .bind($settings.content_type.as_str())
            .bind(events_text(&$settings.events))
            .bind(severity_rank($settings.min_severity))
            .bind($settings.enabled)
            .bind($settings.header_names.join("\n"))
            .bind($settings.has_credentials)
            .bind(&$settings.sealed)
    };
}

/// Implements [`WebhookStore`](crate::traits::WebhookStore) for `$store` inside a module that
/// defines the row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_webhooks_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl crate::traits::WebhookStore for $store {
            async fn create_webhook(
                &self,
                namespace: crate::model::NamespaceId,
                settings: crate::model::WebhookSettings,
            ) -> Result<crate::model::Webhook> {
                use super::sql::webhooks::*;
                let now = crate::model::now();
                let sql = sqlx::AssertSqlSafe(format!(
                    "INSERT INTO outgoing_webhooks (namespace_id, name, url, method, content_type, events, \
                     min_severity, enabled, header_names, has_credentials, sealed, created_at, updated_at) \
                     SELECT id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12 FROM namespaces WHERE id = $1 \
                     RETURNING {WEBHOOK_COLUMNS}"
                ));
                let row = crate::store::sql::webhooks::bind_webhook_settings!(sqlx::query_as::<_, WebhookRow>(sql).bind(namespace.0), settings)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?
                    .ok_or_else(|| Error::not_found("namespace", namespace.to_string()))?;
                webhook_from_row(row)
            }
            async fn webhook(&self, id: crate::model::WebhookId) -> Result<Option<crate::model::Webhook>> {
                use super::sql::webhooks::*;
                let sql = sqlx::AssertSqlSafe(format!("SELECT {WEBHOOK_COLUMNS} FROM outgoing_webhooks WHERE id = $1"));
                sqlx::query_as::<_, WebhookRow>(sql)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?
                    .map(webhook_from_row)
                    .transpose()
            }
            async fn namespace_webhooks(
                &self,
                namespace: crate::model::NamespaceId,
            ) -> Result<Vec<crate::model::Webhook>> {
                use super::sql::webhooks::*;
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM outgoing_webhooks WHERE namespace_id = $1 ORDER BY id"
                ));
                sqlx::query_as::<_, WebhookRow>(sql)
                    .bind(namespace.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?
                    .into_iter()
                    .map(webhook_from_row)
                    .collect()
            }
            async fn update_webhook(
                &self,
                id: crate::model::WebhookId,
                settings: crate::model::WebhookSettings,
            ) -> Result<crate::model::Webhook> {
                use super::sql::webhooks::*;
                let sql = sqlx::AssertSqlSafe(format!(
                    "UPDATE outgoing_webhooks SET name = $2, url = $3, method = $4, content_type = $5, events = $6, \
                     min_severity = $7, enabled = $8, header_names = $9, has_credentials = $10, sealed = $11, \
                     updated_at = $12 WHERE id = $1 RETURNING {WEBHOOK_COLUMNS}"
                ));
                let row = crate::store::sql::webhooks::bind_webhook_settings!(sqlx::query_as::<_, WebhookRow>(sql).bind(id.0), settings)
                    .bind(crate::model::now())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?
                    .ok_or_else(|| Error::not_found("webhook", id.to_string()))?;
                webhook_from_row(row)
            }
            async fn delete_webhook(&self, id: crate::model::WebhookId) -> Result<()> {
                let result = sqlx::query("DELETE FROM outgoing_webhooks WHERE id = $1")
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("webhook", id.to_string()));
                }
                Ok(())
            }
            async fn enqueue_delivery(
                &self,
                webhook: crate::model::WebhookId,
                event: crate::model::WebhookEvent,
                event_key: &str,
                body: &str,
            ) -> Result<Option<crate::model::Delivery>> {
                use super::sql::webhooks::*;
                let now = crate::model::now();
                let sql = sqlx::AssertSqlSafe(format!(
                    "INSERT INTO webhook_queue (webhook_id, event, event_key, body, state, attempts, \
                     next_attempt_at, created_at) \
                     SELECT id, $2, $3, $4, 'pending', 0, $5, $5 FROM outgoing_webhooks WHERE id = $1 \
                     ON CONFLICT (webhook_id, event_key) DO NOTHING RETURNING {DELIVERY_COLUMNS}"
                ));
                let row = sqlx::query_as::<_, DeliveryRow>(sql)
                    .bind(webhook.0)
                    .bind(event.as_str())
                    .bind(event_key)
                    .bind(body)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                match row {
                    Some(row) => delivery_from_row(row).map(Some),
                    None if self.webhook(webhook).await?.is_none() => {
                        Err(Error::not_found("webhook", webhook.to_string()))
                    }
                    None => Ok(None),
                }
            }
            async fn claim_due_deliveries(
                &self,
                now: DateTime<Utc>,
                limit: usize,
                lease_until: DateTime<Utc>,
            ) -> Result<Vec<crate::model::Delivery>> {
                use super::sql::webhooks::*;
                // The head of each enabled webhook's queue (`webhook_queue_pending`), when due,
                // moved to `lease_until` in the same statement. On PostgreSQL the heads are
                // taken `FOR UPDATE SKIP LOCKED` and the outer condition is checked again on the
                // row as committed, so two dispatchers never claim one delivery.
                let sql = sqlx::AssertSqlSafe(format!(
                    "UPDATE webhook_queue SET next_attempt_at = $4 \
                     WHERE state = 'pending' AND next_attempt_at <= $1 AND id IN (\
                     SELECT q.id FROM webhook_queue q WHERE q.state = 'pending' AND q.next_attempt_at <= $1 \
                     AND q.webhook_id IN (SELECT w.id FROM outgoing_webhooks w WHERE w.enabled = $3) \
                     AND q.id = (SELECT MIN(p.id) FROM webhook_queue p \
                     WHERE p.webhook_id = q.webhook_id AND p.state = 'pending') \
                     ORDER BY q.id LIMIT $2{ROW_LOCK}) \
                     RETURNING {DELIVERY_COLUMNS}"
                ));
                let mut claimed: Vec<crate::model::Delivery> = sqlx::query_as::<_, DeliveryRow>(sql)
                    .bind(crate::model::at_store_precision(now))
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .bind(true)
                    .bind(crate::model::at_store_precision(lease_until))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?
                    .into_iter()
                    .map(delivery_from_row)
                    .collect::<Result<_>>()?;
                // RETURNING gives no order: oldest first, as asked.
                claimed.sort_by_key(|d| d.id);
                Ok(claimed)
            }
            async fn finish_attempt(
                &self,
                id: crate::model::DeliveryId,
                attempt: &crate::model::DeliveryAttempt,
                outcome: crate::model::AttemptOutcome,
            ) -> Result<()> {
                use crate::model::AttemptOutcome;
                let (state, next) = match outcome {
                    AttemptOutcome::Delivered => ("delivered", None),
                    AttemptOutcome::GaveUp => ("failed", None),
                    AttemptOutcome::RetryAt(at) => ("pending", Some(crate::model::at_store_precision(at))),
                };
                let result = sqlx::query(
                    "UPDATE webhook_queue SET state = $2, attempts = attempts + 1, \
                     next_attempt_at = COALESCE($3, next_attempt_at), attempted_at = $4, status = $5, \
                     duration_ms = $6, request_headers = $7, response_headers = $8, response_body = $9, error = $10 \
                     WHERE id = $1",
                )
                .bind(id.0)
                .bind(state)
                .bind(next)
                .bind(attempt.at.unwrap_or_else(crate::model::now))
                .bind(attempt.status.map(i64::from))
                .bind(i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX))
                .bind(&attempt.request_headers)
                .bind(&attempt.response_headers)
                .bind(&attempt.response_body)
                .bind(&attempt.error)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("delivery", id.to_string()));
                }
                Ok(())
            }
            async fn deliveries(
                &self,
                webhook: crate::model::WebhookId,
                limit: usize,
            ) -> Result<Vec<crate::model::Delivery>> {
                use super::sql::webhooks::*;
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_queue WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2"
                ));
                sqlx::query_as::<_, DeliveryRow>(sql)
                    .bind(webhook.0)
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?
                    .into_iter()
                    .map(delivery_from_row)
                    .collect()
            }
            async fn deliveries_page(
                &self,
                webhook: crate::model::WebhookId,
                offset: u64,
                limit: Option<u64>,
            ) -> Result<crate::model::ListPage<crate::model::Delivery>> {
                use super::sql::webhooks::*;
                // Newest first on `webhook_queue_by_webhook` (webhook_id, id).
                let query = crate::model::ListQuery { limit, offset, ..crate::model::ListQuery::all(()) };
                let (limit, offset) = super::sql::lists::limit_offset(&query);
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_queue WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
                ));
                let items = sqlx::query_as::<_, DeliveryRow>(sql)
                    .bind(webhook.0)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?
                    .into_iter()
                    .map(delivery_from_row)
                    .collect::<Result<Vec<_>>>()?;
                let count = || {
                    let mut count = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM webhook_queue WHERE webhook_id = ");
                    count.push_bind(webhook.0);
                    count
                };
                let total = total_or_count(&self.pool, &query, items.len(), count).await?;
                Ok(crate::model::ListPage { items, total })
            }
            async fn delivery(&self, id: crate::model::DeliveryId) -> Result<Option<crate::model::Delivery>> {
                use super::sql::webhooks::*;
                let sql = sqlx::AssertSqlSafe(format!("SELECT {DELIVERY_COLUMNS} FROM webhook_queue WHERE id = $1"));
                sqlx::query_as::<_, DeliveryRow>(sql)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?
                    .map(delivery_from_row)
                    .transpose()
            }
        }
    };
}

pub(crate) use bind_webhook_settings;
pub(crate) use sql_webhooks_store;
