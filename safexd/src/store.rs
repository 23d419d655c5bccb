//! The daemon's state in an embedded transactional store (redb): the
//! applications with their owners, and the deployed extensions with their
//! objects. Each change is one write transaction, durable when its commit
//! returns; a crash leaves the state before or after it, never between. A
//! new store is made under a temporary name and appears whole
//! ([`Store::open`]), so a crash while it is made leaves none.
//!
//! Tables (schema 1):
//!
//! - `apps`: application name → [`AppRecord`] (postcard).
//! - `exts`: deployment id → [`ExtRecord`] (postcard), the object's bytes
//!   included.
//! - `meta`: `schema` → 1, `next_id` → the next deployment id (ids are
//!   never reused, so a client's id never names a later deployment).
//!
//! - `grants`: `(application name, grantee uid)` → rights, a bit set
//!   ([`READ`], [`WRITE`]). Created when missing, so a state written
//!   before grants existed opens as schema 1 with no grants.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps");
const EXTS: TableDefinition<u64, &[u8]> = TableDefinition::new("exts");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const GRANTS: TableDefinition<(&str, u32), u8> = TableDefinition::new("grants");

/// The right to read an application's attributes and list it.
pub const READ: u8 = 1;
/// The right to write an application's attributes.
pub const WRITE: u8 = 2;

const SCHEMA: u64 = 1;

/// An application as kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    /// The owner principal's uid.
    pub owner: u32,
}

/// A deployed extension as kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtRecord {
    pub app: String,
    /// The extension's name as its object gave it when it was deployed.
    pub name: String,
    pub object: Vec<u8>,
}

/// Everything kept, as read when the daemon starts.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub apps: Vec<(String, AppRecord)>,
    /// In id order, so in deployment order.
    pub exts: Vec<(u64, ExtRecord)>,
    pub next_id: u64,
    /// `(application, grantee uid, rights)`.
    pub grants: Vec<(String, u32, u8)>,
}

/// A failure of the store, as text (the daemon reports it with `D0007` or
/// `D0010`).
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: Into<redb::Error>> From<E> for StoreError {
    fn from(e: E) -> StoreError {
        StoreError(e.into().to_string())
    }
}

fn decode<T: for<'a> Deserialize<'a>>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError(format!("a corrupt {what} record: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(|e| StoreError(format!("cannot encode a record: {e}")))
}

/// Creates the tables that are missing and checks the schema (writing it
/// into a new store), in one transaction.
fn init(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        txn.open_table(APPS)?;
        txn.open_table(EXTS)?;
        txn.open_table(GRANTS)?;
        let mut meta = txn.open_table(META)?;
        let schema = meta.get("schema")?.map(|v| v.value());
        match schema {
            None => {
                meta.insert("schema", SCHEMA)?;
            }
            Some(SCHEMA) => {}
            Some(other) => {
                return Err(StoreError(format!(
                    "the state has schema {other}; this daemon reads schema {SCHEMA}"
                )));
            }
        }
    }
    txn.commit()?;
    Ok(())
}

/// A new store at `path`, which did not exist: made and initialized under a
/// temporary name in the same directory, then hard-linked to `path` (which
/// fails if something appeared there meanwhile: then that is opened, and a
/// second daemon on it is refused by redb's lock as usual). Where hard links
/// are not supported, renamed to `path` instead.
fn create_new(path: &Path) -> Result<Database, StoreError> {
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let io = |what: &str, at: &Path, e: std::io::Error| StoreError(format!("{what} {}: {e}", at.display()));
    let name = path
        .file_name()
        .ok_or_else(|| StoreError(format!("{}: not a file name", path.display())))?;
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(name);
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    temporary.push(format!(".new-{}-{n}", std::process::id()));
    let temporary = path.with_file_name(temporary);
    match std::fs::remove_file(&temporary) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io("cannot remove", &temporary, e));
        }
        _ => {}
    }
    let made = Database::create(&temporary)
        .map_err(StoreError::from)
        .and_then(|db| init(&db).map(|()| db));
    let db = match made {
        Ok(db) => db,
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            return Err(e);
        }
    };
    match std::fs::hard_link(&temporary, path) {
        Ok(()) => {
            let _ = std::fs::remove_file(&temporary);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Made meanwhile by another: that one is the store.
            drop(db);
            let _ = std::fs::remove_file(&temporary);
            let db = Database::create(path)?;
            init(&db)?;
            return Ok(db);
        }
        Err(_) => {
            if let Err(e) = std::fs::rename(&temporary, path) {
                let _ = std::fs::remove_file(&temporary);
                return Err(io("cannot rename the new store to", path, e));
            }
        }
    }
    remove_leftovers(path, name);
    // The new name is durable too (best effort: not every file system
    // syncs a directory).
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(db)
}

