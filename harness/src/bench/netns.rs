//! Network namespaces for fleet hosts: one namespace per host, a veth pair into it, and a
//! loopback-range address on each end; removal, and the sweep of a dead owner's leftovers.
//!
//! Host slot `k` (0..=255, unique on this machine while its namespace exists) is the
//! namespace `shb-<owner pid>-<k>` (15 characters at most, the limit of an interface name)
//! with:
//!
//! ```text
//!  root namespace                          namespace shb-<pid>-<k>
//!  veth shb-<pid>-<k>  127.77.k.2/30  <──>  veth0  127.77.k.1/30   (lo stays down)
//! ```
//!
//! Every address is in 127.0.0.0/8, so nothing leaves the machine and servers listen on
//! loopback addresses only; no other address and no default route exist in the namespace.
//! What the kernel needs for 127/8 on a non-loopback device (checked on this machine, kernel
//! 6.x, iproute2 6.1):
//!
//! - `net.ipv4.conf.<dev>.route_localnet=1` on BOTH ends. Without it on the sending side
//!   `connect()` fails at once with EINVAL (the output route refuses a loopback source on a
//!   non-loopback device); without it on the receiving side the SYN is dropped as a martian
//!   and the connection times out. It also lets ARP answer for a 127/8 address.
//! - In the root namespace the `local` table holds `local 127.0.0.0/8 dev lo`, which wins
//!   over the main table's `127.77.k.0/30 dev shb-…` as soon as any custom `ip rule`
//!   un-merges the local and main tables (then 127.77.k.1 would be delivered to the root
//!   namespace itself). A route `127.77.k.0/30 dev shb-… src 127.77.k.2` in the `local`
//!   table is more specific than the /8 and wins either way; it goes with the device.
//! - Inside the namespace `lo` stays down, so its `local` table has no 127/8 route at all
//!   and the /30 on `veth0` is the only way anywhere.
//! - `disable_ipv6=1` on both ends (when the kernel has IPv6), so that no link-local IPv6
//!   address appears either.
//!
//! All of it needs CAP_NET_ADMIN and CAP_SYS_ADMIN (`ip netns add` mounts under
//! `/run/netns`): root, in practice. A refusal is reported as such; there is no fallback.
//!
//! Slots are allocated under an exclusive `flock` on [`LOCK_FILE`]: the slots in use are read
//! from the names in `/run/netns` and `/sys/class/net`, and the namespace is created before
//! the lock is released, so two harnesses never pick the same slot.
//!
//! Removal ([`Netns`]'s drop, synchronous so that it also runs while a runtime shuts down
//! on Ctrl-C): `ip link del` (both ends of the pair go at once), `ip netns del`, then a
//! poll with a deadline until neither name is left. [`sweep`] removes the namespaces and
//! veths of owners that are dead, after killing what still runs inside them.

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::procfs;
use crate::supervise::{poll_until_blocking, signal_process, wait_gone, Signal};

/// Prefix of every namespace and root-side veth the bench creates.
pub(crate) const PREFIX: &str = "shb-";
/// Where `ip netns` keeps its namespaces.
const NETNS_DIR: &str = "/run/netns";
/// Interfaces of the root namespace.
const SYS_NET: &str = "/sys/class/net";
/// The lock that serialises slot allocation between harness processes.
pub(crate) const LOCK_FILE: &str = "/run/scrape-harness-netns.lock";
/// Name of the veth end inside a namespace.
pub(crate) const INSIDE_IF: &str = "veth0";
/// Number of host slots: 127.77.0.0/30 .. 127.77.255.0/30.
pub(crate) const SLOTS: u16 = 256;
/// How long a removed namespace or veth may take to disappear.
const GONE_WAIT: Duration = Duration::from_secs(5);
/// How long a process killed by the sweep may take to disappear.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Why a namespace could not be created or removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetnsError {
    /// The kernel refused: no CAP_NET_ADMIN / CAP_SYS_ADMIN.
    #[error(
        "`{command}` was refused ({detail}): network namespaces and veth pairs need \
         CAP_NET_ADMIN and CAP_SYS_ADMIN; run as root (e.g. `sudo scrape-harness bench hosts ...`)"
    )]
    NotPermitted {
        /// The command or file.
        command: String,
        /// What it said.
        detail: String,
    },
    /// `ip` is not installed.
    #[error("running `ip`: {0}; install iproute2 (`apt-get install iproute2`)")]
    NoIp(#[source] io::Error),
    /// An `ip` command failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it said.
        stderr: String,
    },
    /// Every slot is taken.
    #[error(
        "all {} host slots (127.77.0.0/16) hold a namespace of a running harness; \
         stop one (`ip netns list` shows them as shb-<pid>-<slot>)",
        SLOTS
    )]
    NoSlot,
    /// The lock file could not be opened or locked.
    #[error("{}: {source}", .path.display())]
    Lock {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A sysctl could not be set.
    #[error("setting {key}=1 for {namespace}: {detail}")]
    Sysctl {
        /// The key.
        key: String,
        /// The namespace concerned.
        namespace: String,
        /// What failed.
        detail: String,
    },
    /// After creation the host's address is not routed through its veth.
    #[error(
        "{namespace}: {inside} is not routed through {namespace} from the root namespace \
         (`ip route get {inside}` says `{route}`)"
    )]
    Route {
        /// The namespace.
        namespace: String,
        /// The address inside.
        inside: Ipv4Addr,
        /// What `ip route get` said.
        route: String,
    },
    /// A namespace or veth was still there after removal.
    #[error("{name} is still there {waited:?} after `ip link del` and `ip netns del`; remove it with `ip link del {name}; ip netns del {name}`")]
    StillThere {
        /// The name.
        name: String,
        /// How long was waited.
        waited: Duration,
    },
}

