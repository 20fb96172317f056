//! What a lab runs, kept in `<dir>/.lab/state.json` so that later processes (`check`,
//! `hint`, `stop`) find it; a registry of started labs in `$TMPDIR/scrape-harness-labs`
//! lets any `lab` command sweep a start that was killed half-way.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::catalog::{Lab, Ports};
use super::error::LabError;
use super::procs;

/// The lab's private folder inside the lab folder.
pub(crate) const PRIVATE: &str = ".lab";
const STATE_FILE: &str = "state.json";
const HINTS_FILE: &str = "hints";
const HISTORY_FILE: &str = "history.json";
const REGISTRY: &str = "scrape-harness-labs";

/// Where a lab's life stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Phase {
    /// `start` is still starting processes; `owner_pid` is that `start`.
    Starting,
    /// Everything runs.
    Running,
}

/// One process the lab started (the leader of its own process group).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Proc {
    /// `prometheus`, `exporter` or `nginx`.
    pub(crate) role: String,
    /// Its pid, also its process group id.
    pub(crate) pid: u32,
    /// The port it listens on.
    pub(crate) port: u16,
}

/// `<dir>/.lab/state.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LabState {
    /// The lab's name.
    pub(crate) lab: String,
    /// The absolute lab folder.
    pub(crate) dir: PathBuf,
    /// Where it stands.
    pub(crate) phase: Phase,
    /// The pid of the `start` that is starting it.
    pub(crate) owner_pid: u32,
    /// Its ports.
    pub(crate) ports: Ports,
    /// What runs.
    pub(crate) procs: Vec<Proc>,
    /// `sha` of nginx.conf as nginx last loaded it (to reload only on change).
    #[serde(default)]
    pub(crate) nginx_conf_loaded: Option<String>,
    /// Fingerprint of web-config.yml and the files it names, as the exporter of a build-it
    /// lab was last started with
    /// (to restart it only on change).
    #[serde(default)]
    pub(crate) web_config_loaded: Option<String>,
    /// SHA-256 of the teacher's key the lab was started with (`--teacher-key`): only that
    /// key unlocks `lab solution` here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) teacher: Option<String>,
    /// When `lab start` (or `up`) wrote the folder, seconds since the epoch (0: unknown).
    #[serde(default)]
    pub(crate) started_at: u64,
}

impl LabState {
    /// The lab.
    pub(crate) fn lab(&self) -> Result<Lab, LabError> {
        self.lab.parse()
    }

    /// The pid of `role`, if it was started.
    pub(crate) fn pid_of(&self, role: &str) -> Option<u32> {
        self.procs.iter().find(|p| p.role == role).map(|p| p.pid)
    }

    /// `<dir>/.lab/<name>`.
    pub(crate) fn private(&self, name: &str) -> PathBuf {
        self.dir.join(PRIVATE).join(name)
    }

    /// Writes the state file (atomically) and the registry entry.
    pub(crate) fn save(&self) -> Result<(), LabError> {
        let path = state_path(&self.dir);
        let text = serde_json::to_string_pretty(self).expect("LabState serialises");
        write_atomic(&path, &text)?;
        let entry = registry_entry(&self.dir);
        if let Some(parent) = entry.parent() {
            fs::create_dir_all(parent).map_err(|e| LabError::io("creating", parent, e))?;
        }
        write_atomic(&entry, &self.dir.display().to_string())
    }

    /// Loads the state of the lab in `dir`.
    pub(crate) fn load(dir: &Path) -> Result<Self, LabError> {
        let path = state_path(dir);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let below: Vec<String> = fs::read_dir(dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter(|e| state_path(&e.path()).is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                let mut below = below;
                below.sort();
                return Err(if below.is_empty() {
                    LabError::NotALab {
                        dir: dir.to_owned(),
                    }
                } else {
                    LabError::LabsBelow {
                        dir: dir.to_owned(),
                        labs: below.join(", "),
                    }
                });
            }
            Err(e) => return Err(LabError::io("reading", path, e)),
        };
        serde_json::from_str(&text).map_err(|e| LabError::BadState {
            path,
            reason: e.to_string(),
        })
    }

