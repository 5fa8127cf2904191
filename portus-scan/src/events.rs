//! Registry notifications, persisted first and applied after.
//!
//! [`EventPipeline::ingest`] stores events (deduplicated by id) and returns as soon as they are
//! durable; a background task applies pending events in arrival order. Events left pending by a
//! crash are applied when the pipeline starts again.
//!
//! Every event is checked against the distribution grammar before anything is written
//! ([`Event::check`]): one that names a repository, tag or digest no registry would send is
//! refused on its own (finished as failed, its error `refused: <reason>`), the rest of its
//! envelope is applied. An actor that is no local user (the registry's own account, a user
//! deleted since) never becomes the pusher or actor of anything: the event is applied
//! unattributed and the activity names the registry account in its details.

use std::sync::Arc;
use std::time::Duration;

use portus_core::PolicyStore;
use portus_core::model::{
    ActivityAction, ActivityFilter, EventStatus, ManifestRecord, MissingNamespace, NewActivity, StoredEvent, TagChange,
    TagRecord, WebhookEvent, is_manifest_media_type,
};
use portus_core::naming::validate_username;
use portus_core::prelude::*;
use portus_core::traits::RegistryClient;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use crate::Error;
use crate::notification::{Event, parse_envelope, parse_event};

/// What [`EventPipeline::ingest`] did with an envelope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Events stored that were not known yet.
    pub accepted: usize,
    /// Events of the envelope that will never be applied: unreadable, or naming a repository,
    /// tag or digest no registry would send. They are stored all the same (so the refusal and
    /// its reason are recorded); the registry is not asked to send them again.
    pub refused: usize,
}

/// The time from the event's own timestamp (the registry's clock) to now; `None` when it
/// carries none or it lies in the future.
fn event_lag(stored: &StoredEvent) -> Option<Duration> {
    let at = parse_event(&stored.payload).ok()?.at()?;
    (chrono::Utc::now() - at).to_std().ok()
}

/// How many pending events are applied per store round trip.
const BATCH: usize = 256;

/// Stores and applies registry notification events.
///
/// Store roles used: [`EventStore`] (the durable queue: insert, pending, finish),
/// [`CatalogStore`] (tags and repositories the events create, move and delete),
/// [`ActivityStore`] (one activity per tag pushed, discovered or deleted) and [`AccountStore`]
/// (whether an event's actor is a local user). All are normally the same store;
/// [`new`](Self::new) takes it whole, [`from_roles`](Self::from_roles) takes each role on its
/// own (e.g. to wrap one in a decorator).
pub struct EventPipeline {
    events: Arc<dyn EventStore>,
    catalog: Arc<dyn CatalogStore>,
    activity: Arc<dyn ActivityStore>,
    accounts: Arc<dyn AccountStore>,
    missing: MissingNamespace,
    /// The account portus itself acts as in the registry (`registry.service_account`).
    own_account: std::sync::OnceLock<String>,
    /// Where pushes and deletes are queued for outgoing webhooks, and the dispatcher to wake.
    webhooks: std::sync::OnceLock<crate::webhooks::WebhookQueue>,
    /// The registry pushed images are measured in ([`crate::sizes`]).
    registry: std::sync::OnceLock<Arc<dyn RegistryClient>>,
    wake: Notify,
    /// Where applied events and their lag are reported (metrics).
    observer: portus_core::observe::ObserverSlot,
}

impl std::fmt::Debug for EventPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventPipeline")
            .field("missing", &self.missing)
            .finish_non_exhaustive()
    }
}

impl EventPipeline {
    /// A pipeline over `store`; pushes into unknown namespaces are handled per `missing`.
    pub fn new(store: Arc<dyn PolicyStore>, missing: MissingNamespace) -> Arc<Self> {
        Self::from_roles(store.clone(), store.clone(), store.clone(), store, missing)
    }

    /// A pipeline over the roles it uses, which must share one underlying store (the catalog
    /// must see what the event queue records).
    pub fn from_roles(
        events: Arc<dyn EventStore>,
        catalog: Arc<dyn CatalogStore>,
        activity: Arc<dyn ActivityStore>,
        accounts: Arc<dyn AccountStore>,
        missing: MissingNamespace,
    ) -> Arc<Self> {
        Arc::new(EventPipeline {
            events,
            catalog,
            activity,
            accounts,
            missing,
            own_account: std::sync::OnceLock::new(),
            webhooks: std::sync::OnceLock::new(),
            registry: std::sync::OnceLock::new(),
            wake: Notify::new(),
            observer: Default::default(),
        })
    }

    /// Reports each finished event (and how long after its timestamp it was applied) to
    /// `observer` (set once).
    pub fn set_observer(&self, observer: Arc<dyn portus_core::observe::Observer>) {
        self.observer.set(observer);
    }

    /// Names the account portus deletes with in the registry: deletions it made come back as
    /// notifications by that account and are applied without a second activity (the command
    /// or page that deleted recorded the act, with who asked for it). Set once; later calls
    /// are ignored.
    pub fn set_own_account(&self, account: &str) {
        let _ = self.own_account.set(account.to_owned());
    }

    /// Queues applied pushes and deletes for the outgoing webhooks of their namespace in
    /// `store` (the pipeline's own), waking `dispatcher`. They are queued before the registry
    /// event is finished and keyed by its id: a crash in between applies the event again and
    /// queues nothing twice, so no delivery is lost or doubled. Set once; later calls are
    /// ignored.
    pub fn set_webhooks(&self, store: Arc<dyn PolicyStore>, dispatcher: Option<Arc<crate::webhooks::Dispatcher>>) {
        let _ = self.webhooks.set(crate::webhooks::WebhookQueue::new(store, dispatcher));
    }

    /// Reads each pushed manifest from `registry` by digest: to record what the tag holds
    /// (image, Helm chart, signature, ...; [`crate::artifacts`]), to keep manifests pushed by
    /// digest that refer to another (signatures attached with `oras attach`), and to measure
    /// images ([`crate::sizes`]). A registry that cannot answer leaves the tag unrecognized (the
    /// scan worker looks again) and its size unknown; the push is applied anyway. Set once;
    /// later calls are ignored.
    pub fn set_registry(&self, registry: Arc<dyn RegistryClient>) {
        let _ = self.registry.set(registry);
    }

    /// Parses and stores an envelope; counts the events that were new and those that will be
    /// refused. Nothing is stored when the envelope itself is invalid (not JSON, an event
    /// without an id); a malformed event is stored and refused on its own when applied.
    pub async fn ingest(&self, body: &[u8]) -> Result<Ingested, Error> {
        let events = parse_envelope(body)?;
        let refused = events
            .iter()
            .filter(|(_, json)| !parse_event(json).is_ok_and(|event| event.check().is_ok()))
            .count();
        let accepted = self.events.insert_events(&events).await?;
        if accepted > 0 {
            self.wake.notify_one();
        }
        Ok(Ingested { accepted, refused })
    }

