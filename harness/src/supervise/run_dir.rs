//! One run directory: a private temp dir the leftover sweep recognises.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::{atomic_write, SuperviseError};

/// Prefix of every directory the harness creates in the temp dir (the sweep looks for it).
pub(crate) const DIR_PREFIX: &str = "scrape-harness-";
/// File holding the pid of the harness that owns a directory.
pub(crate) const OWNER_PID_FILE: &str = "owner.pid";

/// Whether `HARNESS_KEEP=1` asks to keep Prometheus (container or process) and its
/// directories after a run, for debugging. Kept things are printed with the command that
/// removes them; the next run's sweep removes them too.
pub fn keep_requested() -> bool {
    std::env::var("HARNESS_KEEP").is_ok_and(|v| v == "1")
}

/// `$TMPDIR/scrape-harness-<what>-XXXXXX` with `owner.pid` (this process) written first,
/// so that a harness killed from then on leaves a directory the next run's sweep
/// (`backend::sweep_leftovers`) recognises as abandoned and removes. Removed on drop,
/// unless `HARNESS_KEEP=1`: then kept, and its path printed.
#[derive(Debug)]
pub(crate) struct RunDir {
    dir: TempDir,
    keep: bool,
}

impl RunDir {
    /// Creates the directory; `what` names it (`run`, `nginx`, ...) in its name and in the
    /// `HARNESS_KEEP` message.
    pub(crate) fn create(what: &str) -> Result<Self, SuperviseError> {
        Self::create_in(&std::env::temp_dir(), what)
    }

    /// [`Self::create`] under `base` instead of the temp dir.
    pub(crate) fn create_in(base: &Path, what: &str) -> Result<Self, SuperviseError> {
        let mut dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{what}-"))
            .tempdir_in(base)
            .map_err(|e| SuperviseError::io("creating a directory in", base, e))?;
        let keep = keep_requested();
        dir.disable_cleanup(keep);
        if keep {
            eprintln!(
                "HARNESS_KEEP=1: keeping the {what} dir {}; remove it with `rm -rf {}`",
                dir.path().display(),
                dir.path().display()
            );
        }
        let owner = dir.path().join(OWNER_PID_FILE);
        atomic_write(&owner, format!("{}\n", std::process::id()))
            .map_err(|e| SuperviseError::io("writing", owner, e))?;
        Ok(Self { dir, keep })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `<dir>/<name>`.
    pub(crate) fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path().join(name)
    }

    /// Removes the directory now (unless kept), reporting failure.
    pub(crate) fn close(self) -> Result<(), SuperviseError> {
        if self.keep {
            return Ok(());
        }
        let path = self.path().to_owned();
        self.dir
            .close()
            .map_err(|e| SuperviseError::io("removing", path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_dir_names_its_owner_and_goes_on_drop() {
        let base = tempfile::tempdir().expect("base");
        let run = RunDir::create_in(base.path(), "unit").expect("run dir");
        let path = run.path().to_owned();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(name.starts_with("scrape-harness-unit-"), "{name}");
        let owner = std::fs::read_to_string(run.join(OWNER_PID_FILE)).expect("owner.pid");
        assert_eq!(owner, format!("{}\n", std::process::id()));
        drop(run);
        assert_eq!(path.exists(), keep_requested());
    }
}
