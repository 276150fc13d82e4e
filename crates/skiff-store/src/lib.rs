//! skiff-store: a revisioned key-value store with watch.
//!
//! Every write gets the next revision from one global counter (like etcd). Reads are
//! served from an in-memory index; the SQLite backend persists every write (group
//! commit, fsync before acknowledging) and loads the index on open. Watches replay
//! recent events from a bounded history and then follow live events; asking for a
//! revision older than the history gives `StoreError::Compacted` (HTTP 410 upstream).
//!
//! It knows nothing of Kubernetes: keys are strings, values are opaque bytes.
//!
//! API CONTRACT (implemented by the store helper; the apiserver codes against it):
//!
//! ```ignore
//! pub type Revision = i64;
//! pub struct KeyValue { pub key: String, pub value: Bytes, pub create_revision: Revision, pub mod_revision: Revision }
//! pub enum EventKind { Created, Updated, Deleted }
//! pub struct Event { pub revision: Revision, pub kind: EventKind, pub key: String,
//!                    pub value: Bytes /* new value; for Deleted the last value */, pub prev_value: Option<Bytes> }
//! pub type MakeValue = Box<dyn FnOnce(Revision) -> Bytes + Send>;   // called with the revision the write gets
//! pub struct ListResult { pub items: Vec<KeyValue>, pub revision: Revision, pub more: bool }
//!
//! impl Store {
//!   pub fn memory() -> Store;
//!   pub fn sqlite(path: &Path) -> Result<Store, StoreError>;        // creates or opens, loads the index
//!   pub fn revision(&self) -> Revision;                             // last committed revision
//!   pub fn get(&self, key: &str) -> Option<KeyValue>;
//!   pub fn list(&self, prefix: &str, start_after: Option<&str>, limit: Option<usize>) -> ListResult; // key order
//!   pub fn count(&self, prefix: &str) -> usize;
//!   pub async fn create(&self, key: &str, make: MakeValue) -> Result<KeyValue, StoreError>;       // AlreadyExists
//!   pub async fn update(&self, key: &str, expected_mod_revision: Option<Revision>, make: MakeValue)
//!        -> Result<KeyValue, StoreError>;                            // NotFound, Conflict
//!   pub async fn delete(&self, key: &str, expected_mod_revision: Option<Revision>)
//!        -> Result<(KeyValue /*last value*/, Revision /*of the delete*/), StoreError>;
//!   pub fn watch(&self, prefix: &str, after: Revision) -> Result<Watcher, StoreError>; // Compacted
//!   pub fn oldest_revision(&self) -> Revision;                      // oldest revision a watch may start after
//! }
//! impl Watcher { pub async fn next(&mut self) -> Option<Result<Arc<Event>, StoreError /*Lagged*/>>; }
//! ```