    /// Applies every pending event; returns how many were processed. Instances sharing the
    /// store take turns ([`EventStore::lock_applier`]): each event is applied once, in order.
    pub async fn drain(&self) -> Result<usize, Error> {
        let _applier = self.events.lock_applier().await?;
        let mut processed = 0;
        loop {
            let batch = self.events.pending_events(BATCH).await?;
            if batch.is_empty() {
                return Ok(processed);
            }
            for event in batch {
                let (status, error, finished) = match self.apply(&event).await {
                    Ok((status, finished)) => (status, None, finished),
                    // A store outage: leave the event pending and try again later.
                    Err(e) if e.is_temporary() => return Err(e),
                    Err(e @ Error::RefusedEvent(_)) => {
                        warn!(event = %event.event_id, reason = %e, "registry event refused: no registry sends this");
                        (EventStatus::Failed, Some(e.to_string()), false)
                    }
                    Err(e) => {
                        warn!(event = %event.event_id, error = %e, "registry event could not be applied");
                        (EventStatus::Failed, Some(e.to_string()), false)
                    }
                };
                if !finished {
                    self.events.finish_event(event.seq, status, error.as_deref()).await?;
                }
                self.observer.get().event_finished(status, event_lag(&event));
                processed += 1;
            }
        }
    }

    /// Runs [`drain`](Self::drain) now, whenever events arrive, and every `interval` (which
    /// also retries after a store outage), until the task is aborted.
    pub fn spawn(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        self.spawn_until(interval, crate::stop::never())
    }

