//! The in-memory side: the ordered index, the current revision, and the watch history.
//! Everything here changes only under the `state` write lock, which is also where
//! events are published, so a watcher's snapshot + subscription never has a gap.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::broadcast;

use crate::{Event, EventKind, KeyValue, Revision, StoreError, StoreOptions, Watcher};

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub value: Bytes,
    pub create_revision: Revision,
    pub mod_revision: Revision,
}

impl Entry {
    pub fn to_kv(&self, key: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: self.value.clone(),
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
        }
    }
}

pub(crate) type Index = BTreeMap<String, Entry>;

pub(crate) struct State {
    pub index: Index,
    pub revision: Revision,
    /// Recent events, consecutive revisions ending at `revision`.
    pub history: VecDeque<Arc<Event>>,
    pub history_cap: usize,
    /// The revision just before the oldest event in `history`.
    pub oldest: Revision,
}

pub(crate) struct Shared {
    pub state: RwLock<State>,
    pub events: broadcast::Sender<Arc<Event>>,
}

/// One committed change, ready to apply to the index and publish.
pub(crate) struct Mutation {
    pub revision: Revision,
    pub kind: EventKind,
    pub key: String,
    /// The new entry; for deletes the last one the key had.
    pub entry: Entry,
    pub prev_value: Option<Bytes>,
}

impl Shared {
    pub fn new(index: Index, revision: Revision, opts: &StoreOptions) -> Shared {
        let (events, _) = broadcast::channel(opts.watch_buffer.max(1));
        Shared {
            state: RwLock::new(State {
                index,
                revision,
                history: VecDeque::with_capacity(opts.history.min(1 << 16)),
                history_cap: opts.history,
                oldest: revision,
            }),
            events,
        }
    }

    /// Makes committed mutations visible: index, revision, history, live watchers.
    pub fn apply(&self, muts: Vec<Mutation>) {
        let mut st = self.state.write();
        for m in muts {
            match m.kind {
                EventKind::Created | EventKind::Updated => match st.index.get_mut(&m.key) {
                    Some(e) => *e = m.entry.clone(),
                    None => {
                        st.index.insert(m.key.clone(), m.entry.clone());
                    }
                },
                EventKind::Deleted => {
                    st.index.remove(&m.key);
                }
            }
            st.revision = m.revision;
            let event = Arc::new(Event {
                revision: m.revision,
                kind: m.kind,
                key: m.key,
                value: m.entry.value,
                prev_value: m.prev_value,
            });
            if st.history_cap == 0 {
                st.oldest = m.revision;
            } else {
                if st.history.len() >= st.history_cap {
                    if let Some(dropped) = st.history.pop_front() {
                        st.oldest = dropped.revision;
                    }
                }
                st.history.push_back(event.clone());
            }
            // Err only means nobody is watching right now.
            let _ = self.events.send(event);
        }
    }

    pub fn watch(&self, prefix: &str, after: Revision) -> Result<Watcher, StoreError> {
        // Same lock as `apply`: the replay ends exactly where the subscription begins.
        let st = self.state.read();
        if after < st.oldest {
            return Err(StoreError::Compacted { oldest: st.oldest });
        }
        let start = st.history.partition_point(|e| e.revision <= after);
        let replay = st
            .history
            .range(start..)
            .filter(|e| e.key.starts_with(prefix))
            .cloned()
            .collect();
        let live = self.events.subscribe();
        Ok(Watcher::new(prefix.to_owned(), after, replay, live))
    }
}
