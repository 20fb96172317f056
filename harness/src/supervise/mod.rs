//! Plumbing every part of the harness shares: child processes, run directories, atomic
//! writes and the `PATH` look-up. One of each, so that cleanup after a crash (the leftover
//! sweep in `backend::sweep`) recognises everything the harness starts.
//!
//! - [`Spec`] starts a child process in its own process group (a Ctrl-C in the terminal
//!   reaches the harness only, which then tears the child down), marked with
//!   [`OWNER_PID_ENV`] so that the next run's sweep kills it if this harness dies without
//!   unwinding. The [`Supervised`] guard waits for readiness (a polled condition with a
//!   deadline), keeps a bounded log tail, tells whether the child exited (and how), and on
//!   drop or [`Supervised::stop`] sends SIGTERM to the whole group, then SIGKILL after a
//!   grace period, and reaps the child.
//! - [`Spec::spawn_detached`] starts a child that outlives the command (`lab up`): no owner
//!   marker, output to a file, and a [`DetachedRecord`] (pid + start time) that a later
//!   command loads to check that the same process still runs and to stop its group.
//! - [`RunDir`]: a private temp dir `scrape-harness-<what>-*` with `owner.pid`, kept and
//!   printed when `HARNESS_KEEP=1`, removed on drop.
//! - [`atomic_write`] (a sibling temp file, then a rename: readers see the old or the new
//!   content, never a mix) and [`find_in_path`] / [`find_program`].
//! - [`poll_until`] (and [`poll_until_blocking`] where no runtime runs): the one wait with
//!   a deadline for conditions that are not Prometheus observations (the fixture's poller
//!   reads those).
//!
//! Signals are sent with `rustix` (no `unsafe`, no `kill` subprocess). A process group is
//! only signalled while its leader is unreaped (alive or a zombie), so its id cannot have
//! been recycled; a detached process is only signalled after its start time matched.

mod child;
mod detached;
mod error;
mod files;
pub(crate) mod logtail;
mod poll;
mod run_dir;
mod signal;

pub(crate) use child::{NotReady, Output, Spec, Supervised};
pub(crate) use detached::DetachedRecord;
pub(crate) use error::SuperviseError;
pub(crate) use files::{atomic_write, find_in_path, find_program};
pub(crate) use poll::{poll_until, poll_until_blocking, Probe, WaitError};
pub use run_dir::keep_requested;
pub(crate) use run_dir::{RunDir, DIR_PREFIX, OWNER_PID_FILE};
pub(crate) use signal::{signal_process, wait_gone, Signal};

/// The environment variable that marks a process as started by the harness with that pid
/// (the leftover sweep kills marked processes whose harness is dead).
pub const OWNER_PID_ENV: &str = "SCRAPE_HARNESS_OWNER_PID";

#[cfg(test)]
pub(crate) mod test_support {
    use std::time::Duration;

    /// Polls (10 s deadline) until `pid` runs `program` (exec done: its environment and
    /// command line are the new program's, not the forked parent's).
    pub(crate) fn wait_exec(pid: u32, program: &str) {
        let ran =
            super::poll_until_blocking(Duration::from_secs(10), Duration::from_millis(10), || {
                let cmdline = crate::procfs::cmdline(pid).unwrap_or_default();
                let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
                argv0.ends_with(program.as_bytes())
            });
        assert!(ran, "pid {pid} never ran {program}");
    }
}
