use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use crate::{Event, Revision, StoreError};

/// A stream of events under one prefix. Replays history first, then follows live
/// events. Its memory is bounded: the replay is at most the history, and live events
/// share one ring with all other watchers; falling more than the ring behind ends the
/// stream with `StoreError::Lagged`.
pub struct Watcher {
    prefix: String,
    replay: VecDeque<Arc<Event>>,
    live: Option<broadcast::Receiver<Arc<Event>>>,
    /// Revision of the last event delivered (or the `after` the watch started from).
    last: Revision,
}

impl Watcher {
    pub(crate) fn new(
        prefix: String,
        after: Revision,
        replay: VecDeque<Arc<Event>>,
        live: broadcast::Receiver<Arc<Event>>,
    ) -> Watcher {
        Watcher {
            prefix,
            replay,
            live: Some(live),
            last: after,
        }
    }

    /// The next event; `Err(Lagged)` once if this watcher fell too far behind (the
    /// stream then ends); `None` once the store has been dropped or after `Lagged`.
    /// Cancel-safe: dropping the future loses no event.
    pub async fn next(&mut self) -> Option<Result<Arc<Event>, StoreError>> {
        if let Some(event) = self.replay.pop_front() {
            self.last = event.revision;
            return Some(Ok(event));
        }
        let live = self.live.as_mut()?;
        loop {
            match live.recv().await {
                Ok(event) => {
                    // Revisions <= last only appear when watching from a future revision.
                    if event.revision <= self.last || !event.key.starts_with(&self.prefix) {
                        continue;
                    }
                    self.last = event.revision;
                    return Some(Ok(event));
                }
                Err(RecvError::Lagged(_)) => {
                    self.live = None;
                    return Some(Err(StoreError::Lagged));
                }
                Err(RecvError::Closed) => {
                    self.live = None;
                    return None;
                }
            }
        }
    }

    /// The revision of the last event returned (or the `after` of the watch).
    pub fn last_revision(&self) -> Revision {
        self.last
    }
}