    /// [`spawn`](Self::spawn), ending after the pass in progress once `stop` says so (events
    /// still pending are applied by the next start, or by another instance).
    pub fn spawn_until(
        self: &Arc<Self>,
        interval: Duration,
        mut stop: crate::stop::Stop,
    ) -> tokio::task::JoinHandle<()> {
        let pipeline = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if let Err(e) = pipeline.drain().await {
                    warn!(error = %e, "applying registry events failed; will retry");
                }
                tokio::select! {
                    _ = crate::stop::requested(&mut stop) => return,
                    _ = pipeline.wake.notified() => {}
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        })
    }

    /// Applies one event; its status, and whether applying it finished it already (a pull
    /// counted in the same transaction, see [`EventStore::finish_pull_event`]).
    async fn apply(&self, stored: &StoredEvent) -> Result<(EventStatus, bool), Error> {
        let event = parse_event(&stored.payload)?;
        // Before anything is written: a malformed event never touches the catalog.
        event.check()?;
        let Some(repository) = event.target.repository.clone() else {
            return Ok((EventStatus::Ignored, false));
        };
        let is_manifest = event.target.media_type.as_deref().is_some_and(is_manifest_media_type);
        // The name the registry gives (the token's subject), not yet known to be a user.
        let actor = event.actor.name.as_deref().filter(|n| !n.is_empty());
        debug!(event = %stored.event_id, action = %event.action, %repository, "applying registry event");
        let (status, hook) = match event.action.as_str() {
            "push" if is_manifest => (
                self.apply_push(&event, &repository, actor).await?,
                Some(WebhookEvent::Push),
            ),
            "pull" if is_manifest => match self.apply_pull(stored.seq, &event, &repository, actor).await? {
                // Counted and finished in one transaction: nothing more to do.
                None => return Ok((EventStatus::Applied, true)),
                Some(status) => (status, None),
            },
            // Queues its webhooks itself, before the tags go.
            "delete" => (self.apply_delete(stored, &event, &repository, actor).await?, None),
            _ => (EventStatus::Ignored, None),
        };
        // A push by digest alone (an index's children) is no tag push for webhooks.
        let tagged = hook != Some(WebhookEvent::Push) || event.target.tag.is_some();
        if let (EventStatus::Applied, Some(hook), true) = (status, hook, tagged) {
            self.notify_webhooks(stored, &event, hook, &repository, actor).await?;
        }
        Ok((status, false))
    }

    async fn notify_webhooks(
        &self,
        stored: &StoredEvent,
        event: &Event,
        hook: WebhookEvent,
        repository: &str,
        actor: Option<&str>,
    ) -> Result<(), Error> {
        let Some(queue) = self.webhooks.get() else {
            return Ok(());
        };
        let actor = self.attribute(actor).await?.user;
        let raw: serde_json::Value = serde_json::from_str(&stored.payload).unwrap_or_default();
        let body = crate::webhooks::registry_envelope(
            hook,
            &stored.event_id,
            repository,
            event.target.tag.as_deref(),
            event.target.digest.as_deref(),
            actor.as_deref(),
            &raw,
        );
        let queued = queue.queue(repository, hook, &stored.event_id, &body, None).await?;
        queue.wake(queued);
        Ok(())
    }

    /// Who an event is attributed to: the local user its actor names, or nobody.
    async fn attribute(&self, actor: Option<&str>) -> Result<Attribution, Error> {
        let Some(name) = actor else {
            return Ok(Attribution::default());
        };
        if let Some(user) = self.accounts.user_by_name(name).await? {
            return Ok(Attribution {
                user: Some(user.username),
                note: String::new(),
            });
        }
        debug!(actor = ?name, "registry event by an account that is no local user: applied unattributed");
        // Named in the details (when it could be a user name at all), never as the actor: a
        // user created later under that name must not inherit the act.
        let note = if validate_username(name).is_ok() {
            format!(" (registry account '{name}', no local user)")
        } else {
            " (registry account that is no valid user name)".to_owned()
        };
        Ok(Attribution { user: None, note })
    }

    async fn apply_push(&self, event: &Event, repository: &str, actor: Option<&str>) -> Result<EventStatus, Error> {
        let Some(manifest) = manifest_of(event) else {
            return Ok(EventStatus::Ignored);
        };
        let Attribution { user: actor, note } = self.attribute(actor).await?;
        let actor = actor.as_deref();
        let Some(tag) = event.target.tag.as_deref() else {
            // A push by digest (e.g. the children of an index) makes the repository exist.
            let exists = self.catalog.ensure_repository(repository, self.missing).await?;
            if exists && let Some(registry) = self.registry.get() {
                let recognized = crate::artifacts::recognize_untagged(
                    registry.as_ref(),
                    self.catalog.as_ref(),
                    repository,
                    &manifest.digest,
                    &manifest.media_type,
                )
                .await;
                match recognized {
                    Ok(Some(referrer)) => info!(
                        repository,
                        digest = %manifest.digest,
                        kind = %referrer.artifact.kind,
                        subject = referrer.artifact.subject.as_deref().unwrap_or("-"),
                        "referrer recorded"
                    ),
                    Ok(None) => {}
                    Err(e) => {
                        warn!(repository, digest = %manifest.digest, error = %e, "a manifest pushed by digest was not read")
                    }
                }
            }
            return Ok(if exists {
                EventStatus::Applied
            } else {
                EventStatus::Ignored
            });
        };
        let change = self
            .catalog
            .put_tag(repository, tag, &manifest, actor, self.missing)
            .await?;
        let measure = match &change {
            TagChange::NamespaceMissing => false,
            // A redelivery: measure only what is not known yet.
            TagChange::Unchanged => self
                .catalog
                .tag(repository, tag)
                .await?
                .is_some_and(|t| t.image_size.is_none()),
            _ => true,
        };
        let recognize = matches!(
            change,
            TagChange::Created | TagChange::Updated { .. } | TagChange::PusherRestored
        );
        self.learn(repository, tag, &manifest.digest, recognize, measure).await;
        let details = match &change {
            TagChange::Created => format!("{}{note}", manifest.digest),
            TagChange::Updated { previous_digest } => format!("{} (was {previous_digest}){note}", manifest.digest),
            // A redelivered push of a tag recorded without its pusher (discovered by a pull or a
            // sync while portus was down): the store took the pusher now; the push is recorded.
            TagChange::PusherRestored => format!("{}{note}", manifest.digest),
            // A push of the image the tag holds already is recorded by the push that set it;
            // unless that push is this one, applied again after an instance died between
            // recording the tag and its activity: then the activity is still missing.
            TagChange::Unchanged if self.push_recorded(repository, tag, &manifest.digest).await? => {
                return Ok(EventStatus::Applied);
            }
            TagChange::Unchanged => format!("{}{note}", manifest.digest),
            TagChange::NamespaceMissing => return Ok(EventStatus::Ignored),
        };
        info!(
            actor = actor.unwrap_or("-"),
            tag = %format!("{repository}:{tag}"),
            digest = %manifest.digest,
            "registry push applied"
        );
        self.activity
            .record_activity(
                NewActivity::new(actor, ActivityAction::TagPush, format!("{repository}:{tag}")).with_details(details),
            )
            .await?;
        Ok(EventStatus::Applied)
    }

    /// Whether a push of `digest` to `repository:tag` is in the activity log.
    async fn push_recorded(&self, repository: &str, tag: &str, digest: &str) -> Result<bool, Error> {
        self.newest_tag_activity_is(&format!("{repository}:{tag}"), ActivityAction::TagPush, digest)
            .await
    }

    /// Whether the newest `action` recorded for the tag `target` (among the newest 500 whose
    /// target starts as the tag's does) names `digest`.
    async fn newest_tag_activity_is(&self, target: &str, action: ActivityAction, digest: &str) -> Result<bool, Error> {
        let filter = ActivityFilter {
            action: Some(action.as_str().to_owned()),
            target_prefix: Some(target.to_owned()),
            limit: 500,
            ..ActivityFilter::default()
        };
        let recorded = self.activity.activities(&filter).await?;
        Ok(recorded
            .iter()
            .find(|a| a.target == target)
            .is_some_and(|a| a.details.as_deref().is_some_and(|d| d.starts_with(digest))))
    }

    /// Reads the manifest `digest` of `repository:tag` once, when a registry is set, to record
    /// what the tag holds (`recognize`) and the image's sizes (`measure`). A failure is logged,
    /// never fatal to the event: the scan worker recognizes tags still unknown before scanning
    /// them, and a sync or scan measures what is left unmeasured.
    async fn learn(&self, repository: &str, tag: &str, digest: &str, recognize: bool, measure: bool) {
        let Some(registry) = self.registry.get() else {
            return;
        };
        if !recognize && !measure {
            return;
        }
        let manifest = match registry.manifest(repository, digest).await {
            Ok(manifest) => manifest,
            Err(e) => {
                warn!(repository, tag, error = %e, "the pushed manifest was not read; what it holds and its size stay unknown for now");
                return;
            }
        };
        if recognize {
            match crate::artifacts::record_tag_artifact(self.catalog.as_ref(), repository, tag, digest, &manifest).await
            {
                Ok(artifact) => debug!(repository, tag, kind = %artifact.kind, "tag recognized"),
                Err(e) => warn!(repository, tag, error = %e, "what the tag holds was not recorded; unknown for now"),
            }
        }
        if measure {
            match crate::sizes::measure_and_record(registry.as_ref(), self.catalog.as_ref(), repository, &manifest)
                .await
            {
                Ok(sizes) => debug!(%repository, %digest, size = ?sizes.map(|s| s.total), "image measured"),
                Err(e) => {
                    warn!(%repository, %digest, error = %e, "the image's size could not be read from the registry; it stays unknown until a sync or scan")
                }
            }
        }
    }

    /// Applies the pull event `seq`; `None` when it is applied and finished already (a pull
    /// of a known tag is counted in the same transaction that finishes its event, so an
    /// applier dying in between never gets it counted twice).
    async fn apply_pull(
        &self,
        seq: i64,
        event: &Event,
        repository: &str,
        actor: Option<&str>,
    ) -> Result<Option<EventStatus>, Error> {
        let (Some(tag), Some(manifest)) = (event.target.tag.as_deref(), manifest_of(event)) else {
            // A pull by digest (an index's platforms, a pinned reference): no tag to count.
            return Ok(Some(EventStatus::Ignored));
        };
        // portus' own reads (a scan, a sync, retention's check before a removal) are no
        // user's pulls, and never bring back a tag: applied late, the pull may follow the
        // removal it checked for.
        if actor.is_some() && actor == self.own_account.get().map(String::as_str) {
            return Ok(Some(EventStatus::Ignored));
        }
        // Never in the future: the time comes from the event's sender.
        let now = portus_core::model::now();
        let at = event.at().map_or(now, |at| at.min(now));
        // Counted for the tag whatever image it pulled (a tag moved by a push not applied yet
        // is still the tag pulled).
        if self.events.finish_pull_event(seq, repository, tag, at).await? {
            return Ok(None);
        }
        // A pulled tag we did not know (its push notification was lost): record it.
        match self
            .catalog
            .put_tag(repository, tag, &manifest, None, self.missing)
            .await?
        {
            TagChange::NamespaceMissing => Ok(Some(EventStatus::Ignored)),
            _ => {
                self.catalog.record_pull(repository, tag, at).await?;
                self.learn(repository, tag, &manifest.digest, true, true).await;
                let Attribution { user: actor, note } = self.attribute(actor).await?;
                let activity = NewActivity::new(
                    actor.as_deref(),
                    ActivityAction::TagDiscovered,
                    format!("{repository}:{tag}"),
                )
                .with_details(format!("{}{note}", manifest.digest));
                self.activity.record_activity(activity).await?;
                Ok(Some(EventStatus::Applied))
            }
        }
    }

    /// Applies a delete: what it removes is read first, and its activities recorded and its
    /// webhooks queued before it is removed, so that an instance dying midway leaves the
    /// removal to the next one, which finds those recorded (a removal applied already finds
    /// nothing left to do).
    async fn apply_delete(
        &self,
        stored: &StoredEvent,
        event: &Event,
        repository: &str,
        actor: Option<&str>,
    ) -> Result<EventStatus, Error> {
        let (tag, digest) = (event.target.tag.as_deref(), event.target.digest.as_deref());
        let doomed: Vec<TagRecord> = match (tag, digest) {
            (Some(tag), _) => self.catalog.tag(repository, tag).await?.into_iter().collect(),
            (None, Some(digest)) => self
                .catalog
                .tags(Some(repository))
                .await?
                .into_iter()
                .filter(|t| t.manifest.digest == digest)
                .collect(),
            (None, None) => self.catalog.tags(Some(repository)).await?,
        };
        let own = actor.is_some() && actor == self.own_account.get().map(String::as_str);
        // Portus deleted it itself: whoever asked for that is recorded by the deletion.
        if !own && !doomed.is_empty() {
            let Attribution { user: who, note } = self.attribute(actor).await?;
            for tag in &doomed {
                let target = format!("{repository}:{}", tag.name);
                if self
                    .newest_tag_activity_is(&target, ActivityAction::TagDelete, &tag.manifest.digest)
                    .await?
                {
                    continue;
                }
                let activity = NewActivity::new(who.as_deref(), ActivityAction::TagDelete, target)
                    .with_details(format!("{}{note}", tag.manifest.digest));
                self.activity.record_activity(activity).await?;
            }
        }
        if !doomed.is_empty() {
            self.notify_webhooks(stored, event, WebhookEvent::Delete, repository, actor)
                .await?;
        }
        let deleted = match (tag, digest) {
            (Some(tag), _) => self.catalog.delete_tag(repository, tag).await?.into_iter().collect(),
            (None, Some(digest)) => self.catalog.delete_tags_by_digest(repository, digest).await?,
            (None, None) => self.catalog.delete_repository(repository).await?,
        };
        for tag in &deleted {
            info!(
                actor = actor.unwrap_or("-"),
                tag = %format!("{repository}:{}", tag.name),
                digest = %tag.manifest.digest,
                "registry delete applied"
            );
        }
        Ok(if doomed.is_empty() && deleted.is_empty() {
            EventStatus::Ignored
        } else {
            EventStatus::Applied
        })
    }
}

