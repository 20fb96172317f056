//! What the bench reads from Linux' `/proc`: the pids, a process' state and process group
//! (from `stat`, whose fields are counted after the command name: that name may hold spaces
//! and parentheses), its command line and its environment. Everything is read when asked;
//! a process that vanished in between reads as absent.

use std::fs;

/// Every pid in `/proc` (empty where there is no `/proc`).
pub(crate) fn pids() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The fields of a `/proc/<pid>/stat` text after `(<comm>)`: the state first, then the
/// parent pid, the process group, ...
pub(crate) fn stat_fields(text: &str) -> Option<Vec<&str>> {
    Some(text.rsplit_once(')')?.1.split_whitespace().collect())
}

fn stat(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/stat")).ok()
}

/// Whether `pid` is a live process (a zombie is dead: it only waits to be reaped).
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Some(text) = stat(pid) else {
        return false;
    };
    let state = stat_fields(&text).and_then(|f| f.first().map(|s| s.to_string()));
    !matches!(state.as_deref(), Some("Z" | "X") | None)
}

/// The process group of `pid`.
pub(crate) fn pgid(pid: u32) -> Option<u32> {
    stat_fields(&stat(pid)?)?.get(2)?.parse().ok()
}

/// When `pid` started, in clock ticks after boot (`stat` field 22): with the pid, it names
/// one process for good (a recycled pid has a later start time).
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    stat_fields(&stat(pid)?)?.get(19)?.parse().ok()
}

/// Resident memory of `pid` in bytes (`VmRSS` of `/proc/<pid>/status`).
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Open file descriptors of `pid` (entries of `/proc/<pid>/fd`).
pub(crate) fn open_fds(pid: u32) -> Option<u64> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// The NUL-separated command line of `pid`.
pub(crate) fn cmdline(pid: u32) -> Option<Vec<u8>> {
    fs::read(format!("/proc/{pid}/cmdline")).ok()
}

/// The value of the environment variable `name` of `pid` (readable for our own user's
/// processes).
pub(crate) fn env_var(pid: u32, name: &str) -> Option<String> {
    let environ = fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{name}=");
    environ.split(|b| *b == 0).find_map(|var| {
        Some(
            std::str::from_utf8(var)
                .ok()?
                .strip_prefix(&prefix)?
                .to_owned(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let fields = stat_fields("1234 (a (weird) name) S 1 77 77 0").expect("fields");
        assert_eq!(fields[..3], ["S", "1", "77"]);
    }

    #[test]
    fn this_process_reads_as_itself() {
        let me = std::process::id();
        assert!(pid_alive(me));
        assert!(pids().contains(&me));
        assert!(pgid(me).is_some());
        assert!(start_time(me).is_some_and(|t| t > 0));
        assert!(cmdline(me).is_some_and(|c| !c.is_empty()));
        assert!(env_var(me, "PATH").is_some());
        // Above PID_MAX_LIMIT (2^22) on 64-bit Linux: never a live process.
        assert!(!pid_alive(4_194_999));
    }
}
