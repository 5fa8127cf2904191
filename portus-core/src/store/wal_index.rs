//! Reads SQLite's WAL-index header (`<db>-shm`) to learn, without a query, whether any
//! connection of any process has committed since a previous look.
//!
//! The file is opened once and the handle kept: SQLite guards the WAL index with POSIX
//! (`fcntl`) record locks, and closing *any* descriptor of a file drops *every* lock this
//! process holds on it. Opening and closing the file per read (as an earlier version did)
//! silently released the shared lock SQLite's own connections hold on it; the next process to
//! connect then believed it was alone, rebuilt the index from scratch by truncating the file,
//! and this process's memory map of it died with SIGBUS.
//!
//! So a handle is closed only once the path names another file (SQLite deleted the index when
//! the last connection anywhere closed and a new connection made a new one, or the database is
//! gone): no connection of this process can hold locks on the old file then. A handle whose
//! reader is dropped while the file is still current is parked until that is so.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};

/// The identity of a file: device and inode.
type FileId = (u64, u64);

fn file_id(metadata: &std::fs::Metadata) -> FileId {
    (metadata.dev(), metadata.ino())
}

/// An open WAL-index file and which file it is.
#[derive(Debug)]
struct Held {
    file: File,
    id: FileId,
}

/// Handles whose reader was dropped while their file was still at its path.
static PARKED: Mutex<Vec<(PathBuf, Held)>> = Mutex::new(Vec::new());

/// Whether `path` still names the file `id` (a `stat`, which opens nothing).
fn still_current(path: &Path, id: FileId) -> bool {
    std::fs::metadata(path).is_ok_and(|m| file_id(&m) == id)
}

/// Closes parked handles whose file is no longer at its path.
fn release_stale_parked() {
    PARKED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|(path, held)| still_current(path, held.id));
}

/// A reader of one database's WAL-index header.
#[derive(Debug)]
pub(super) struct WalIndex {
    path: PathBuf,
    held: RwLock<Option<Held>>,
}

impl WalIndex {
    /// A reader of the WAL index of the database file `database`.
    pub(super) fn for_database(database: &Path) -> Self {
        release_stale_parked();
        let mut path = database.as_os_str().to_owned();
        path.push("-shm");
        WalIndex {
            path: PathBuf::from(path),
            held: RwLock::new(None),
        }
    }

    /// The file's identity followed by its header (<https://www.sqlite.org/walformat.html>,
    /// section 2.1): two copies of 48 bytes that every commit rewrites (frame count, salts and
    /// checksums change). `None` (so nothing may be kept) when there is no index file, it
    /// cannot be read, it is not an initialised version 3007000 header, or the two copies
    /// differ (a commit is being written).
    pub(super) fn marker(&self) -> Option<Vec<u8>> {
        {
            let held = self.held.read().unwrap_or_else(PoisonError::into_inner);
            // SQLite only ever removes the index by unlinking it (a new one is then made
            // under the same name), so a held file that still has a name is the current one:
            // an `fstat` of the handle tells, without the path lookup of a `stat` on every
            // token request.
            if let Some(held) = held
                .as_ref()
                .filter(|held| held.file.metadata().is_ok_and(|m| m.nlink() > 0))
            {
                return read_marker(held);
            }
        }
        let mut held = self.held.write().unwrap_or_else(PoisonError::into_inner);
        let id = file_id(&std::fs::metadata(&self.path).ok()?);
        if held.as_ref().is_none_or(|held| held.id != id) {
            // Dropping the old handle is safe: its file is no longer at the path (see the
            // module documentation).
            let file = File::open(&self.path).ok()?;
            let opened = Held {
                id: file_id(&file.metadata().ok()?),
                file,
            };
            *held = Some(opened);
        }
        // The identity of what was opened, not of the earlier `stat`: the file may have been
        // replaced in between.
        held.as_ref().and_then(read_marker)
    }
}

fn read_marker(held: &Held) -> Option<Vec<u8>> {
    let mut marker = Vec::with_capacity(16 + 96);
    marker.extend_from_slice(&held.id.0.to_ne_bytes());
    marker.extend_from_slice(&held.id.1.to_ne_bytes());
    let mut header = [0u8; 96];
    held.file.read_exact_at(&mut header, 0).ok()?;
    let (first, second) = header.split_at(48);
    let version = u32::from_ne_bytes(first[0..4].try_into().ok()?);
    let initialised = first[12] == 1;
    if first != second || version != 3_007_000 || !initialised {
        return None;
    }
    marker.extend_from_slice(&header);
    Some(marker)
}

impl Drop for WalIndex {
    fn drop(&mut self) {
        let held = self.held.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(held) = held.filter(|held| still_current(&self.path, held.id)) {
            // Another store (or a pool the caller cloned) may still have connections with
            // locks on this file.
            PARKED
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((self.path.clone(), held));
        }
    }
}