/// One host's namespace and veth pair, removed on drop.
#[derive(Debug)]
pub(crate) struct Netns {
    name: String,
    slot: u8,
    removed: bool,
}

impl Netns {
    /// The namespace's name, also the name of the root-side veth.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The address inside the namespace, 127.77.`slot`.1.
    pub(crate) fn inside(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, 77, self.slot, 1)
    }

    /// The address of the root-side end, 127.77.`slot`.2.
    pub(crate) fn outside(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, 77, self.slot, 2)
    }

    /// Removes the veth pair and the namespace (stop whatever runs inside first: a
    /// namespace with processes lives on without its name) and waits until both names
    /// are gone.
    pub(crate) fn remove(mut self) -> Result<(), NetnsError> {
        self.removed = true;
        remove_named(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        if let Err(err) = remove_named(&self.name) {
            tracing::warn!("removing network namespace {}: {err}", self.name);
        }
    }
}

/// Creates `count` namespaces owned by this process, each with its veth pair and
/// addresses (see the module docs). Blocking. On failure the ones already made are
/// removed.
pub(crate) fn create(count: usize) -> Result<Vec<Netns>, NetnsError> {
    let owner = std::process::id();
    let _lock = AllocationLock::take()?;
    let used = used_slots();
    let free: Vec<u8> = (0..SLOTS)
        .filter_map(|s| u8::try_from(s).ok())
        .filter(|s| !used.contains(s))
        .take(count)
        .collect();
    if free.len() < count {
        return Err(NetnsError::NoSlot);
    }
    let mut made = Vec::with_capacity(count);
    for slot in free {
        let name = format!("{PREFIX}{owner}-{slot}");
        ip(&["netns", "add", &name])?;
        // Owned from here: a failure below removes what exists of it.
        let netns = Netns {
            name,
            slot,
            removed: false,
        };
        wire(&netns)?;
        made.push(netns);
    }
    Ok(made)
}

/// The veth pair, addresses, sysctls and routes of a fresh namespace.
fn wire(netns: &Netns) -> Result<(), NetnsError> {
    let name = netns.name();
    let (inside, outside) = (netns.inside(), netns.outside());
    let net = Ipv4Addr::new(127, 77, netns.slot, 0);
    ip(&[
        "link", "add", name, "type", "veth", "peer", "name", INSIDE_IF, "netns", name,
    ])?;
    ip(&["addr", "add", &format!("{outside}/30"), "dev", name])?;
    set_sysctls_root(name)?;
    ip(&["link", "set", name, "up"])?;
    // After `up`: a route through a device that is down is refused.
    ip(&[
        "route",
        "add",
        &format!("{net}/30"),
        "dev",
        name,
        "src",
        &outside.to_string(),
        "table",
        "local",
    ])?;
    ip(&[
        "-n",
        name,
        "addr",
        "add",
        &format!("{inside}/30"),
        "dev",
        INSIDE_IF,
    ])?;
    set_sysctls_inside(name)?;
    ip(&["-n", name, "link", "set", INSIDE_IF, "up"])?;
    let route = ip(&["route", "get", &inside.to_string()])?;
    if !route.split_whitespace().any(|w| w == name) {
        return Err(NetnsError::Route {
            namespace: name.to_owned(),
            inside,
            route: route.trim().to_owned(),
        });
    }
    Ok(())
}

