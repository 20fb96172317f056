//! The per-run work directory: `prometheus.yml`, the TSDB, the log and the pid files the
//! leftover sweep reads. One temp dir (prefix `scrape-harness-`), bind-mounted at the same
//! path inside a container.

use std::{
    fs,
    net::{Ipv4Addr, TcpListener},
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
};

use super::BackendError;
use crate::supervise::{atomic_write, RunDir};
pub(crate) use crate::supervise::{DIR_PREFIX, OWNER_PID_FILE};

/// What names the work directory: `scrape-harness-prometheus-*`.
const WHAT: &str = "prometheus";
/// File holding the pid of the Prometheus process (process backend only).
pub(crate) const PROMETHEUS_PID_FILE: &str = "prometheus.pid";
/// The configuration file name.
pub(crate) const CONFIG_FILE: &str = "prometheus.yml";

/// A work directory, removed on drop (a [`RunDir`]: `owner.pid`, `HARNESS_KEEP`).
#[derive(Debug)]
pub(crate) struct WorkDir {
    dir: RunDir,
}

impl WorkDir {
    /// Creates the directory in the system temp dir, writes `owner.pid`, the config and an
    /// empty `data/`, all readable by every user (a container may run as another user).
    pub(crate) fn create(config_yaml: &str) -> Result<Self, BackendError> {
        let workdir = Self {
            dir: RunDir::create(WHAT)?,
        };
        set_mode(workdir.path(), 0o755)?;
        set_mode(&workdir.path().join(OWNER_PID_FILE), 0o644)?;
        let data = workdir.data_dir();
        fs::create_dir(&data).map_err(|e| BackendError::io(&data, "creating", e))?;
        set_mode(&data, 0o755)?;
        workdir.write_config(config_yaml)?;
        set_mode(&workdir.config_path(), 0o644)?;
        Ok(workdir)
    }

    /// The directory itself.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A short random id unique to this run (the directory name's random suffix).
    pub(crate) fn run_id(&self) -> String {
        let name = self
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!("{DIR_PREFIX}{WHAT}-");
        name.strip_prefix(&prefix).unwrap_or(&name).to_owned()
    }

    /// `<dir>/prometheus.yml`.
    pub(crate) fn config_path(&self) -> PathBuf {
        self.path().join(CONFIG_FILE)
    }

    /// `<dir>/data`, the TSDB.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.path().join("data")
    }

    /// `<dir>/prometheus.log` (process backend).
    pub(crate) fn log_path(&self) -> PathBuf {
        self.path().join("prometheus.log")
    }

    /// Owner uid and gid of the directory: the user a container runs as.
    pub(crate) fn owner(&self) -> Result<(u32, u32), BackendError> {
        let meta = fs::metadata(self.path())
            .map_err(|e| BackendError::io(self.path(), "reading metadata of", e))?;
        Ok((meta.uid(), meta.gid()))
    }

    /// Replaces `prometheus.yml` atomically, so Prometheus never reads half a file (it
    /// keeps the mode `create` gave it). The directory, not the file, is bind-mounted, so a
    /// container sees the new file too.
    pub(crate) fn write_config(&self, yaml: &str) -> Result<(), BackendError> {
        let path = self.config_path();
        atomic_write(&path, yaml).map_err(|e| BackendError::io(&path, "replacing", e))
    }

    /// Writes `<dir>/<name>` (readable by everyone).
    pub(crate) fn write(&self, name: &str, contents: &str) -> Result<(), BackendError> {
        let path = self.path().join(name);
        fs::write(&path, contents).map_err(|e| BackendError::io(&path, "writing", e))?;
        set_mode(&path, 0o644)
    }

    /// Removes the directory (unless `HARNESS_KEEP=1`), reporting failure.
    pub(crate) fn close(self) -> Result<(), BackendError> {
        Ok(self.dir.close()?)
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), BackendError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| BackendError::io(path, "changing permissions of", e))
}

/// A TCP port on 127.0.0.1 that was free a moment ago: bound with port 0, then released.
/// Another process may take it before Prometheus binds it; start then fails with a clear
/// "address already in use" in the log.
pub fn free_local_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_lays_out_the_directory_for_the_sweep_and_for_other_users() {
        let workdir = WorkDir::create("global: {}\n").unwrap();
        let dir = workdir.path().to_owned();
        assert!(dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(DIR_PREFIX));
        let owner = fs::read_to_string(dir.join(OWNER_PID_FILE)).unwrap();
        assert_eq!(owner.trim(), std::process::id().to_string());
        assert_eq!(
            fs::read_to_string(workdir.config_path()).unwrap(),
            "global: {}\n"
        );
        assert!(workdir.data_dir().is_dir());
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        assert!(!workdir.run_id().is_empty());
        workdir.close().unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn write_config_replaces_the_file() {
        let workdir = WorkDir::create("a: 1\n").unwrap();
        workdir.write_config("b: 2\n").unwrap();
        assert_eq!(fs::read_to_string(workdir.config_path()).unwrap(), "b: 2\n");
        let mode = fs::metadata(workdir.config_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o644, "readable by a container's user");
        let names: Vec<_> = fs::read_dir(workdir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "owner.pid, data, prometheus.yml: {names:?}");
    }

    #[test]
    fn free_local_port_is_bindable() {
        let port = free_local_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }
}
