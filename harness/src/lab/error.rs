//! What can go wrong running a lab (not the learner's mistakes: those are findings).

use std::path::PathBuf;

/// Why a lab command could not do its job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// No lab of that name.
    #[error("no lab named `{name}`; `scrape-harness lab list` shows them: {known}")]
    UnknownLab {
        /// The name given.
        name: String,
        /// The names there are.
        known: String,
    },
    /// The folder holds no started lab.
    #[error("{}: no lab here (no .lab/state.json); start one with `scrape-harness lab start NAME --dir {}`", .dir.display(), .dir.display())]
    NotALab {
        /// The folder.
        dir: PathBuf,
    },
    /// `lab solution` without the key of the teacher who started the lab.
    #[error("the reference solution is for teachers: {reason}")]
    TeacherOnly {
        /// Why this call is refused, and what a teacher does instead.
        reason: String,
    },
    /// The folder is a `lab up` folder: its labs are in subfolders.
    #[error("{}: the labs of `lab up` are in its subfolders; run the command in one of them (`cd {}/NAME`) or with `--dir {}/NAME`, NAME one of: {labs}", .dir.display(), .dir.display(), .dir.display())]
    LabsBelow {
        /// The folder.
        dir: PathBuf,
        /// The labs under it, comma-separated.
        labs: String,
    },
    /// The folder already runs a lab.
    #[error("{}: lab `{lab}` is already running here; stop it with `scrape-harness lab stop --dir {}` first", .dir.display(), .dir.display())]
    AlreadyRunning {
        /// The folder.
        dir: PathBuf,
        /// The lab running there.
        lab: String,
    },
    /// A file could not be read or written.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// What was done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A tool the lab needs is missing.
    #[error("`{tool}` not found ({detail}); install it with `bash scripts/setup` (Debian package `{package}`)")]
    ToolMissing {
        /// The command.
        tool: String,
        /// Where it was looked for.
        detail: String,
        /// The Debian package.
        package: &'static str,
    },
    /// A command the lab runs failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Exit status and output.
        detail: String,
    },
    /// A process did not become ready in time.
    #[error("{what} did not become ready within {waited:?}: {detail}")]
    NotReady {
        /// What was started.
        what: String,
        /// How long was waited.
        waited: std::time::Duration,
        /// Its log tail, or what was seen.
        detail: String,
    },
    /// The state file is unreadable.
    #[error("{}: not a lab state file ({reason}); remove the folder's .lab/ after killing what it lists", .path.display())]
    BadState {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Something is still running after `stop`.
    #[error("after stopping {}: {left}", .dir.display())]
    Leftovers {
        /// The lab folder.
        dir: PathBuf,
        /// What is left, with the command to remove it.
        left: String,
    },
    /// Prometheus' API failed.
    #[error(transparent)]
    Api(#[from] crate::ApiError),
    /// The poller over the lab's Prometheus stopped or could not read it.
    #[error(transparent)]
    Observe(#[from] crate::FixtureError),
    /// Prometheus could not be started, found again or stopped.
    #[error(transparent)]
    Backend(#[from] crate::BackendError),
    /// promtool could not be run.
    #[error(transparent)]
    PromConfig(#[from] crate::promconfig::PromConfigError),
    /// A web config the lab writes was refused (a bug of the catalog).
    #[error(transparent)]
    WebConfig(#[from] fake_exporter::WebConfigError),
    /// The fake exporter's PKI could not be generated or written.
    #[error("generating the lab PKI: {0}")]
    Pki(#[from] fake_exporter::pki::PkiError),
}

impl LabError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
