//! One node per data directory. A node holds an exclusive OS file lock on
//! `<data>/node.lock` for as long as it runs, and writes its process id in
//! that file so a second node started on the same directory can say who
//! holds it. The operating system releases the lock when the process ends,
//! however it ends (a SIGKILL too), so a stale file never blocks a start:
//! only a live holder does.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "node.lock";

/// The data directory's lock, held until dropped (or the process ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Why the data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum DataLockError {
    #[error(
        "the data directory {dir} is in use by another node (pid {holder}); stop it, or \
         choose another directory with `--data <dir>`",
        dir = dir.display()
    )]
    Held { dir: PathBuf, holder: String },
    #[error("cannot lock the data directory through {path}: {error}", path = path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl DataDirLock {
    /// Locks `dir` (which must exist) for this process and records its pid.
    pub fn acquire(dir: &Path) -> Result<Self, DataLockError> {
        let path = dir.join(LOCK_FILE);
        let io = |error| DataLockError::Io {
            path: path.clone(),
            error,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(DataLockError::Held {
                    dir: dir.to_owned(),
                    holder: read_holder(&mut file),
                })
            }
            Err(TryLockError::Error(error)) => return Err(io(error)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// The pid the holder wrote, or a placeholder while it has not written it.
fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let read = file.read_to_string(&mut text);
    match read.ok().and_then(|_| text.trim().parse::<u32>().ok()) {
        Some(pid) => pid.to_string(),
        None => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_with_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = DataDirLock::acquire(dir.path()).expect("first lock");
        let error = DataDirLock::acquire(dir.path()).expect_err("second lock");
        let message = error.to_string();
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        drop(held);
        DataDirLock::acquire(dir.path()).expect("lock again once released");
    }
}
