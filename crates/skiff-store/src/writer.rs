//! The commit path. Exactly one `Writer` exists per store; it assigns revisions,
//! persists, then applies to the in-memory state, and only then answers requests.

use std::any::Any;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::sqlite::{CommitError, Sqlite};
use crate::state::{Entry, Mutation, Shared};
use crate::{EventKind, KeyValue, MakeValue, Revision, StoreError};

pub(crate) enum Op {
    Create(MakeValue),
    Update(Option<Revision>, MakeValue),
    Delete(Option<Revision>),
}

pub(crate) struct Request {
    pub key: String,
    pub op: Op,
    pub reply: oneshot::Sender<Outcome>,
}

pub(crate) enum Outcome {
    Put(KeyValue),
    Deleted(KeyValue, Revision),
    Err(StoreError),
    /// The caller's MakeValue panicked; the caller re-raises it.
    Panicked(Box<dyn Any + Send>),
}

impl Outcome {
    pub fn into_error(self) -> StoreError {
        match self {
            Outcome::Err(e) => e,
            // A Put for a delete or vice versa cannot happen; report rather than panic.
            _ => StoreError::Io("internal error: mismatched write outcome".into()),
        }
    }
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    revision: Revision,
    db: Option<Sqlite>,
    /// Set when a commit failed in a way that leaves its durability unknown: from then
    /// on memory might disagree with disk, so refuse writes until a restart reloads.
    failed: Option<String>,
}

impl Writer {
    pub fn new(shared: Arc<Shared>, revision: Revision, db: Option<Sqlite>) -> Writer {
        Writer {
            shared,
            revision,
            db,
            failed: None,
        }
    }

    /// Group-commit loop: whatever queued up while the previous batch was being
    /// fsynced goes into the next transaction.
    pub fn run(mut self, mut queue: mpsc::Receiver<Request>, max_batch: usize) {
        let mut batch = Vec::with_capacity(max_batch);
        while let Some(first) = queue.blocking_recv() {
            batch.push(first);
            while batch.len() < max_batch {
                match queue.try_recv() {
                    Ok(req) => batch.push(req),
                    Err(_) => break,
                }
            }
            self.process(&mut batch);
        }
        tracing::debug!("store writer stopped");
    }

    /// Checks, persists, applies and answers every request in `batch` (draining it).
    pub fn process(&mut self, batch: &mut Vec<Request>) {
        if let Some(msg) = &self.failed {
            for req in batch.drain(..) {
                let _ = req.reply.send(Outcome::Err(StoreError::Io(msg.clone())));
            }
            return;
        }

        // Earlier writes in this batch are not in the index yet; checks must see them.
        let mut pending: HashMap<String, Option<Entry>> = HashMap::new();
        let mut muts = Vec::new();
        let mut replies = Vec::with_capacity(batch.len());
        let mut rev = self.revision;

        for Request { key, op, reply } in batch.drain(..) {
            let current = match pending.get(&key) {
                Some(e) => e.clone(),
                None => self.shared.state.read().index.get(&key).cloned(),
            };
            let outcome = match (op, current) {
                (Op::Create(_), Some(_)) => Outcome::Err(StoreError::AlreadyExists),
                (Op::Create(make), None) => match build(make, rev + 1) {
                    Ok(value) => {
                        rev += 1;
                        let entry = Entry {
                            value,
                            create_revision: rev,
                            mod_revision: rev,
                        };
                        put(
                            &mut pending,
                            &mut muts,
                            rev,
                            EventKind::Created,
                            &key,
                            entry,
                            None,
                        )
                    }
                    Err(p) => Outcome::Panicked(p),
                },
                (Op::Update(..), None) | (Op::Delete(_), None) => {
                    Outcome::Err(StoreError::NotFound)
                }
                (Op::Update(Some(want), _), Some(cur)) | (Op::Delete(Some(want)), Some(cur))
                    if want != cur.mod_revision =>
                {
                    Outcome::Err(StoreError::Conflict {
                        current: cur.mod_revision,
                    })
                }
                (Op::Update(_, make), Some(cur)) => match build(make, rev + 1) {
                    Ok(value) => {
                        rev += 1;
                        let entry = Entry {
                            value,
                            create_revision: cur.create_revision,
                            mod_revision: rev,
                        };
                        let prev = Some(cur.value);
                        put(
                            &mut pending,
                            &mut muts,
                            rev,
                            EventKind::Updated,
                            &key,
                            entry,
                            prev,
                        )
                    }
                    Err(p) => Outcome::Panicked(p),
                },
                (Op::Delete(_), Some(cur)) => {
                    rev += 1;
                    pending.insert(key.clone(), None);
                    let last = cur.to_kv(&key);
                    muts.push(Mutation {
                        revision: rev,
                        kind: EventKind::Deleted,
                        key,
                        prev_value: Some(cur.value.clone()),
                        entry: cur,
                    });
                    Outcome::Deleted(last, rev)
                }
            };
            replies.push((reply, outcome));
        }

        if !muts.is_empty() {
            if let Some(db) = &mut self.db {
                if let Err(err) = db.commit(&muts, rev) {
                    let msg = match err {
                        CommitError::RolledBack(msg) => msg,
                        CommitError::Unknown(msg) => {
                            tracing::error!(error = %msg, "store commit failed; refusing further writes");
                            let msg = format!("store is read-only after a failed commit: {msg}");
                            self.failed = Some(msg.clone());
                            msg
                        }
                    };
                    tracing::warn!(error = %msg, writes = muts.len(), "store commit failed");
                    for (reply, outcome) in replies {
                        let outcome = match outcome {
                            Outcome::Panicked(p) => Outcome::Panicked(p),
                            // Rejections may have depended on writes that were just lost.
                            _ => Outcome::Err(StoreError::Io(msg.clone())),
                        };
                        let _ = reply.send(outcome);
                    }
                    return;
                }
            }
            self.revision = rev;
            self.shared.apply(muts);
        }
        // Answer only now: even a rejection may rest on a write earlier in this batch,
        // which must be readable before the caller hears about it.
        for (reply, outcome) in replies {
            let _ = reply.send(outcome);
        }
    }
}

fn put(
    pending: &mut HashMap<String, Option<Entry>>,
    muts: &mut Vec<Mutation>,
    rev: Revision,
    kind: EventKind,
    key: &str,
    entry: Entry,
    prev_value: Option<Bytes>,
) -> Outcome {
    let kv = entry.to_kv(key);
    pending.insert(key.to_owned(), Some(entry.clone()));
    muts.push(Mutation {
        revision: rev,
        kind,
        key: key.to_owned(),
        entry,
        prev_value,
    });
    Outcome::Put(kv)
}

/// Runs the caller's MakeValue; a panic is handed back to the caller instead of
/// taking down the writer.
fn build(make: MakeValue, rev: Revision) -> Result<Bytes, Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(move || make(rev)))
}