/// The local user an event is attributed to, and for an actor that is none, a note for the
/// activity's details naming the registry account.
#[derive(Default)]
struct Attribution {
    user: Option<String>,
    note: String,
}

fn manifest_of(event: &Event) -> Option<ManifestRecord> {
    Some(ManifestRecord {
        digest: event.target.digest.clone()?,
        media_type: event.target.media_type.clone()?,
        size: None,
    })
}

#[cfg(test)]
mod tests {
    use portus_core::InMemoryStore;
    use portus_core::model::{ActivityFilter, NewUser};
    use serde_json::json;

    use super::*;

    fn envelope(events: &[serde_json::Value]) -> Vec<u8> {
        serde_json::to_vec(&json!({ "events": events })).unwrap()
    }

    fn push(id: &str, repository: &str, tag: Option<&str>, digest: &str, media_type: &str) -> serde_json::Value {
        let mut target = json!({"mediaType": media_type, "digest": digest, "size": 100, "repository": repository});
        if let Some(tag) = tag {
            target["tag"] = json!(tag);
        }
        json!({"id": id, "action": "push", "target": target, "actor": {"name": "alice"}})
    }

    const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

    /// A valid sha256 digest made from a short label (the pipeline refuses malformed ones).
    fn dg(label: &str) -> String {
        let hex: String = label.bytes().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex:0<64}")
    }

    async fn setup(missing: MissingNamespace) -> (Arc<InMemoryStore>, Arc<EventPipeline>) {
        let store = Arc::new(InMemoryStore::new());
        for username in ["alice", "bob"] {
            store
                .create_user(NewUser {
                    username: username.into(),
                    ..NewUser::default()
                })
                .await
                .unwrap();
        }
        let pipeline = EventPipeline::new(store.clone(), missing);
        (store, pipeline)
    }

    #[tokio::test]
    async fn a_redelivered_push_restores_the_pusher_of_a_discovered_tag() {
        let (store, pipeline) = setup(MissingNamespace::Create).await;
        // Portus was down for the push: a pull records the tag without its pusher.
        let pull = json!({"id": "p1", "action": "pull", "actor": {"name": "bob"},
            "target": {"mediaType": OCI, "digest": dg("a1"), "repository": "alice/app", "tag": "1.0"}});
        pipeline.ingest(&envelope(&[pull])).await.unwrap();
        pipeline.drain().await.unwrap();
        assert_eq!(store.tag("alice/app", "1.0").await.unwrap().unwrap().pushed_by, None);
        // The registry redelivers the push.
        pipeline
            .ingest(&envelope(&[push("p2", "alice/app", Some("1.0"), &dg("a1"), OCI)]))
            .await
            .unwrap();
        pipeline.drain().await.unwrap();
        let tag = store.tag("alice/app", "1.0").await.unwrap().unwrap();
        assert_eq!(tag.pushed_by.as_deref(), Some("alice"));
        let actions: Vec<String> = store
            .activities(&ActivityFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|a| format!("{} {}", a.actor.unwrap_or_default(), a.action))
            .collect();
        assert_eq!(actions, ["alice tag.push", "bob tag.discovered"]);
    }

    #[tokio::test]
    async fn a_deletion_portus_made_itself_is_not_recorded_twice() {
        let (store, pipeline) = setup(MissingNamespace::Create).await;
        pipeline.set_own_account("portus");
        let pushes = [
            push("d1", "alice/app", Some("1.0"), &dg("a1"), OCI),
            push("d2", "alice/app", Some("2.0"), &dg("a2"), OCI),
        ];
        pipeline.ingest(&envelope(&pushes)).await.unwrap();
        pipeline.drain().await.unwrap();
        // Portus' own deletion (the command or page that asked recorded it): applied, not
        // recorded again; someone else's deletion is recorded.
        let own = json!({"id": "d3", "action": "delete", "actor": {"name": "portus"},
            "target": {"digest": dg("a1"), "repository": "alice/app"}});
        let other = json!({"id": "d4", "action": "delete", "actor": {"name": "alice"},
            "target": {"digest": dg("a2"), "repository": "alice/app"}});
        pipeline.ingest(&envelope(&[own, other])).await.unwrap();
        pipeline.drain().await.unwrap();
        assert!(store.tags(Some("alice/app")).await.unwrap().is_empty());
        let deletes: Vec<String> = store
            .activities(&ActivityFilter::default())
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.action == "tag.delete")
            .map(|a| format!("{} {}", a.actor.unwrap_or_default(), a.target))
            .collect();
        assert_eq!(deletes, ["alice alice/app:2.0"]);
    }

    #[tokio::test]
    async fn pushes_and_deletes_are_queued_once_for_the_webhooks_of_their_namespace() {
        use portus_core::model::{
            NewNamespace, Visibility, WebhookContentType, WebhookEvent, WebhookMethod, WebhookSettings,
        };
        let (store, pipeline) = setup(MissingNamespace::Ignore).await;
        pipeline.set_webhooks(store.clone(), None);
        let alice = store.user_by_name("alice").await.unwrap().unwrap();
        let team = store.create_team("devs", alice.id, None).await.unwrap();
        let mut hooks = Vec::new();
        for name in ["acme", "other"] {
            let namespace = store
                .create_namespace(NewNamespace {
                    name: name.into(),
                    team_id: team.id,
                    visibility: Visibility::Private,
                    description: None,
                })
                .await
                .unwrap();
            let settings = WebhookSettings {
                name: "ci".into(),
                url: "https://hooks.example/".into(),
                method: WebhookMethod::Post,
                content_type: WebhookContentType::Json,
                events: vec![WebhookEvent::Push, WebhookEvent::Delete],
                min_severity: crate::Severity::High,
                enabled: true,
                header_names: Vec::new(),
                has_credentials: false,
                sealed: String::new(),
            };
            hooks.push(store.create_webhook(namespace.id, settings).await.unwrap().id);
        }
        let pushed = envelope(&[push("e1", "acme/app", Some("1.0"), &dg("a"), OCI)]);
        pipeline.ingest(&pushed).await.unwrap();
        pipeline.drain().await.unwrap();
        // The registry sends it again: queued once.
        pipeline.ingest(&pushed).await.unwrap();
        pipeline.drain().await.unwrap();
        let deletion = json!({"id": "e2", "action": "delete", "target": {"repository": "acme/app", "tag": "1.0"}});
        pipeline.ingest(&envelope(&[deletion])).await.unwrap();
        pipeline.drain().await.unwrap();
        let queued = store.deliveries(hooks[0], 10).await.unwrap();
        let events: Vec<_> = queued.iter().map(|d| (d.event, d.event_key.as_str())).collect();
        assert_eq!(events, vec![(WebhookEvent::Delete, "e2"), (WebhookEvent::Push, "e1")]);
        let body: serde_json::Value = serde_json::from_str(&queued[1].body).unwrap();
        assert_eq!(
            (body["namespace"].as_str(), body["tag"].as_str()),
            (Some("acme"), Some("1.0"))
        );
        assert_eq!(body["actor"], "alice");
        assert!(
            store.deliveries(hooks[1], 10).await.unwrap().is_empty(),
            "another namespace's webhook"
        );
    }

    #[tokio::test]
    async fn push_pull_delete_and_replay() {
        let (store, pipeline) = setup(MissingNamespace::Create).await;
        let body = envelope(&[
            push("e1", "alice/app", Some("1.0"), &dg("a1"), OCI),
            push("e2", "alice/app", None, &dg("child"), OCI),
            push("e3", "alice/app", Some("1.0"), &dg("blob"), "application/octet-stream"),
            json!({"id": "e4", "action": "mount", "target": {"repository": "alice/app"}}),
        ]);
        assert_eq!(
            pipeline.ingest(&body).await.unwrap(),
            Ingested {
                accepted: 4,
                refused: 0
            }
        );
        assert_eq!(pipeline.drain().await.unwrap(), 4);
        let tag = store.tag("alice/app", "1.0").await.unwrap().unwrap();
        assert_eq!(
            (tag.manifest.digest.as_str(), tag.pushed_by.as_deref()),
            (dg("a1").as_str(), Some("alice"))
        );

        // Replaying the same envelope changes nothing.
        assert_eq!(
            pipeline.ingest(&body).await.unwrap(),
            Ingested {
                accepted: 0,
                refused: 0
            }
        );
        assert_eq!(pipeline.drain().await.unwrap(), 0);
        let activities = store.activities(&ActivityFilter::default()).await.unwrap();
        assert_eq!(activities.len(), 1);
        assert_eq!(
            (activities[0].action.as_str(), activities[0].target.as_str()),
            ("tag.push", "alice/app:1.0")
        );

        // A pull of an unknown tag records it; a manifest delete removes every tag of the digest.
        let pull = json!({"id": "e5", "action": "pull", "actor": {"name": "bob"},
            "target": {"mediaType": OCI, "digest": dg("a1"), "repository": "alice/app", "tag": "latest"}});
        pipeline.ingest(&envelope(&[pull])).await.unwrap();
        pipeline.drain().await.unwrap();
        assert_eq!(store.tags(Some("alice/app")).await.unwrap().len(), 2);
        let delete = json!({"id": "e6", "action": "delete", "target": {"digest": dg("a1"), "repository": "alice/app"}});
        let tag_delete = json!({"id": "e7", "action": "delete", "target": {"repository": "alice/app", "tag": "1.0"}});
        pipeline.ingest(&envelope(&[delete, tag_delete])).await.unwrap();
        pipeline.drain().await.unwrap();
        assert!(store.tags(Some("alice/app")).await.unwrap().is_empty());
        let deletes = store
            .activities(&ActivityFilter {
                action: Some("tag.delete".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(deletes.len(), 2, "one activity per deleted tag");
    }

    #[tokio::test]
    async fn pushes_are_measured_and_pulls_by_tag_counted_except_portus_own() {
        use portus_core::memory::{InMemoryRegistry, image_manifest, index_manifest};
        let (store, pipeline) = setup(MissingNamespace::Create).await;
        pipeline.set_own_account("portus");
        let registry = Arc::new(InMemoryRegistry::new());
        let mut child = image_manifest(&dg("c1"), &[]);
        child.record.size = Some(1000);
        let mut other = image_manifest(&dg("c2"), &[]);
        other.record.size = Some(3000);
        let mut index = index_manifest(&dg("idx"), &[&dg("c1"), &dg("c2")]);
        index.platforms = vec!["linux/amd64".into(), "linux/arm64".into()];
        index.record.size = Some(600);
        for m in [child, other, index] {
            registry.push_manifest("alice/app", m);
        }
        pipeline.set_registry(registry.clone());
        let index_type = "application/vnd.oci.image.index.v1+json";
        pipeline
            .ingest(&envelope(&[
                push("e1", "alice/app", Some("multi"), &dg("idx"), index_type),
                push("e2", "alice/app", Some("one"), &dg("c2"), OCI),
                // An image the registry no longer has: applied, size unknown.
                push("e3", "alice/app", Some("gone"), &dg("gone"), OCI),
            ]))
            .await
            .unwrap();
        assert_eq!(pipeline.drain().await.unwrap(), 3);
        let tag = |name: &'static str| {
            let store = store.clone();
            async move { store.tag("alice/app", name).await.unwrap().unwrap() }
        };
        let multi = tag("multi").await;
        assert_eq!(
            multi.image_size,
            Some(4000),
            "the platforms' images, not the index's children documents"
        );
        let platforms: Vec<(String, u64)> = multi
            .platform_sizes
            .iter()
            .map(|p| (p.platform.clone(), p.size))
            .collect();
        assert_eq!(
            platforms,
            [("linux/amd64".to_owned(), 1000), ("linux/arm64".to_owned(), 3000)]
        );
        assert_eq!(tag("one").await.image_size, Some(3000));
        assert_eq!(tag("gone").await.image_size, None);
        // Portus measures by digest: reading by tag would come back as a pull.
        assert!(
            registry.calls().iter().all(|c| match c {
                portus_core::memory::RegistryCall::Manifest(_, reference) => reference.starts_with("sha256:"),
                _ => true,
            }),
            "{:?}",
            registry.calls()
        );

        let pull = |id: &str, actor: &str, tag: Option<&str>, at: &str| {
            let mut target = json!({"mediaType": OCI, "digest": dg("c2"), "repository": "alice/app"});
            if let Some(tag) = tag {
                target["tag"] = json!(tag);
            }
            json!({"id": id, "action": "pull", "actor": {"name": actor}, "timestamp": at, "target": target})
        };
        pipeline
            .ingest(&envelope(&[
                pull("p1", "bob", Some("one"), "2026-11-30T10:00:00Z"),
                pull("p2", "alice", Some("one"), "2026-11-30T09:00:00.5+01:00"),
                pull("p3", "portus", Some("one"), "2026-11-30T11:00:00Z"),
                pull("p4", "bob", None, "2026-11-30T12:00:00Z"),
            ]))
            .await
            .unwrap();
        pipeline.drain().await.unwrap();
        let one = tag("one").await;
        assert_eq!(one.pull_count, 2, "by tag, not by portus' own account, not by digest");
        assert_eq!(
            one.pulled_at,
            Some("2026-11-30T10:00:00Z".parse().unwrap()),
            "the latest of the pulls' own times"
        );
        assert_eq!(tag("multi").await.pull_count, 0);
    }

    #[tokio::test]
    async fn every_manifest_media_type_is_recorded() {
        let (store, pipeline) = setup(MissingNamespace::Create).await;
        let types = [
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ];
        let events: Vec<_> = types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                push(
                    &format!("e{i}"),
                    "alice/app",
                    Some(&format!("t{i}")),
                    &dg(&i.to_string()),
                    t,
                )
            })
            .collect();
        pipeline.ingest(&envelope(&events)).await.unwrap();
        pipeline.drain().await.unwrap();
        let recorded: Vec<String> = store
            .tags(Some("alice/app"))
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.manifest.media_type)
            .collect();
        assert_eq!(recorded, types);
    }

    #[tokio::test]
    async fn unknown_namespaces_follow_the_setting() {
        let (store, pipeline) = setup(MissingNamespace::Ignore).await;
        pipeline
            .ingest(&envelope(&[push("e1", "ghost/app", Some("1"), &dg("a"), OCI)]))
            .await
            .unwrap();
        pipeline.drain().await.unwrap();
        assert!(store.tags(None).await.unwrap().is_empty());
        let (store, pipeline) = setup(MissingNamespace::Create).await;
        pipeline
            .ingest(&envelope(&[push("e1", "ghost/app", Some("1"), &dg("a"), OCI)]))
            .await
            .unwrap();
        pipeline.drain().await.unwrap();
        assert_eq!(store.tags(None).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn invalid_envelopes_store_nothing_and_bad_events_fail_alone() {
        let (store, pipeline) = setup(MissingNamespace::Create).await;
        assert!(
            pipeline
                .ingest(b"{\"events\":[{\"id\":\"ok\",\"action\":\"push\"},{\"action\":\"push\"}]}")
                .await
                .is_err()
        );
        assert!(store.pending_events(10).await.unwrap().is_empty());
        let body = envelope(&[
            json!({"id": "bad", "target": {}}),
            push("good", "alice/app", Some("1"), &dg("a"), OCI),
        ]);
        pipeline.ingest(&body).await.unwrap();
        assert_eq!(pipeline.drain().await.unwrap(), 2);
        assert_eq!(
            store.tags(None).await.unwrap().len(),
            1,
            "a malformed event does not block the next"
        );
    }

    #[tokio::test]
    async fn pending_events_survive_a_restart() {
        let (store, first) = setup(MissingNamespace::Create).await;
        first
            .ingest(&envelope(&[push("e1", "alice/app", Some("1"), &dg("a"), OCI)]))
            .await
            .unwrap();
        drop(first); // "crash" before applying
        let second = EventPipeline::new(store.clone(), MissingNamespace::Create);
        let task = second.spawn(Duration::from_secs(3600));
        for _ in 0..500 {
            if store.tag("alice/app", "1").await.unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        task.abort();
        assert!(store.tag("alice/app", "1").await.unwrap().is_some());
    }

    /// Keeps how each event was finished, on top of the store's own queue.
    struct Finished {
        store: Arc<InMemoryStore>,
        log: std::sync::Mutex<Vec<(i64, EventStatus, Option<String>)>>,
    }

    #[async_trait::async_trait]
    impl EventStore for Finished {
        async fn insert_events(&self, events: &[(String, String)]) -> portus_core::Result<usize> {
            self.store.insert_events(events).await
        }
        async fn pending_events(&self, limit: usize) -> portus_core::Result<Vec<StoredEvent>> {
            self.store.pending_events(limit).await
        }
        async fn finish_event<'a>(
            &self,
            seq: i64,
            status: EventStatus,
            error: Option<&'a str>,
        ) -> portus_core::Result<()> {
            self.log.lock().unwrap().push((seq, status, error.map(str::to_owned)));
            self.store.finish_event(seq, status, error).await
        }
        async fn finish_pull_event(
            &self,
            seq: i64,
            repository: &str,
            tag: &str,
            at: chrono::DateTime<chrono::Utc>,
        ) -> portus_core::Result<bool> {
            let counted = self.store.finish_pull_event(seq, repository, tag, at).await?;
            if counted {
                self.log.lock().unwrap().push((seq, EventStatus::Applied, None));
            }
            Ok(counted)
        }
    }

    /// An activity log that is lost at the first write, as when the process dies between an
    /// event's catalog change and its activity.
    struct DiesBeforeTheActivity(Arc<InMemoryStore>);

    #[async_trait::async_trait]
    impl ActivityStore for DiesBeforeTheActivity {
        async fn record_activity(&self, _: NewActivity) -> portus_core::Result<()> {
            Err(portus_core::Error::Unavailable {
                what: "policy store",
                source: Box::new(std::io::Error::other("the process died")),
            })
        }
        async fn activities_page(
            &self,
            filter: &ActivityFilter,
            query: &portus_core::model::ListQuery<portus_core::model::ActivitySort>,
        ) -> portus_core::Result<portus_core::model::ListPage<portus_core::model::Activity>> {
            self.0.activities_page(filter, query).await
        }
    }

    #[tokio::test]
    async fn a_push_applied_again_after_a_crash_before_its_activity_is_recorded_once() {
        let (store, pipeline) = setup(MissingNamespace::Create).await;
        let dying = EventPipeline::from_roles(
            store.clone(),
            store.clone(),
            Arc::new(DiesBeforeTheActivity(store.clone())),
            store.clone(),
            MissingNamespace::Create,
        );
        let pushes = |id: &str, digest: &str| envelope(&[push(id, "alice/app", Some("1"), &dg(digest), OCI)]);
        dying.ingest(&pushes("c1", "a")).await.unwrap();
        assert!(dying.drain().await.is_err(), "the activity was not recorded");
        assert!(store.tag("alice/app", "1").await.unwrap().is_some(), "the tag was");
        // Another instance applies the event again, then the same image is pushed again
        // (a new event) and the tag moved to another one.
        pipeline.drain().await.unwrap();
        pipeline.ingest(&pushes("c2", "a")).await.unwrap();
        pipeline.ingest(&pushes("c3", "b")).await.unwrap();
        pipeline.drain().await.unwrap();
        let pushes: Vec<String> = store
            .activities(&ActivityFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.details.unwrap_or_default())
            .collect();
        assert_eq!(pushes, [format!("{} (was {})", dg("b"), dg("a")), dg("a")]);
    }

    #[tokio::test]
    async fn a_delete_applied_again_after_a_crash_midway_is_recorded_once() {
        let (store, pipeline) = setup(MissingNamespace::Create).await;
        let tags = envelope(&[
            push("x1", "alice/app", Some("1"), &dg("a"), OCI),
            push("x2", "alice/app", Some("2"), &dg("b"), OCI),
        ]);
        pipeline.ingest(&tags).await.unwrap();
        pipeline.drain().await.unwrap();
        let dying = EventPipeline::from_roles(
            store.clone(),
            store.clone(),
            Arc::new(DiesBeforeTheActivity(store.clone())),
            store.clone(),
            MissingNamespace::Create,
        );
        let delete = |id: &str, tag: &str| {
            envelope(&[json!({"id": id, "action": "delete", "actor": {"name": "alice"},
                "target": {"repository": "alice/app", "tag": tag}})])
        };
        dying.ingest(&delete("x3", "1")).await.unwrap();
        assert!(dying.drain().await.is_err(), "died midway");
        // Another instance applies it again; a delete recorded already (its instance died
        // before removing the tag) is not recorded twice.
        pipeline.drain().await.unwrap();
        store
            .record_activity(
                NewActivity::new(Some("alice"), ActivityAction::TagDelete, "alice/app:2").with_details(dg("b")),
            )
            .await
            .unwrap();
        pipeline.ingest(&delete("x4", "2")).await.unwrap();
        pipeline.drain().await.unwrap();
        assert!(store.tags(Some("alice/app")).await.unwrap().is_empty());
        let filter = ActivityFilter {
            action: Some("tag.delete".into()),
            ..ActivityFilter::default()
        };
        let mut deletes: Vec<String> = store
            .activities(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.target)
            .collect();
        deletes.sort();
        assert_eq!(deletes, ["alice/app:1", "alice/app:2"]);
    }

    /// An applier that dies after applying each event, before finishing it: every
    /// `finish_event` fails as a lost database would.
    struct DiesBeforeFinishing(Arc<InMemoryStore>);

    #[async_trait::async_trait]
    impl EventStore for DiesBeforeFinishing {
        async fn insert_events(&self, events: &[(String, String)]) -> portus_core::Result<usize> {
            self.0.insert_events(events).await
        }
        async fn pending_events(&self, limit: usize) -> portus_core::Result<Vec<StoredEvent>> {
            self.0.pending_events(limit).await
        }
        async fn finish_event<'a>(&self, _: i64, _: EventStatus, _: Option<&'a str>) -> portus_core::Result<()> {
            Err(portus_core::Error::Unavailable {
                what: "policy store",
                source: Box::new(std::io::Error::other("the process died")),
            })
        }
        async fn finish_pull_event(
            &self,
            seq: i64,
            repository: &str,
            tag: &str,
            at: chrono::DateTime<chrono::Utc>,
        ) -> portus_core::Result<bool> {
            self.0.finish_pull_event(seq, repository, tag, at).await
        }
    }

    #[tokio::test]
    async fn a_pull_applied_by_an_instance_that_dies_before_finishing_is_counted_once() {
        let (store, pipeline) = setup(MissingNamespace::Create).await;
        pipeline
            .ingest(&envelope(&[push("d1", "alice/app", Some("1"), &dg("a"), OCI)]))
            .await
            .unwrap();
        pipeline.drain().await.unwrap();
        let dying = EventPipeline::from_roles(
            Arc::new(DiesBeforeFinishing(store.clone())),
            store.clone(),
            store.clone(),
            store.clone(),
            MissingNamespace::Create,
        );
        let pull = json!({"id": "d2", "action": "pull", "actor": {"name": "bob"},
            "target": {"mediaType": OCI, "digest": dg("a"), "repository": "alice/app", "tag": "1"}});
        dying.ingest(&envelope(&[pull])).await.unwrap();
        let _ = dying.drain().await;
        // Another instance applies what is still pending.
        pipeline.drain().await.unwrap();
        assert_eq!(store.tag("alice/app", "1").await.unwrap().unwrap().pull_count, 1);
        assert!(store.pending_events(10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn events_outside_the_grammar_are_refused_one_by_one_and_never_touch_a_tag() {
        let (store, _) = setup(MissingNamespace::Create).await;
        let finished = Arc::new(Finished {
            store: store.clone(),
            log: std::sync::Mutex::new(Vec::new()),
        });
        let pipeline = EventPipeline::from_roles(
            finished.clone(),
            store.clone(),
            store.clone(),
            store.clone(),
            MissingNamespace::Create,
        );
        pipeline
            .ingest(&envelope(&[push("ok1", "alice/app", Some("1.0"), &dg("a1"), OCI)]))
            .await
            .unwrap();
        pipeline.drain().await.unwrap();

        let long_tag = "t".repeat(300);
        let bad = [
            ("devs//app", push("b1", "devs//app", Some("1"), &dg("b"), OCI)),
            (
                "ghost2/../devs/app",
                push("b2", "ghost2/../devs/app", Some("1"), &dg("b"), OCI),
            ),
            ("UPPER", push("b3", "UPPER", Some("1"), &dg("b"), OCI)),
            ("with space", push("b4", "alice/app", Some("with space"), &dg("b"), OCI)),
            (
                "longer than 128",
                push("b5", "alice/app", Some(&long_tag), &dg("b"), OCI),
            ),
            (
                "sha256:nothex",
                push("b6", "alice/app", Some("1.0"), "sha256:nothex", OCI),
            ),
            ("md5:abc", push("b7", "alice/app", Some("1.0"), "md5:abc", OCI)),
            // A delete naming a stored tag but carrying a bad digest deletes nothing.
            (
                "sha256:nothex",
                json!({"id": "b8", "action": "delete", "actor": {"name": "alice"},
                    "target": {"repository": "alice/app", "tag": "1.0", "digest": "sha256:nothex"}}),
            ),
            // A pull of an unknown tag with a bad digest records nothing.
            (
                "md5:abc",
                json!({"id": "b9", "action": "pull", "actor": {"name": "alice"},
                    "target": {"mediaType": OCI, "repository": "alice/app", "tag": "pulled", "digest": "md5:abc"}}),
            ),
        ];
        let mut events: Vec<serde_json::Value> = bad.iter().map(|(_, event)| event.clone()).collect();
        events.insert(4, push("ok2", "alice/app", Some("2.0"), &dg("a2"), OCI));
        assert_eq!(
            pipeline.ingest(&envelope(&events)).await.unwrap(),
            Ingested {
                accepted: 10,
                refused: 9
            }
        );
        assert_eq!(pipeline.drain().await.unwrap(), 10);

        // Only the good event is applied; the stored tag keeps its digest.
        let tags: Vec<(String, String, String)> = store
            .tags(None)
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.repository, t.name, t.manifest.digest))
            .collect();
        assert_eq!(
            tags,
            [
                ("alice/app".into(), "1.0".into(), dg("a1")),
                ("alice/app".into(), "2.0".into(), dg("a2"))
            ]
        );
        assert_eq!(store.repositories().await.unwrap(), ["alice/app"]);
        let activities = store.activities(&ActivityFilter::default()).await.unwrap();
        assert_eq!(activities.len(), 2, "one push each for 1.0 and 2.0, nothing else");

        // Each refusal is recorded with its reason; the good events are applied.
        let log = finished.log.lock().unwrap().clone();
        assert_eq!(log.len(), 11);
        assert_eq!(log[0].1, EventStatus::Applied);
        let (good, refused): (Vec<_>, Vec<_>) = log[1..]
            .iter()
            .partition(|(_, status, _)| *status == EventStatus::Applied);
        assert_eq!(good.len(), 1);
        assert_eq!(refused.len(), 9);
        for ((_, status, error), (reason, _)) in refused.iter().zip(&bad) {
            let error = error.as_deref().unwrap_or_default();
            assert_eq!(*status, EventStatus::Failed, "{error}");
            assert!(
                error.starts_with("refused: invalid") && error.contains(reason),
                "{error} / {reason}"
            );
        }
    }

    #[tokio::test]
    async fn portus_own_reads_never_bring_back_a_removed_tag() {
        let (store, pipeline) = setup(MissingNamespace::Create).await;
        pipeline.set_own_account("portus");
        pipeline
            .ingest(&envelope(&[push("o1", "alice/app", Some("2"), &dg("b2"), OCI)]))
            .await
            .unwrap();
        pipeline.drain().await.unwrap();
        // Retention read the tag (a pull by portus), then removed it; the pull comes in late.
        assert!(store.delete_tag("alice/app", "2").await.unwrap().is_some());
        let own_read = json!({"id": "o2", "action": "pull", "actor": {"name": "portus"},
            "target": {"mediaType": OCI, "digest": dg("b2"), "repository": "alice/app", "tag": "2"}});
        // Distribution 3's untag notification, with its empty descriptor.
        let untag = json!({"id": "o3", "action": "delete", "actor": {"name": "portus"},
            "target": {"mediaType": "", "digest": "", "size": 0, "repository": "alice/app", "tag": "2"}});
        assert_eq!(pipeline.ingest(&envelope(&[own_read])).await.unwrap().accepted, 1);
        pipeline.drain().await.unwrap();
        assert_eq!(store.tag("alice/app", "2").await.unwrap(), None);
        let ingested = pipeline.ingest(&envelope(&[untag])).await.unwrap();
        assert_eq!(
            (ingested.accepted, ingested.refused),
            (1, 0),
            "the untag event is valid"
        );
    }

    #[tokio::test]
    async fn actors_that_are_no_local_users_are_never_attributed() {
        let (store, pipeline) = setup(MissingNamespace::Create).await;
        pipeline.set_own_account("portus");
        let by = |mut event: serde_json::Value, actor: &str| {
            event["actor"] = json!({"name": actor});
            event
        };
        let pull = json!({"id": "g2", "action": "pull", "actor": {"name": "ghost"},
            "target": {"mediaType": OCI, "digest": dg("a2"), "repository": "alice/app", "tag": "2.0"}});
        let delete = json!({"id": "g3", "action": "delete", "actor": {"name": "ghost"},
            "target": {"repository": "alice/app", "tag": "1.0"}});
        let events = [
            by(push("g1", "alice/app", Some("1.0"), &dg("a1"), OCI), "ghost"),
            pull,
            delete,
            by(push("g4", "alice/app", Some("3.0"), &dg("a3"), OCI), "bob"),
            by(push("g5", "alice/app", Some("4.0"), &dg("a4"), OCI), "bad\nname"),
        ];
        pipeline.ingest(&envelope(&events)).await.unwrap();
        pipeline.drain().await.unwrap();
        // The events are applied (the registry's own account and anonymous pulls are real).
        let tags: Vec<(String, Option<String>)> = store
            .tags(Some("alice/app"))
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.name, t.pushed_by))
            .collect();
        assert_eq!(
            tags,
            [
                ("2.0".into(), None),
                ("3.0".into(), Some("bob".into())),
                ("4.0".into(), None)
            ]
        );
        let mut activities: Vec<(Option<String>, String, String)> = store
            .activities(&ActivityFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.actor, a.action, a.details.unwrap_or_default()))
            .collect();
        activities.sort();
        assert_eq!(activities.len(), 5, "{activities:?}");
        let ghost = "(registry account 'ghost', no local user)";
        assert!(
            activities[..4].iter().all(|(actor, _, _)| actor.is_none()),
            "{activities:?}"
        );
        let unattributed: Vec<(&str, bool)> = activities[..4]
            .iter()
            .map(|(_, action, details)| (action.as_str(), details.ends_with(ghost)))
            .collect();
        assert_eq!(
            unattributed,
            [
                ("tag.delete", true),
                ("tag.discovered", true),
                ("tag.push", true),
                ("tag.push", false)
            ]
        );
        assert!(
            activities[3]
                .2
                .ends_with("(registry account that is no valid user name)")
        );
        assert_eq!(activities[4].0.as_deref(), Some("bob"));
        assert!(!activities[4].2.contains("registry account"));

        // A user created later under that name does not inherit what the account did.
        store
            .create_user(NewUser {
                username: "ghost".into(),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let by_ghost = store
            .activities(&ActivityFilter {
                actor: Some("ghost".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(by_ghost.is_empty());
    }
}