/// Removes the temporary files of makings of the store at `path` that were
/// cut short (`.NAME.new-*`), once it exists whole: nothing reads them. A
/// maker still writing one (another daemon starting on the same new state
/// at the same time) then fails, as it would anyway: the store is this
/// one's, and locked.
fn remove_leftovers(path: &Path, name: &std::ffi::OsStr) {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = name.to_str() else { return };
    let prefix = format!(".{name}.new-");
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The open store.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens the store at `path`, creating it (and its tables) if needed.
    ///
    /// A new store is made whole before it appears at `path`: redb writes
    /// a new file's magic number last, so a file whose making was cut
    /// short (a crash, `kill -9`) is refused by every later open ("not a
    /// redb database"), and a daemon killed while it first started could
    /// never start again. So the store is made under a temporary name
    /// beside `path` (`.NAME.new-PID-N`), its tables created and committed,
    /// and only then linked to `path`, which either does not exist or is
    /// a whole store. A making cut short leaves the temporary file, which
    /// nothing reads.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_new(path)?,
            _ => {
                let db = Database::create(path)?;
                init(&db)?;
                db
            }
        };
        Ok(Store { db })
    }

    /// Everything kept.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let txn = self.db.begin_read()?;
        let mut snapshot = Snapshot::default();
        for row in txn.open_table(APPS)?.iter()? {
            let (name, value) = row?;
            snapshot
                .apps
                .push((name.value().to_string(), decode("application", value.value())?));
        }
        for row in txn.open_table(EXTS)?.iter()? {
            let (id, value) = row?;
            snapshot.exts.push((id.value(), decode("extension", value.value())?));
        }
        for row in txn.open_table(GRANTS)?.iter()? {
            let (key, rights) = row?;
            let (app, uid) = key.value();
            let rights = rights.value();
            if rights == 0 || rights & !(READ | WRITE) != 0 {
                return Err(StoreError(format!("a corrupt grant record: rights {rights:#x}")));
            }
            snapshot.grants.push((app.to_string(), uid, rights));
        }
        snapshot.next_id = txn.open_table(META)?.get("next_id")?.map_or(1, |v| v.value());
        Ok(snapshot)
    }

    /// Keeps a new application.
    pub fn put_app(&self, name: &str, record: &AppRecord) -> Result<(), StoreError> {
        let bytes = encode(record)?;
        let txn = self.db.begin_write()?;
        txn.open_table(APPS)?.insert(name, bytes.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// Keeps a deployment, and `id + 1` as the next id, in one transaction.
    pub fn put_ext(&self, id: u64, record: &ExtRecord) -> Result<(), StoreError> {
        let bytes = encode(record)?;
        let txn = self.db.begin_write()?;
        txn.open_table(EXTS)?.insert(id, bytes.as_slice())?;
        txn.open_table(META)?.insert("next_id", id + 1)?;
        txn.commit()?;
        Ok(())
    }

    /// Keeps `uid`'s rights on `app` (replacing any it had).
    pub fn put_grant(&self, app: &str, uid: u32, rights: u8) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(GRANTS)?.insert((app, uid), rights)?;
        txn.commit()?;
        Ok(())
    }

    /// Forgets `uid`'s rights on `app`.
    pub fn remove_grant(&self, app: &str, uid: u32) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(GRANTS)?.remove((app, uid))?;
        txn.commit()?;
        Ok(())
    }

    /// Forgets a deployment.
    pub fn remove_ext(&self, id: u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(EXTS)?.remove(id)?;
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_put_is_read_back_after_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.redb");
        {
            let store = Store::open(&path).expect("creates");
            assert_eq!(store.snapshot().expect("reads").next_id, 1);
            store.put_app("a", &AppRecord { owner: 7 }).expect("puts");
            let ext = ExtRecord {
                app: "a".into(),
                name: "e".into(),
                object: vec![1, 2, 3],
            };
            store.put_ext(1, &ext).expect("puts");
            store.put_ext(2, &ext).expect("puts");
            store.remove_ext(1).expect("removes");
            store.put_grant("a", 8, READ).expect("grants");
            store.put_grant("a", 8, READ | WRITE).expect("replaces");
            store.put_grant("a", 9, WRITE).expect("grants");
            store.put_grant("a", 10, READ).expect("grants");
            store.remove_grant("a", 10).expect("revokes");
        }
        let store = Store::open(&path).expect("reopens");
        let s = store.snapshot().expect("reads");
        assert_eq!(s.apps, vec![("a".to_string(), AppRecord { owner: 7 })]);
        assert_eq!(s.exts.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![2]);
        assert_eq!(s.exts[0].1.object, vec![1, 2, 3]);
        assert_eq!(s.next_id, 3);
        assert_eq!(
            s.grants,
            vec![("a".to_string(), 8, READ | WRITE), ("a".to_string(), 9, WRITE)]
        );
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("reads")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_store_appears_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.redb");
        // What a making cut short by a kill leaves: a temporary file that
        // nothing reads, removed once the store exists.
        std::fs::write(dir.path().join(".state.redb.new-1-0"), b"half made").expect("writes");
        std::fs::write(dir.path().join(".other.redb.new-1-0"), b"another's").expect("writes");
        {
            let store = Store::open(&path).expect("creates");
            store.put_app("a", &AppRecord { owner: 7 }).expect("puts");
        }
        assert_eq!(names_in(dir.path()), [".other.redb.new-1-0", "state.redb"]);
        let store = Store::open(&path).expect("reopens");
        assert_eq!(store.snapshot().expect("reads").apps.len(), 1);
    }

    #[test]
    fn two_makers_of_one_store_get_one_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.redb");
        let barrier = std::sync::Barrier::new(2);
        let opened: Vec<bool> = std::thread::scope(|s| {
            let makers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let store = Store::open(&path);
                        // Held until both tried: the other is refused by
                        // redb's lock, whoever made the file.
                        barrier.wait();
                        store.is_ok()
                    })
                })
                .collect();
            makers.into_iter().map(|m| m.join().expect("joins")).collect()
        });
        assert_eq!(opened.iter().filter(|ok| **ok).count(), 1, "{opened:?}");
        assert_eq!(names_in(dir.path()), ["state.redb"]);
        let store = Store::open(&path).expect("opens");
        assert_eq!(store.snapshot().expect("reads").next_id, 1);
    }

    #[test]
    fn a_file_that_is_not_a_store_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.redb");
        std::fs::write(&path, b"not a database at all, not at all").expect("writes");
        assert!(Store::open(&path).is_err());
    }
}
