//! skiff-store: a revisioned key-value store with watch.
//!
//! What the store keeps true:
//! - One global revision counter; every create/update/delete takes the next revision,
//!   so revisions strictly increase and are never reused (also across restarts: the
//!   SQLite backend persists the counter in the same transaction as the data).
//! - Reads (`get`, `list`, `count`, `revision`) are served from an in-memory ordered
//!   index and see a write only after it is durable (SQLite: committed with
//!   `synchronous=FULL` in WAL mode, i.e. fsynced). A write is acknowledged only after that.
//! - Writes are linearizable: one writer owns the commit path. The SQLite backend group
//!   commits: a writer thread takes every queued request, checks them in order, writes
//!   the accepted ones in one transaction, fsyncs once, then publishes and answers.
//! - Watches see every event with revision > `after` under their prefix, in revision
//!   order, with no gap and no duplicate: replay from a bounded history, then live
//!   events. Asking for a revision older than the history gives
//!   [`StoreError::Compacted`]; a watcher that falls too far behind gets
//!   [`StoreError::Lagged`] once and then ends, so its memory stays bounded.
//!
//! It knows nothing of Kubernetes: keys are strings, values are opaque bytes.

mod sqlite;
mod state;
mod watch;
mod writer;

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use state::Shared;
pub use watch::Watcher;
use writer::{Op, Outcome, Request, Writer};

/// A position in the store's history. 0 means "nothing written yet".
pub type Revision = i64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    pub create_revision: Revision,
    pub mod_revision: Revision,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Updated,
    Deleted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub revision: Revision,
    pub kind: EventKind,
    pub key: String,
    /// The new value; for `Deleted` the last value the key had.
    pub value: Bytes,
    /// The value before this event: `None` for `Created`, the old value for `Updated`,
    /// and (same as `value`) the last value for `Deleted`.
    pub prev_value: Option<Bytes>,
}

/// Builds the value to write; called (once, on the writer) with the revision the write
/// will get, so the caller can embed it in the value. Not called when the write is
/// rejected (AlreadyExists / NotFound / Conflict). A panic inside it is re-raised in the
/// caller's task and the write does not happen.
pub type MakeValue = Box<dyn FnOnce(Revision) -> Bytes + Send>;

#[derive(Clone, Debug)]
pub struct ListResult {
    pub items: Vec<KeyValue>,
    /// The store revision the listing is consistent with.
    pub revision: Revision,
    /// True when more keys under the prefix follow the last returned item.
    pub more: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("key already exists")]
    AlreadyExists,
    #[error("key not found")]
    NotFound,
    #[error("revision conflict: the key's current mod revision is {current}")]
    Conflict { current: Revision },
    #[error("revision compacted: the oldest revision a watch may start after is {oldest}")]
    Compacted { oldest: Revision },
    #[error("watcher fell too far behind")]
    Lagged,
    #[error("storage error: {0}")]
    Io(String),
    #[error("store is closed")]
    Closed,
}

/// Tuning knobs. The defaults are what `Store::memory()` / `Store::sqlite()` use.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Events kept for watch replay; older ones are compacted away.
    pub history: usize,
    /// Live events a watcher may fall behind by before it gets `Lagged`.
    /// (Rounded up to a power of two.)
    pub watch_buffer: usize,
    /// Most write requests committed in one SQLite transaction.
    pub max_batch: usize,
    /// Write requests that may wait for the writer before `create` etc. wait to enqueue.
    pub queue: usize,
    /// SQLite page cache size in KiB.
    pub sqlite_cache_kib: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            history: 10_000,
            // Not above `history`, so the broadcast ring mostly holds the same Arcs.
            watch_buffer: 8192,
            max_batch: 1024,
            queue: 8192,
            sqlite_cache_kib: 4096,
        }
    }
}

