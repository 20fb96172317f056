//! Teacher and learner apart: a teacher makes a key (`lab teacher-key`), starts the labs
//! with it (`lab start|up --teacher-key FILE`), and only that key unlocks `lab solution` in
//! those folders. A learner's folder holds the key's SHA-256, never the key, and no
//! solution (the reference solutions live in the binary and in the teacher's guide).

use std::io::Read as _;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::error::LabError;
use super::state::LabState;

/// Bytes of randomness in a key.
const KEY_BYTES: usize = 32;
/// The longest key file read.
const MAX_KEY_FILE: u64 = 4096;

/// Writes a new key to `out` (created new, mode 0600) and returns its fingerprint.
pub fn make_key(out: &Path) -> Result<String, LabError> {
    use rand::Rng as _;
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let bytes: [u8; KEY_BYTES] = rand::rng().random();
    let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| LabError::io("creating the teacher key", out, e))?;
    file.write_all(format!("{key}\n").as_bytes())
        .map_err(|e| LabError::io("writing the teacher key", out, e))?;
    Ok(digest(&key))
}

/// SHA-256 (hex) of a key's text.
fn digest(key: &str) -> String {
    Sha256::digest(key.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The fingerprint of the key in `file`.
pub(crate) fn fingerprint(file: &Path) -> Result<String, LabError> {
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_KEY_FILE).read_to_string(&mut text))
        .map_err(|e| LabError::io("reading the teacher key", file, e))?;
    if text.trim().is_empty() {
        return Err(LabError::TeacherOnly {
            reason: format!(
                "{} is empty; make a key with `scrape-harness lab teacher-key --out FILE`",
                file.display()
            ),
        });
    }
    Ok(digest(&text))
}

/// Checks that `file` holds a key, before anything starts.
pub fn check(file: &Path) -> Result<(), LabError> {
    fingerprint(file).map(drop)
}

/// Records the key of `file` in the labs of `dirs` (their `.lab/state.json`).
pub fn lock(dirs: &[&Path], file: &Path) -> Result<(), LabError> {
    let print = fingerprint(file)?;
    for dir in dirs {
        let mut state = LabState::load(dir)?;
        state.teacher = Some(print.clone());
        state.save()?;
    }
    Ok(())
}

/// Whether `key` unlocks the solution of the lab in `state`.
pub(crate) fn authorize(state: &LabState, key: Option<&Path>) -> Result<(), LabError> {
    let refuse = |reason: String| Err(LabError::TeacherOnly { reason });
    match (&state.teacher, key) {
        (None, _) => refuse(format!(
            "the lab in {} was started without a teacher key; a teacher starts labs with \
             `--teacher-key FILE` (made by `scrape-harness lab teacher-key --out FILE`) and \
             then passes the same `--teacher-key FILE` to `lab solution`",
            state.dir.display()
        )),
        (Some(_), None) => refuse(format!(
            "pass the key the lab in {} was started with: `--teacher-key FILE`",
            state.dir.display()
        )),
        (Some(want), Some(file)) => {
            if &fingerprint(file)? == want {
                Ok(())
            } else {
                refuse(format!(
                    "{} is not the key the lab in {} was started with",
                    file.display(),
                    state.dir.display()
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(teacher: Option<String>) -> LabState {
        let dir = tempfile::tempdir().expect("a temp dir");
        LabState {
            lab: "untrusted-ca".into(),
            dir: dir.path().to_owned(),
            phase: super::super::state::Phase::Running,
            owner_pid: 1,
            ports: super::super::catalog::Ports {
                prometheus: 1,
                exporter: 2,
                proxy: None,
            },
            procs: Vec::new(),
            nginx_conf_loaded: None,
            web_config_loaded: None,
            teacher,
            started_at: 0,
        }
    }

    #[test]
    fn only_the_teachers_key_unlocks_the_solution() {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let (key, other) = (tmp.path().join("teacher.key"), tmp.path().join("mine.key"));
        let print = make_key(&key).expect("a key");
        make_key(&other).expect("another key");
        assert!(
            make_key(&key).is_err(),
            "an existing key is never overwritten"
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&key).expect("written").permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);

        let locked = state(Some(print));
        assert!(authorize(&locked, Some(&key)).is_ok());
        for (given, why) in [
            (None, "pass the key the lab"),
            (Some(other.as_path()), "is not the key the lab"),
        ] {
            let err = authorize(&locked, given).unwrap_err().to_string();
            assert!(err.contains("for teachers") && err.contains(why), "{err}");
        }
        let err = authorize(&state(None), Some(&key)).unwrap_err().to_string();
        assert!(err.contains("started without a teacher key"), "{err}");
    }
}
