//! One atomic write and one `PATH` look-up.

use std::{
    ffi::OsString,
    fs,
    io::{self, Write as _},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

/// Directories searched after `PATH`: Debian installs nginx in `/usr/sbin`, which is not on
/// the `PATH` of users other than root.
const AFTER_PATH: [&str; 2] = ["/usr/sbin", "/sbin"];

/// Writes `bytes` to `path` through a sibling temp file and a rename, so that a reader
/// (Prometheus reloading, an exporter re-reading its certificate) sees the old or the new
/// content, never a mix. A replaced file keeps its permissions; a new one gets the default
/// ones (as [`fs::write`] would).
pub(crate) fn atomic_write(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let written = (|| {
        let mut file = fs::File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes.as_ref())?;
        if let Ok(old) = fs::metadata(path) {
            file.set_permissions(old.permissions())?;
        }
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// The first executable file `name` in a directory of `PATH`, then in `/usr/sbin` and
/// `/sbin`.
pub(crate) fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(AFTER_PATH.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// `$override_env` when set and not empty (taken as given: a wrong path fails when it is
/// run, naming it), else the first of `names` that [`find_in_path`] finds.
pub(crate) fn find_program(override_env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(given) = std::env::var_os(override_env).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(given));
    }
    names.iter().find_map(|name| find_in_path(name))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_keeping_the_mode_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f.yml");
        atomic_write(&path, "a").expect("first write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        atomic_write(&path, b"b").expect("second write");
        assert_eq!(fs::read_to_string(&path).expect("read"), "b");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["f.yml"]);
    }

    #[test]
    fn atomic_write_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = atomic_write(&dir.path().join("no/f"), "x").expect_err("no directory");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn path_look_up_finds_executables_only() {
        let sh = find_in_path("sh").expect("sh is on PATH");
        assert!(is_executable(&sh), "{}", sh.display());
        assert_eq!(find_in_path("no-such-program-anywhere-4711"), None);
        // An unset override falls through to the names, tried in order.
        let env = "SCRAPE_HARNESS_TEST_FIND_PROGRAM";
        assert_eq!(
            find_program(env, &["no-such-program-anywhere-4711", "sh"]),
            Some(sh)
        );
    }
}
