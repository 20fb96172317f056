//! What can go wrong starting, watching and stopping a child, or writing a file.

use std::{io, path::PathBuf, time::Duration};

/// A failure of the supervisor, naming the program or file and, where known, the fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SuperviseError {
    /// The program could not be started.
    #[error("cannot start {}: {source}", .program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A file or directory operation failed.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        /// What was being done (`creating`, `writing`, ...).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Signalling or reaping a process failed.
    #[error("{action} pid {pid} ({}) failed: {source}; kill it with `kill -9 -- -{pid}`", .program.display())]
    Signal {
        /// The process (also its process group).
        pid: u32,
        /// The program.
        program: PathBuf,
        /// `terminating`, `killing` or `reaping`.
        action: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A process survived SIGKILL for longer than the deadline.
    #[error("pid {pid} ({}) still alive {waited:?} after SIGKILL", .program.display())]
    StillAlive {
        /// The process.
        pid: u32,
        /// The program.
        program: PathBuf,
        /// How long it was waited for.
        waited: Duration,
    },
    /// A detached child was asked to log to memory, which dies with this process.
    #[error("a detached {} must log to a file (Output::File): a pipe to this process would break when it exits", .program.display())]
    DetachedNeedsFile {
        /// The program.
        program: PathBuf,
    },
    /// A detached-process record could not be read or written.
    #[error("{}: not a detached-process record ({source}); stop the process it names by hand and remove the file", .path.display())]
    Record {
        /// The record file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

impl SuperviseError {
    /// What was being done, the file or program concerned and the OS error, for callers
    /// whose own error types carry an `io::Error` (a failure that is not one is wrapped
    /// with its message).
    pub(crate) fn into_parts(self) -> (&'static str, PathBuf, io::Error) {
        let other = |e: &Self| io::Error::other(e.to_string());
        match self {
            Self::Spawn { program, source } => ("starting", program, source),
            Self::Io { what, path, source } => (what, path, source),
            Self::Signal {
                action,
                ref program,
                ..
            } => (action, program.clone(), other(&self)),
            Self::StillAlive { ref program, .. } => ("stopping", program.clone(), other(&self)),
            Self::DetachedNeedsFile { ref program } => ("starting", program.clone(), other(&self)),
            Self::Record { ref path, .. } => ("reading", path.clone(), other(&self)),
        }
    }

    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
