use async_trait::async_trait;

use crate::model::{EventStatus, StoredEvent};
use crate::{Error, Result};

use super::InMemoryStore;

#[async_trait]
impl crate::traits::EventStore for InMemoryStore {
    async fn insert_events(&self, events: &[(String, String)]) -> Result<usize> {
        let mut state = self.lock();
        let mut inserted = 0;
        for (event_id, payload) in events {
            if state.events.iter().any(|(e, _, _)| &e.event_id == event_id) {
                continue;
            }
            let seq = state.next_id();
            state.events.push((
                StoredEvent {
                    seq,
                    event_id: event_id.clone(),
                    payload: payload.clone(),
                },
                EventStatus::Pending,
                None,
            ));
            inserted += 1;
        }
        Ok(inserted)
    }
    async fn pending_events(&self, limit: usize) -> Result<Vec<StoredEvent>> {
        Ok(self
            .lock()
            .events
            .iter()
            .filter(|(_, status, _)| *status == EventStatus::Pending)
            .take(limit)
            .map(|(e, _, _)| e.clone())
            .collect())
    }
    async fn finish_event<'a>(&self, seq: i64, status: EventStatus, error: Option<&'a str>) -> Result<()> {
        let mut state = self.lock();
        let event = state
            .events
            .iter_mut()
            .find(|(e, _, _)| e.seq == seq)
            .ok_or_else(|| Error::not_found("event", seq.to_string()))?;
        event.1 = status;
        event.2 = error.map(str::to_owned);
        Ok(())
    }
    async fn finish_pull_event(
        &self,
        seq: i64,
        repository: &str,
        tag: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        // One lock over both changes: nothing else sees one without the other.
        let mut state = self.lock();
        let Some(index) = state.events.iter().position(|(e, _, _)| e.seq == seq) else {
            return Err(Error::not_found("event", seq.to_string()));
        };
        if !state.count_pull(repository, tag, at) {
            return Ok(false);
        }
        state.events[index].1 = EventStatus::Applied;
        state.events[index].2 = None;
        Ok(true)
    }
}
