//! The migration's file operations: the lock, the backup, files replaced atomically.

use std::fs::File;
use std::fs::OpenOptions;
use std::io;
use std::io::Seek;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

/// In `$CODEX_HOME`; never deleted (deleting a lock file lets a third process lock a new
/// file while a second still holds the old one).
pub(super) const LOCK_FILE: &str = ".litellm-migrate.lock";

/// Held while a start migrates; the system releases it when the process ends, however it
/// ends, so a crash never leaves a stale lock.
pub(super) struct Lock {
    _file: File,
}

pub(super) enum Locked {
    Yes(Lock),
    /// Another codex-litellm start holds it.
    Busy,
}

impl Lock {
    pub(super) fn take(codex_home: &Path) -> io::Result<Locked> {
        let file = private_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(codex_home.join(LOCK_FILE))?;
        match file.try_lock() {
            Ok(()) => Ok(Locked::Yes(Lock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(Locked::Busy),
            Err(std::fs::TryLockError::Error(err)) => Err(err),
        }
    }
}

/// Owner-only for files created here: config.toml and litellm.toml may hold a base URL
/// with credentials or headers with keys.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn create_new(path: &Path) -> io::Result<File> {
    private_options().write(true).create_new(true).open(path)
}

/// The file a path names, through symlinks (dotfile managers and home-manager link
/// config.toml): that file is replaced, the link stays.
pub(super) fn resolve(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Whether `target` may be replaced: a file without any write permission (a Nix store
/// file, or one its owner made read-only) is not, even for root.
pub(super) fn check_writable(target: &Path) -> io::Result<()> {
    match std::fs::metadata(target) {
        Ok(metadata) if metadata.permissions().readonly() => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the file is read-only",
        )),
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

/// The backup of config.toml: a name nobody has taken (`create_new`, so two starts never
/// write the same one), owner-only, synced to disk. Kept open to be rewritten if
/// config.toml changes before it is replaced.
pub(super) struct Backup {
    pub(super) path: PathBuf,
    file: File,
}

impl Backup {
    pub(super) fn create(config_path: &Path, text: &str) -> io::Result<Self> {
        let base = format!("{}.before-litellm-toml", config_path.display());
        let mut n = 0u32;
        loop {
            let path = match n {
                0 => PathBuf::from(&base),
                _ => PathBuf::from(format!("{base}.{n}")),
            };
            match create_new(&path) {
                Ok(file) => {
                    let mut backup = Self { path, file };
                    if let Err(err) = backup.rewrite(text) {
                        backup.remove();
                        return Err(err);
                    }
                    return Ok(backup);
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(err) => return Err(err),
            }
        }
    }

    pub(super) fn rewrite(&mut self, text: &str) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(text.as_bytes())?;
        self.file.sync_all()
    }

    /// The move did not happen: the backup would only be a copy of config.toml as it is.
    pub(super) fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// New contents written beside `target` and synced, waiting to replace it.
pub(super) struct Staged {
    temporary: PathBuf,
    target: PathBuf,
}

impl Staged {
    /// `target`'s new text in a temporary file in its folder (a rename only replaces
    /// atomically within one file system), with `target`'s permissions, or owner-only
    /// when it does not exist yet.
    pub(super) fn write(target: &Path, text: &str) -> io::Result<Self> {
        let folder = target.parent().unwrap_or_else(|| Path::new("."));
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "config".to_string());
        let mut n = 0u32;
        let (temporary, mut file) = loop {
            let temporary = folder.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
            match create_new(&temporary) {
                Ok(file) => break (temporary, file),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(err) => return Err(err),
            }
        };
        let staged = Self {
            temporary,
            target: target.to_path_buf(),
        };
        let written = (|| {
            file.write_all(text.as_bytes())?;
            if let Ok(metadata) = std::fs::metadata(target) {
                file.set_permissions(metadata.permissions())?;
            }
            file.sync_all()
        })();
        match written {
            Ok(()) => Ok(staged),
            Err(err) => {
                staged.discard();
                Err(err)
            }
        }
    }

    /// Replaces the target, and syncs the folder so the rename survives a crash.
    pub(super) fn commit(self) -> io::Result<()> {
        if let Err(err) = std::fs::rename(&self.temporary, &self.target) {
            self.discard();
            return Err(err);
        }
        #[cfg(unix)]
        if let Some(folder) = self.target.parent()
            && let Ok(folder) = File::open(folder)
        {
            let _ = folder.sync_all();
        }
        Ok(())
    }

    pub(super) fn discard(self) {
        let _ = std::fs::remove_file(&self.temporary);
    }
}
