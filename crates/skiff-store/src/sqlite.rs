//! SQLite persistence: one row per key plus the revision counter, all written in the
//! same transaction, WAL journal with synchronous=FULL so a commit is fsynced before
//! anyone hears about it.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::state::{Entry, Index, Mutation};
use crate::{EventKind, Revision, StoreError};

const SCHEMA_VERSION: i64 = 1;

pub(crate) struct Sqlite {
    conn: Connection,
}

pub(crate) struct Loaded {
    pub index: Index,
    pub revision: Revision,
}

pub(crate) enum CommitError {
    /// Nothing was written; the store may carry on.
    RolledBack(String),
    /// COMMIT itself failed: the data may or may not be on disk.
    Unknown(String),
}

fn io(path: &Path, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(format!("{what} {}: {e}", path.display()))
}

impl Sqlite {
    pub fn open(path: &Path, cache_kib: usize) -> Result<(Sqlite, Loaded), StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| io(path, "opening", e))?;
        let setup = |conn: &Connection| -> rusqlite::Result<String> {
            // The lock is held for the store's lifetime, so waiting long is pointless.
            conn.busy_timeout(Duration::from_millis(500))?;
            // Exclusive: two servers on one file would hand out the same revisions.
            // Set before WAL so the WAL index lives in heap memory, not a shm file.
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
            let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            // Negative = KiB. Keep it small: the in-memory index already holds every value.
            conn.pragma_update(None, "cache_size", -(cache_kib.max(64) as i64))?;
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            Ok(mode)
        };
        let mode = setup(&conn).map_err(|e| io(path, "configuring", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(io(
                path,
                "configuring",
                format!("journal_mode is {mode}, want wal"),
            ));
        }
        let mut db = Sqlite { conn };
        let version = db.init_schema().map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
                io(
                    path,
                    "locking",
                    "database is locked (is another skiff server using it?)",
                )
            }
            e => io(path, "initializing", e),
        })?;
        if version > SCHEMA_VERSION {
            return Err(io(
                path,
                "opening",
                format!("schema version {version} is newer than this skiff understands ({SCHEMA_VERSION})"),
            ));
        }
        sync_parent_dir(path)?;
        let loaded = db.load().map_err(|e| io(path, "loading", e))?;
        Ok((db, loaded))
    }

    /// Creates the tables if needed; returns the schema version found on disk (a newer
    /// one is left untouched for the caller to refuse).
    fn init_schema(&mut self) -> rusqlite::Result<i64> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Ok(version);
        }
        tx.execute_batch(
            // A rowid table on purpose: WITHOUT ROWID rows keep only ~1 KB in the b-tree
            // page and spill the rest of a 1.5 KB value to a mostly empty overflow page
            // (3x the file size). Value last so the revisions stay in the local part.
            "CREATE TABLE IF NOT EXISTS kv (
                 key TEXT PRIMARY KEY NOT NULL,
                 create_rev INTEGER NOT NULL,
                 mod_rev INTEGER NOT NULL,
                 value BLOB NOT NULL
             );
             CREATE TABLE IF NOT EXISTS meta (
                 name TEXT PRIMARY KEY NOT NULL,
                 value INTEGER NOT NULL
             ) WITHOUT ROWID;",
        )?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(SCHEMA_VERSION)
    }

    fn load(&self) -> rusqlite::Result<Loaded> {
        let mut index = Index::new();
        let mut max_mod: Revision = 0;
        let mut stmt = self
            .conn
            .prepare("SELECT key, value, create_rev, mod_rev FROM kv")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let key: String = row.get(0)?;
            let value: Vec<u8> = row.get(1)?;
            let entry = Entry {
                value: Bytes::from(value),
                create_revision: row.get(2)?,
                mod_revision: row.get(3)?,
            };
            max_mod = max_mod.max(entry.mod_revision);
            index.insert(key, entry);
        }
        let stored: Option<Revision> = self
            .conn
            .query_row("SELECT value FROM meta WHERE name = 'revision'", [], |r| {
                r.get(0)
            })
            .optional()?;
        // Both are written in one transaction, so they agree; max() is belt and braces.
        let revision = stored.unwrap_or(0).max(max_mod);
        Ok(Loaded { index, revision })
    }

    /// Writes `muts` and the new `revision` in one transaction and fsyncs it.
    pub fn commit(&mut self, muts: &[Mutation], revision: Revision) -> Result<(), CommitError> {
        let rolled = |e: rusqlite::Error| CommitError::RolledBack(e.to_string());
        let tx = self.conn.transaction().map_err(rolled)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO kv (key, create_rev, mod_rev, value) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (key) DO UPDATE SET
                         create_rev = excluded.create_rev, mod_rev = excluded.mod_rev, value = excluded.value",
                )
                .map_err(rolled)?;
            let mut del = tx
                .prepare_cached("DELETE FROM kv WHERE key = ?1")
                .map_err(rolled)?;
            for m in muts {
                match m.kind {
                    EventKind::Created | EventKind::Updated => put.execute(params![
                        m.key,
                        m.entry.create_revision,
                        m.entry.mod_revision,
                        &m.entry.value[..]
                    ]),
                    EventKind::Deleted => del.execute(params![m.key]),
                }
                .map_err(rolled)?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('revision', ?1)",
                params![revision],
            )
            .map_err(rolled)?;
        }
        // Dropping a failed Transaction rolls back, so only COMMIT's own failure is unknown.
        tx.commit().map_err(|e| CommitError::Unknown(e.to_string()))
    }
}

/// Makes the database file's directory entry durable (SQLite syncs the WAL's own
/// directory entry, not the main file's when it creates it).
fn sync_parent_dir(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(dir, "syncing directory", e))
}