    /// Removes the state file and the registry entry (the lab folder stays).
    pub(crate) fn forget(&self) {
        let _ = fs::remove_file(state_path(&self.dir));
        let _ = fs::remove_file(registry_entry(&self.dir));
    }
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join(PRIVATE).join(STATE_FILE)
}

/// The registry file of the lab in `dir`: one file per lab folder, holding its path.
fn registry_entry(dir: &Path) -> PathBuf {
    let name: String = dir
        .display()
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    std::env::temp_dir().join(REGISTRY).join(name)
}

/// The one atomic write (`supervise::atomic_write`), failing as a lab error.
pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<(), LabError> {
    crate::supervise::atomic_write(path, text).map_err(|e| LabError::io("writing", path, e))
}

/// How many hints were shown so far.
pub(crate) fn hints_shown(dir: &Path) -> usize {
    fs::read_to_string(dir.join(PRIVATE).join(HINTS_FILE))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// Seconds since the epoch, now.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How many hints were shown; bumps the count and returns the new one (capped at `max`).
pub(crate) fn next_hint(dir: &Path, max: usize) -> Result<usize, LabError> {
    let path = dir.join(PRIVATE).join(HINTS_FILE);
    let next = (hints_shown(dir) + 1).min(max);
    write_atomic(&path, &format!("{next}\n"))?;
    Ok(next)
}

/// One earlier `check`: its time and the problems it named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PastCheck {
    /// Seconds since the epoch.
    pub(crate) at: u64,
    /// Whether it passed.
    pub(crate) solved: bool,
    /// `kind: summary` of each finding.
    pub(crate) problems: Vec<String>,
}

/// The checks run so far, oldest first.
pub(crate) fn history(dir: &Path) -> Vec<PastCheck> {
    fs::read_to_string(dir.join(PRIVATE).join(HISTORY_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Appends a check to the history.
pub(crate) fn record(dir: &Path, check: PastCheck) -> Result<(), LabError> {
    let mut all = history(dir);
    all.push(check);
    let text = serde_json::to_string_pretty(&all).expect("history serialises");
    write_atomic(&dir.join(PRIVATE).join(HISTORY_FILE), &text)
}

/// Stops labs whose `start` died before finishing (SIGKILL, crash): their registry entry
/// names a lab in phase `starting` whose owner pid is dead. Returns the lab folders swept.
/// Every `lab` command runs it first.
pub fn sweep_interrupted_starts() -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(std::env::temp_dir().join(REGISTRY)) else {
        return Vec::new();
    };
    let mut swept = Vec::new();
    for entry in entries.flatten() {
        let Ok(dir) = fs::read_to_string(entry.path()) else {
            continue;
        };
        let dir = PathBuf::from(dir.trim());
        match LabState::load(&dir) {
            Ok(state) if state.phase == Phase::Starting && !procs::pid_alive(state.owner_pid) => {
                procs::stop_lab(&state.dir, &state.procs);
                state.forget();
                swept.push(dir);
            }
            Ok(_) => {}
            Err(_) => {
                // The folder (or its state) is gone: kill whatever still names it.
                procs::kill_lab(&dir, &[]);
                let _ = fs::remove_file(entry.path());
                swept.push(dir);
            }
        }
    }
    swept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_a_lab_names_the_labs_below_it() {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let err = LabState::load(tmp.path()).expect_err("no lab");
        assert!(matches!(err, LabError::NotALab { .. }), "{err}");
        for lab in ["untrusted-ca", "basic-auth-401"] {
            let private = tmp.path().join(lab).join(PRIVATE);
            fs::create_dir_all(&private).expect("folders");
            fs::write(private.join("state.json"), "{}").expect("written");
        }
        let err = LabState::load(tmp.path())
            .expect_err("no lab here")
            .to_string();
        assert!(
            err.contains("NAME one of: basic-auth-401, untrusted-ca"),
            "{err}"
        );
    }
}