/// Whether this kernel has IPv6 (then each veth end gets no IPv6 address, not even a
/// link-local one: the hosts have their 127/8 address and nothing else).
fn has_ipv6() -> bool {
    Path::new("/proc/sys/net/ipv6/conf").is_dir()
}

/// `route_localnet=1` (and `disable_ipv6=1`) on the root-side veth, through the root
/// namespace's `/proc/sys`.
fn set_sysctls_root(dev: &str) -> Result<(), NetnsError> {
    let mut keys = vec![format!("ipv4/conf/{dev}/route_localnet")];
    if has_ipv6() {
        keys.push(format!("ipv6/conf/{dev}/disable_ipv6"));
    }
    for key in keys {
        let path = format!("/proc/sys/net/{key}");
        std::fs::write(&path, "1").map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied => NetnsError::NotPermitted {
                command: format!("writing {path}"),
                detail: e.to_string(),
            },
            _ => NetnsError::Sysctl {
                key: format!("net.{}", key.replace('/', ".")),
                namespace: dev.to_owned(),
                detail: e.to_string(),
            },
        })?;
    }
    Ok(())
}

/// The same on `veth0` inside the namespace: `/proc/sys/net` shows the namespace of the
/// process that opens it, so `sysctl` runs inside.
fn set_sysctls_inside(name: &str) -> Result<(), NetnsError> {
    let mut keys = vec![format!("net.ipv4.conf.{INSIDE_IF}.route_localnet=1")];
    if has_ipv6() {
        keys.push(format!("net.ipv6.conf.{INSIDE_IF}.disable_ipv6=1"));
    }
    let mut args = vec!["netns", "exec", name, "sysctl", "-qw"];
    args.extend(keys.iter().map(String::as_str));
    ip(&args).map_err(|e| NetnsError::Sysctl {
        key: keys.join(" "),
        namespace: name.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(())
}

/// `ip link del NAME` (ignored when absent), `ip netns del NAME` (likewise), then a poll
/// until neither is left.
fn remove_named(name: &str) -> Result<(), NetnsError> {
    let absent = |e: &NetnsError| {
        matches!(e, NetnsError::Command { stderr, .. }
            if stderr.contains("Cannot find device") || stderr.contains("No such file"))
    };
    if link_exists(name) {
        if let Err(e) = ip(&["link", "del", name]) {
            if !absent(&e) {
                return Err(e);
            }
        }
    }
    if netns_exists(name) {
        if let Err(e) = ip(&["netns", "del", name]) {
            if !absent(&e) {
                return Err(e);
            }
        }
    }
    let gone = poll_until_blocking(GONE_WAIT, Duration::from_millis(10), || {
        !link_exists(name) && !netns_exists(name)
    });
    if !gone {
        return Err(NetnsError::StillThere {
            name: name.to_owned(),
            waited: GONE_WAIT,
        });
    }
    Ok(())
}

/// Whether the root namespace has an interface `name`.
pub(crate) fn link_exists(name: &str) -> bool {
    Path::new(SYS_NET).join(name).exists()
}

/// Whether `ip netns` has a namespace `name`.
pub(crate) fn netns_exists(name: &str) -> bool {
    Path::new(NETNS_DIR).join(name).exists()
}

/// Names starting with [`PREFIX`] in `/run/netns` and `/sys/class/net`, sorted, each once.
pub(crate) fn bench_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for dir in [NETNS_DIR, SYS_NET] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(PREFIX) {
                names.insert(name);
            }
        }
    }
    names
}

/// The owner pid and slot of a name `shb-<pid>-<slot>`.
pub(crate) fn parse_name(name: &str) -> Option<(u32, u8)> {
    let (pid, slot) = name.strip_prefix(PREFIX)?.split_once('-')?;
    Some((pid.parse().ok()?, slot.parse().ok()?))
}

fn used_slots() -> BTreeSet<u8> {
    bench_names()
        .iter()
        .filter_map(|n| parse_name(n))
        .map(|(_, slot)| slot)
        .collect()
}