/// Handle to a store; cheap to clone. The store closes when the last clone is dropped
/// (pending watchers then end with `None`).
///
/// A write future that is dropped after its request was queued may still commit (like
/// a lost reply from etcd): the caller just never hears the outcome.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

// Field order matters: `committer` (the request queue) must drop before `_writer`
// joins the writer thread, or the thread would never see the queue close.
struct Inner {
    shared: Arc<Shared>,
    committer: Committer,
    _writer: WriterThread,
}

enum Committer {
    /// SQLite: requests go to the group-commit thread.
    Thread(mpsc::Sender<Request>),
    /// Memory: nothing to wait for, so commit inline under a lock (no thread hop).
    Inline(Mutex<Writer>),
}

struct WriterThread(Option<std::thread::JoinHandle<()>>);

impl Drop for WriterThread {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            // Join so a reopen of the same file right after drop finds it closed.
            // A MakeValue closure may hold the last Store clone and be dropped on the
            // writer thread itself; joining there would deadlock.
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

impl Store {
    /// A store kept only in memory.
    pub fn memory() -> Store {
        Store::memory_with(StoreOptions::default())
    }

    pub fn memory_with(opts: StoreOptions) -> Store {
        let shared = Arc::new(Shared::new(Default::default(), 0, &opts));
        let writer = Writer::new(shared.clone(), 0, None);
        Store {
            inner: Arc::new(Inner {
                shared,
                committer: Committer::Inline(Mutex::new(writer)),
                _writer: WriterThread(None),
            }),
        }
    }

    /// Creates or opens the SQLite database at `path` and loads it into memory.
    /// The file is locked exclusively while the store is open.
    pub fn sqlite(path: &Path) -> Result<Store, StoreError> {
        Store::sqlite_with(path, StoreOptions::default())
    }

    pub fn sqlite_with(path: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        let (db, loaded) = sqlite::Sqlite::open(path, opts.sqlite_cache_kib)?;
        tracing::info!(
            path = %path.display(),
            keys = loaded.index.len(),
            revision = loaded.revision,
            "opened store"
        );
        let revision = loaded.revision;
        let shared = Arc::new(Shared::new(loaded.index, revision, &opts));
        let writer = Writer::new(shared.clone(), revision, Some(db));
        let (tx, rx) = mpsc::channel(opts.queue.max(1));
        let max_batch = opts.max_batch.max(1);
        let handle = std::thread::Builder::new()
            .name("skiff-store-writer".into())
            .spawn(move || writer.run(rx, max_batch))
            .map_err(|e| StoreError::Io(format!("spawning the store writer thread: {e}")))?;
        Ok(Store {
            inner: Arc::new(Inner {
                shared,
                committer: Committer::Thread(tx),
                _writer: WriterThread(Some(handle)),
            }),
        })
    }

    /// The last committed revision (0 for an empty new store).
    pub fn revision(&self) -> Revision {
        self.inner.shared.state.read().revision
    }

    pub fn get(&self, key: &str) -> Option<KeyValue> {
        let st = self.inner.shared.state.read();
        st.index.get(key).map(|e| e.to_kv(key))
    }

    /// Keys under `prefix`, in key order, strictly after `start_after` if given, at most
    /// `limit` of them (`Some(0)` returns none). `more` tells whether keys remain.
    pub fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
    ) -> ListResult {
        let st = self.inner.shared.state.read();
        let mut iter = range_under(&st.index, prefix, start_after);
        let mut items = Vec::new();
        let mut more = false;
        loop {
            if limit.is_some_and(|l| items.len() >= l) {
                more = iter.next().is_some();
                break;
            }
            match iter.next() {
                Some((k, e)) => items.push(e.to_kv(k)),
                None => break,
            }
        }
        ListResult {
            items,
            revision: st.revision,
            more,
        }
    }

    /// Number of keys under `prefix` (walks them: O(matching keys)).
    pub fn count(&self, prefix: &str) -> usize {
        let st = self.inner.shared.state.read();
        range_under(&st.index, prefix, None).count()
    }

