//! The SQLite database's advisory lock file (issue 17 item 4): one `ari serve` owns the file.
//!
//! `ari serve` holds an exclusive `flock` on `<database>.lock` while it runs. A second
//! `ari serve` on the same file is refused. The lock is advisory and sits on a separate file,
//! so `sqlite3` and backup tools still open the database itself. The kernel drops the lock
//! when the holder dies (SIGKILL included), so a process that holds it knows every lease left
//! in the file belongs to a dead run and may take it back at start.

use std::fs::{File, OpenOptions};

use rustix::fs::{FlockOperation, flock};
use std::path::{Path, PathBuf};

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DbLock {
    _file: File,
    path: PathBuf,
}

impl DbLock {
    /// The lock file's path (`<database>.lock`).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process (another `ari serve`) holds the lock on this database.
    #[error(
        "another `ari serve` is running on {database} (it holds {lock}); stop it first, or give this one another --database"
    )]
    Held { database: String, lock: String },
    /// The lock file cannot be created or locked.
    #[error("cannot lock {lock}: {source}")]
    Io {
        lock: String,
        #[source]
        source: std::io::Error,
    },
}

/// `<database>.lock`: the database's file name with `.lock` appended.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the exclusive lock on `<database>.lock` without waiting (creating the file).
///
/// Errors: [`LockError::Held`] when another process holds it, [`LockError::Io`] when the file
/// cannot be opened or locked.
pub fn acquire(database: &Path) -> Result<DbLock, LockError> {
    let path = lock_path(database);
    let shown = path.display().to_string();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| LockError::Io {
            lock: shown.clone(),
            source,
        })?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(DbLock { _file: file, path }),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(LockError::Held {
            database: database.display().to_string(),
            lock: shown,
        }),
        Err(e) => Err(LockError::Io {
            lock: shown,
            source: e.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ari.db");
        let first = acquire(&db).unwrap();
        assert_eq!(first.path(), dir.path().join("ari.db.lock"));
        let second = acquire(&db).unwrap_err();
        assert!(matches!(second, LockError::Held { .. }), "{second}");
        assert!(second.to_string().contains("another `ari serve`"));
        drop(first);
        acquire(&db).unwrap();
    }
}
