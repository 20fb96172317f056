//! Signals to processes and process groups, and waiting for a pid to go.

use std::{io, time::Duration};

use rustix::io::Errno;
use rustix::process::{self, Pid};

use super::poll_until_blocking;
use crate::procfs;

/// How often a wait here looks again.
pub(super) const POLL: Duration = Duration::from_millis(10);
/// How often a wait for a whole group looks again (each look reads all of `/proc`).
const GROUP_POLL: Duration = Duration::from_millis(50);

/// The signals the harness sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGTERM: shut down.
    Term,
    /// SIGKILL.
    Kill,
    /// SIGHUP: nginx reloads its config.
    Hup,
}

impl Signal {
    fn raw(self) -> process::Signal {
        match self {
            Self::Term => process::Signal::TERM,
            Self::Kill => process::Signal::KILL,
            Self::Hup => process::Signal::HUP,
        }
    }
}

fn pid(raw: u32) -> io::Result<Pid> {
    i32::try_from(raw)
        .ok()
        .and_then(Pid::from_raw)
        .filter(|p| p.as_raw_nonzero().get() > 1)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("pid {raw}")))
}

/// Sends `signal` to process `pid`.
pub(crate) fn signal_process(raw: u32, signal: Signal) -> io::Result<()> {
    process::kill_process(pid(raw)?, signal.raw()).map_err(io::Error::from)
}

/// Sends `signal` to every process of group `pgid`; an empty group is not an error.
pub(crate) fn signal_group(pgid: u32, signal: Signal) -> io::Result<()> {
    match process::kill_process_group(pid(pgid)?, signal.raw()) {
        Ok(()) | Err(Errno::SRCH) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Polls until `pid` is gone (or a zombie) or `within` has passed; whether it went.
pub(crate) fn wait_gone(pid: u32, within: Duration) -> bool {
    poll_until_blocking(within, POLL, || !procfs::pid_alive(pid))
}

/// Whether a live (not zombie) process is in process group `pgid`.
pub(crate) fn group_alive(pgid: u32) -> bool {
    procfs::pids()
        .into_iter()
        .any(|p| procfs::pgid(p) == Some(pgid) && procfs::pid_alive(p))
}

/// Polls until no live process is left in group `pgid` or `within` has passed; whether
/// the group went. SIGKILL is delivered asynchronously: a member may outlive its leader for
/// a moment.
pub(crate) fn wait_group_gone(pgid: u32, within: Duration) -> bool {
    poll_until_blocking(within, GROUP_POLL, || !group_alive(pgid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_that_would_hit_everything_are_refused() {
        for bad in [0, 1, u32::MAX] {
            assert!(signal_group(bad, Signal::Term).is_err(), "{bad}");
            assert!(signal_process(bad, Signal::Term).is_err(), "{bad}");
        }
    }

    #[test]
    fn signalling_an_empty_group_is_fine_and_a_dead_pid_is_not() {
        // Above PID_MAX_LIMIT (2^22) on 64-bit Linux: never a live process.
        const DEAD: u32 = 4_194_999;
        signal_group(DEAD, Signal::Kill).expect("no such group is no error");
        assert!(signal_process(DEAD, Signal::Kill).is_err());
        assert!(wait_gone(DEAD, Duration::ZERO));
        assert!(!group_alive(DEAD));
        assert!(wait_group_gone(DEAD, Duration::ZERO));
    }
}