    /// Creates `key`; `StoreError::AlreadyExists` if it exists.
    pub async fn create(&self, key: &str, make: MakeValue) -> Result<KeyValue, StoreError> {
        match self.submit(key, Op::Create(make)).await? {
            Outcome::Put(kv) => Ok(kv),
            other => Err(other.into_error()),
        }
    }

    /// Replaces `key`'s value (keeping its create revision). `NotFound` if absent;
    /// `Conflict` if `expected_mod_revision` is given and differs from the current one.
    pub async fn update(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
        make: MakeValue,
    ) -> Result<KeyValue, StoreError> {
        match self
            .submit(key, Op::Update(expected_mod_revision, make))
            .await?
        {
            Outcome::Put(kv) => Ok(kv),
            other => Err(other.into_error()),
        }
    }

    /// Deletes `key`. Returns its last value (with the mod revision it had) and the
    /// revision of the delete. `NotFound`, `Conflict` as for `update`.
    pub async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<(KeyValue, Revision), StoreError> {
        match self.submit(key, Op::Delete(expected_mod_revision)).await? {
            Outcome::Deleted(kv, rev) => Ok((kv, rev)),
            other => Err(other.into_error()),
        }
    }

    /// Events with revision > `after` for keys under `prefix`: first those still in the
    /// history, then live ones. `Compacted` if `after < oldest_revision()`.
    pub fn watch(&self, prefix: &str, after: Revision) -> Result<Watcher, StoreError> {
        self.inner.shared.watch(prefix, after)
    }

    /// The oldest revision a watch may start after. Watching after the current
    /// revision is always allowed.
    pub fn oldest_revision(&self) -> Revision {
        self.inner.shared.state.read().oldest
    }

    async fn submit(&self, key: &str, op: Op) -> Result<Outcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        let req = Request {
            key: key.to_owned(),
            op,
            reply,
        };
        match &self.inner.committer {
            Committer::Thread(queue) => queue.send(req).await.map_err(|_| StoreError::Closed)?,
            Committer::Inline(writer) => writer.lock().process(&mut vec![req]),
        }
        match answer.await {
            Ok(Outcome::Panicked(payload)) => std::panic::resume_unwind(payload),
            Ok(outcome) => Ok(outcome),
            Err(_) => Err(StoreError::Closed),
        }
    }
}

/// Index entries with keys under `prefix`, strictly after `start_after`.
fn range_under<'a>(
    index: &'a state::Index,
    prefix: &'a str,
    start_after: Option<&'a str>,
) -> impl Iterator<Item = (&'a String, &'a state::Entry)> + 'a {
    let lower = match start_after {
        Some(s) if s >= prefix => Bound::Excluded(s),
        _ => Bound::Included(prefix),
    };
    index
        .range::<str, _>((lower, Bound::Unbounded))
        .take_while(move |(k, _)| k.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn handles_are_send_and_sync() {
        assert_send_sync::<Store>();
        assert_send::<Watcher>();
        assert_send_sync::<StoreError>();
    }

    #[test]
    fn range_under_respects_prefix_and_start() {
        let mut index = state::Index::new();
        for k in ["a", "b/1", "b/2", "b/3", "c"] {
            index.insert(
                k.to_string(),
                state::Entry {
                    value: Bytes::new(),
                    create_revision: 1,
                    mod_revision: 1,
                },
            );
        }
        let keys = |p, s| {
            range_under(&index, p, s)
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys("b/", None), ["b/1", "b/2", "b/3"]);
        assert_eq!(keys("b/", Some("b/1")), ["b/2", "b/3"]);
        assert_eq!(keys("b/", Some("a")), ["b/1", "b/2", "b/3"]);
        assert!(keys("b/", Some("c")).is_empty());
        assert_eq!(keys("", None).len(), 5);
    }
}