/// What a [`sweep`] removed, and what it could not.
#[derive(Debug, Default)]
pub(crate) struct NetnsSweep {
    /// Names removed (namespace and veth of the same name count once).
    pub(crate) removed: Vec<String>,
    /// Processes killed inside them.
    pub(crate) killed: Vec<u32>,
    /// Failures, each naming what is left and how to remove it.
    pub(crate) problems: Vec<String>,
}

/// Removes the namespaces and veths named `shb-<pid>-*` whose owner pid is dead (and not
/// this process), killing whatever still runs inside first. Blocking. A recycled owner pid
/// keeps its leftovers until that process ends: the sweep errs on the side of leaving them.
pub(crate) fn sweep() -> NetnsSweep {
    let mut report = NetnsSweep::default();
    let me = std::process::id();
    for name in bench_names() {
        let Some((owner, _)) = parse_name(&name) else {
            continue;
        };
        if owner == me || procfs::pid_alive(owner) {
            continue;
        }
        if netns_exists(&name) {
            for pid in pids_in(&name) {
                let killed = signal_process(pid, Signal::Kill).is_ok() || !procfs::pid_alive(pid);
                if killed && wait_gone(pid, KILL_WAIT) {
                    report.killed.push(pid);
                } else {
                    report.problems.push(format!(
                        "pid {pid} in namespace {name} of dead harness pid {owner} did not die; kill it with `kill -9 {pid}`"
                    ));
                }
            }
        }
        match remove_named(&name) {
            Ok(()) => report.removed.push(name),
            Err(err) => report.problems.push(format!(
                "namespace {name} of dead harness pid {owner}: {err}"
            )),
        }
    }
    report
}

/// Pids of the processes in namespace `name` (`ip netns pids`); none when it cannot tell.
fn pids_in(name: &str) -> Vec<u32> {
    ip(&["netns", "pids", name])
        .map(|out| {
            out.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `ip ARGS` and returns its stdout.
fn ip(args: &[&str]) -> Result<String, NetnsError> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(NetnsError::NoIp)?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let command = format!("ip {}", args.join(" "));
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if stderr.contains("Operation not permitted") || stderr.contains("Permission denied") {
        return Err(NetnsError::NotPermitted {
            command,
            detail: stderr,
        });
    }
    Err(NetnsError::Command {
        command,
        status: out.status.to_string(),
        stderr,
    })
}

/// An exclusive `flock` on [`LOCK_FILE`], released on drop (closing the file).
struct AllocationLock {
    _file: File,
}

impl AllocationLock {
    fn take() -> Result<Self, NetnsError> {
        let path = PathBuf::from(LOCK_FILE);
        let opened = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            // Made by root earlier: reading is enough for `flock`, and the refusal then
            // comes from `ip netns add` itself.
            .or_else(|e| match e.kind() {
                io::ErrorKind::PermissionDenied => File::open(&path),
                _ => Err(e),
            });
        let file = opened.map_err(|source| match source.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::NotFound => NetnsError::NotPermitted {
                command: format!("creating {}", path.display()),
                detail: source.to_string(),
            },
            _ => NetnsError::Lock {
                path: path.clone(),
                source,
            },
        })?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).map_err(|e| {
            NetnsError::Lock {
                path,
                source: e.into(),
            }
        })?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_owner_and_slot_and_fit_an_interface_name() {
        // The longest pid (PID_MAX_LIMIT is 2^22) and slot: 15 characters, IFNAMSIZ - 1.
        let longest = format!("{PREFIX}4194304-255");
        assert_eq!(longest.len(), 15);
        assert_eq!(parse_name(&longest), Some((4_194_304, 255)));
        assert_eq!(parse_name("shb-12-3"), Some((12, 3)));
        assert_eq!(parse_name("shb-12-256"), None, "slots end at 255");
        assert_eq!(parse_name("shb-x-3"), None);
        assert_eq!(parse_name("eth0"), None);
    }

    #[test]
    fn a_slot_has_its_own_slash_30_in_the_loopback_range() {
        let netns = Netns {
            name: "shb-1-7".into(),
            slot: 7,
            removed: true,
        };
        assert_eq!(netns.inside(), Ipv4Addr::new(127, 77, 7, 1));
        assert_eq!(netns.outside(), Ipv4Addr::new(127, 77, 7, 2));
        assert!(netns.inside().is_loopback() && netns.outside().is_loopback());
    }
}
