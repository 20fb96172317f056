//! CPU time of a process from `/proc/<pid>/stat` (utime + stime), in seconds.
//!
//! The kernel reports these in clock ticks (`USER_HZ`); `getconf CLK_TCK` gives the tick
//! rate, which is 100 on every mainstream Linux architecture (the fallback).

use std::io;
use std::sync::OnceLock;

/// CPU seconds (user + system) of process `pid` since it started, all threads included.
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?)
        .map(|ticks| ticks as f64 / clock_ticks())
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: unexpected format")))
}

/// CPU seconds of this process.
pub fn self_cpu_seconds() -> io::Result<f64> {
    cpu_seconds(std::process::id())
}

/// utime + stime in ticks from the text of `/proc/<pid>/stat`. The command name (field 2)
/// may contain spaces and parentheses, so fields are counted after its last `)`.
fn parse_stat(text: &str) -> Option<u64> {
    let fields = crate::procfs::stat_fields(text)?;
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_after_the_command_name() {
        let line = "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0 100 0 0";
        assert_eq!(parse_stat(line), Some(325));
    }

    #[test]
    fn own_cpu_time_grows_when_busy() {
        let before = self_cpu_seconds().unwrap();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        assert_ne!(x, 1);
        assert!(self_cpu_seconds().unwrap() > before);
    }
}
