//! Teaching labs through the binary, against a real Prometheus, fake-exporter, nginx and
//! openssl: every lab fails for its fault and passes with its reference solution; faults
//! are named for what they are wherever they are; `lab up` is quick and `lab stop` leaves
//! nothing; the HTML report renders in headless Chromium.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};

use crate::support::{fake_exporter_bin, finish, heavy, poll, Harness, Ran};

/// Generous limit of one `lab` command (a check waits up to 60 s for scrapes).
const LIMIT: Duration = Duration::from_secs(120);

/// A lab folder in a private TMPDIR; `lab stop` runs on drop, so a failed test leaves nothing.
pub(crate) struct LabDir {
    harness: Harness,
    dir: PathBuf,
    /// The teacher's key the lab is started with (unlocks `lab solution`).
    key: PathBuf,
}

impl LabDir {
    pub(crate) fn new() -> Result<Self> {
        let harness = Harness::new()?;
        let dir = harness.tmp().join("lab");
        let key = harness.tmp().join("teacher.key");
        let key_arg = key.to_str().context("utf-8 path")?;
        let made = harness.run(&["lab", "teacher-key", "--out", key_arg], LIMIT)?;
        ensure!(made.code() == Some(0), "lab teacher-key failed:{made}");
        Ok(Self { harness, dir, key })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// `scrape-harness lab <args> --fake-exporter <bin>`.
    pub(crate) fn lab(&self, args: &[&str]) -> Result<Ran> {
        let fake = fake_exporter_bin();
        let mut all = vec!["lab"];
        all.extend_from_slice(args);
        // Only the commands that start or apply something take the programs to run.
        if matches!(args.first(), Some(&("start" | "check" | "solution" | "up"))) {
            all.extend_from_slice(&["--fake-exporter", fake.to_str().context("utf-8 path")?]);
        }
        self.harness.run(&all, LIMIT)
    }

    pub(crate) fn dir_arg(&self) -> &str {
        self.dir.to_str().expect("temp paths are UTF-8")
    }

    fn key_arg(&self) -> &str {
        self.key.to_str().expect("temp paths are UTF-8")
    }

    /// `lab start NAME` with the teacher's key.
    pub(crate) fn start(&self, name: &str) -> Result<Ran> {
        let ran = self.lab(&[
            "start",
            name,
            "--dir",
            self.dir_arg(),
            "--teacher-key",
            self.key_arg(),
        ])?;
        ensure!(ran.code() == Some(0), "lab start {name} failed:{ran}");
        Ok(ran)
    }

    /// `lab check`, asserting its exit code (0 solved, 1 not yet).
    pub(crate) fn check(&self, solved: bool) -> Result<Ran> {
        let ran = self.lab(&["check", "--dir", self.dir_arg()])?;
        let want = if solved { 0 } else { 1 };
        ensure!(
            ran.code() == Some(want),
            "lab check: expected exit {want}:{ran}\n--- files:\n{}",
            self.files()
        );
        Ok(ran)
    }

    pub(crate) fn solve(&self, name: &str) -> Result<()> {
        let ran = self.lab(&[
            "solution",
            name,
            "--apply",
            "--dir",
            self.dir_arg(),
            "--teacher-key",
            self.key_arg(),
        ])?;
        ensure!(
            ran.code() == Some(0),
            "lab solution {name} --apply failed:{ran}"
        );
        Ok(())
    }

    pub(crate) fn edit(&self, file: &str, from: &str, to: &str) -> Result<()> {
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        ensure!(
            text.contains(from),
            "{} has no `{from}`:\n{text}",
            path.display()
        );
        std::fs::write(&path, text.replacen(from, to, 1))
            .with_context(|| format!("writing {}", path.display()))
    }

    pub(crate) fn files(&self) -> String {
        ["prometheus.yml", "web-config.yml", "nginx.conf"]
            .iter()
            .filter_map(|f| {
                Some(format!(
                    "--- {f}:\n{}",
                    std::fs::read_to_string(self.dir.join(f)).ok()?
                ))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `lab stop`, then asserts that no process names the folder.
    pub(crate) fn stop(&self) -> Result<()> {
        let ran = self.lab(&["stop", "--dir", self.dir_arg()])?;
        ensure!(ran.code() == Some(0), "lab stop failed:{ran}");
        let left = processes_naming(&self.dir);
        ensure!(left.is_empty(), "processes left after lab stop: {left:?}");
        Ok(())
    }
}

impl Drop for LabDir {
    fn drop(&mut self) {
        // A lab, or the folder of `lab up` (stop takes both); nothing there is an error
        // `lab stop` reports and a dropped test ignores.
        if self.dir.exists() {
            let _ = self.lab(&["stop", "--dir", self.dir_arg()]);
        }
    }
}

/// Live processes (not zombies) whose command line names `dir`, except `lab` commands.
fn processes_naming(dir: &Path) -> Vec<String> {
    let needle = format!("{}/", dir.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
        if cmdline.contains(&needle) && !zombie && !cmdline.contains(" lab ") {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

/// Whether something accepts connections on 127.0.0.1:`port`.
fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))
        .is_ok()
}

/// The ports a lab's state file lists.
fn ports_of(dir: &Path) -> Result<Vec<u16>> {
    let text =
        std::fs::read_to_string(dir.join(".lab/state.json")).context("reading .lab/state.json")?;
    let state: serde_json::Value = serde_json::from_str(&text)?;
    Ok(state["procs"]
        .as_array()
        .context("procs")?
        .iter()
        .filter_map(|p| p["port"].as_u64().and_then(|p| u16::try_from(p).ok()))
        .collect())
}

/// Start, fail for `kind`, apply the reference solution, pass, stop.
fn round_trip(name: &str, kind: &str) -> Result<()> {
    let lab = LabDir::new()?;
    lab.start(name)?;
    let failed = lab.check(false)?;
    ensure!(
        failed.stdout.contains(&format!("— {kind}\n")),
        "lab check did not name `{kind}`:{failed}"
    );
    // `check` explains; it never prints the reference solution.
    let solution = lab.lab(&[
        "solution",
        name,
        "--dir",
        lab.dir_arg(),
        "--teacher-key",
        lab.key_arg(),
    ])?;
    ensure!(solution.code() == Some(0), "{solution}");
    for line in solution.stdout.lines().filter(|l| l.trim().len() > 20) {
        ensure!(
            !failed.stdout.contains(line.trim()),
            "lab check printed the solution `{line}`:{failed}"
        );
    }
    lab.solve(name)?;
    let passed = lab.check(true)?;
    ensure!(
        passed.stdout.contains("SOLVED")
            && passed
                .stdout
                .contains(&format!("fixed since an earlier check: {kind}")),
        "{passed}"
    );
    lab.stop()
}

/// Every lab and the class (or finding) its `check` must name before the solution.
const LABS: [(&str, &str); 13] = [
    ("classic-tls-basic", "no_ip_sans"),
    ("basic-auth-401", "unauthorized"),
    ("untrusted-ca", "unknown_authority"),
    ("hostname-mismatch", "hostname_mismatch"),
    ("expired-cert", "cert_expired"),
    ("mtls-client-cert", "client_cert_required"),
    ("bearer-rotation", "unauthorized"),
    ("reverse-proxy", "http_to_https"),
    ("config-refused", "config_refused"),
    ("keepalive", "keepalive"),
    // Build-it labs start with no web-config.yml (and no job): what is missing is named.
    ("build-tls", "no_exporter_config"),
    ("build-tls-basic", "no_exporter_config"),
    ("build-mtls", "no_exporter_config"),
];

/// All round trips at once (each lab has its own ports and folder): they mostly wait
/// for scrapes, so running them side by side keeps the test near one round trip's time.
/// A failure lists every lab that failed, each with its full dump.
#[test]
fn every_lab_fails_for_its_fault_and_passes_with_its_reference_solution() -> Result<()> {
    // Ten Prometheus servers at once load both cores: keep the tests with 200 ms scrape
    // timeouts from running meanwhile.
    let _heavy = heavy();
    let begun = Instant::now();
    let runs: Vec<_> = LABS
        .iter()
        .map(|&(name, kind)| (name, std::thread::spawn(move || round_trip(name, kind))))
        .collect();
    let mut failures = Vec::new();
    for (name, run) in runs {
        match run.join() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => failures.push(format!("=== lab {name}: {err:#}")),
            Err(_) => failures.push(format!("=== lab {name}: panicked")),
        }
    }
    ensure!(
        failures.is_empty(),
        "{} of {} labs failed:\n{}",
        failures.len(),
        LABS.len(),
        failures.join("\n")
    );
    eprintln!("{} lab round trips: {:?}", LABS.len(), begun.elapsed());
    Ok(())
}

/// `openssl req -x509` for the classic lab, run in the lab folder as a learner would.
fn learner_cert(dir: &Path, san: &str) -> Result<()> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", &format!("subjectAltName={san}")])
        .args(["-keyout", "exporter.key", "-out", "exporter.crt"])
        .stdin(Stdio::null())
        .output()
        .context("running openssl: install it with `bash scripts/setup`")?;
    ensure!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[test]
fn classic_lab_passes_with_learner_made_openssl_certs_only_when_ip_or_server_name_is_right(
) -> Result<()> {
    let lab = LabDir::new()?;
    lab.start("classic-tls-basic")?;
    // The tutorials' self-signed certificate for DNS:localhost, scraped by IP.
    learner_cert(lab.dir(), "DNS:localhost")?;
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("— no_ip_sans") && ran.stdout.contains("server_name"),
        "{ran}"
    );
    // The tutorials' "fix": no verification. Up, but not solved; also when spelled `yes`,
    // which Prometheus (go-yaml v2) reads as true.
    lab.edit(
        "prometheus.yml",
        "    ca_file: exporter.crt",
        "    insecure_skip_verify: true",
    )?;
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("up (none)")
            && ran.stdout.contains("— weakened")
            && ran
                .stdout
                .contains("insecure_skip_verify: true (/api/v1/status/config)"),
        "{ran}"
    );
    lab.edit(
        "prometheus.yml",
        "    insecure_skip_verify: true",
        "    insecure_skip_verify: yes",
    )?;
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("up (none)")
            && ran.stdout.contains("— weakened")
            && ran
                .stdout
                .contains("insecure_skip_verify: true (/api/v1/status/config)"),
        "{ran}"
    );
    // Fix 1: verify the name the certificate holds.
    lab.edit(
        "prometheus.yml",
        "    insecure_skip_verify: yes",
        "    ca_file: exporter.crt\n    server_name: localhost",
    )?;
    let ran = lab.check(true)?;
    ensure!(ran.stdout.contains("SOLVED"), "{ran}");
    // Fix 2: a certificate with an IP SAN, no server_name.
    lab.edit("prometheus.yml", "\n    server_name: localhost", "")?;
    learner_cert(lab.dir(), "DNS:localhost,IP:127.0.0.1")?;
    let ran = lab.check(true)?;
    ensure!(ran.stdout.contains("SOLVED"), "{ran}");
    lab.stop()
}

#[test]
fn a_fault_moved_into_another_lab_is_named_for_what_it_is() -> Result<()> {
    let lab = LabDir::new()?;
    lab.start("expired-cert")?;
    lab.solve("expired-cert")?;
    // hostname-mismatch's fault in the (repaired) expired-cert lab.
    lab.edit(
        "prometheus.yml",
        "    ca_file: pki/ca.crt\n",
        "    ca_file: pki/ca.crt\n    server_name: exporter.example.com\n",
    )?;
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("— hostname_mismatch") && ran.stdout.contains("exporter.example.com"),
        "{ran}"
    );
    ensure!(
        !ran.stdout.contains("cert_expired") && !ran.stdout.contains("is expired"),
        "named the lab's own fault:{ran}"
    );
    // config-refused's fault: static_configs indented under tls_config.
    lab.edit(
        "prometheus.yml",
        "  static_configs:\n  - targets:\n    - ",
        "    static_configs:\n    - targets:\n      - ",
    )?;
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("— config_refused") && ran.stdout.contains("static_configs"),
        "{ran}"
    );
    lab.stop()
}

#[test]
fn a_bcrypt_hash_in_the_proxy_labs_password_file_is_named() -> Result<()> {
    let lab = LabDir::new()?;
    lab.start("reverse-proxy")?;
    lab.solve("reverse-proxy")?;
    // basic-auth-401's fault behind nginx: the htpasswd hash pasted as the password.
    let htpasswd = std::fs::read_to_string(lab.dir().join("htpasswd"))?;
    let hash = htpasswd.trim().trim_start_matches("prom:");
    std::fs::write(lab.dir().join("password.txt"), hash)?;
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("— unauthorized")
            && ran.stdout.contains("bcrypt hash")
            && ran.stdout.contains("htpasswd"),
        "{ran}"
    );
    // An nginx.conf nginx refuses is explained with `nginx -t`'s words; nginx keeps running.
    let conf = std::fs::read_to_string(lab.dir().join("nginx.conf"))?;
    std::fs::write(lab.dir().join("nginx.conf"), format!("{conf}bad {{\n"))?;
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("— nginx_config_refused")
            && ran.stdout.contains("unknown directive \"bad\""),
        "{ran}"
    );
    lab.stop()
}

/// Labs run Prometheus as a detached process (never a container), so what is left to
/// check after `lab stop` is processes and listening ports.
#[test]
fn lab_up_starts_every_lab_within_15_s_and_stop_leaves_nothing() -> Result<()> {
    let _heavy = heavy(); // every lab at once (see above)
    let lab = LabDir::new()?;
    let begun = Instant::now();
    let ran = lab.lab(&["up", "--dir", lab.dir_arg()])?;
    let took = begun.elapsed();
    ensure!(ran.code() == Some(0), "lab up failed:{ran}");
    ensure!(took < Duration::from_secs(15), "lab up took {took:?}:{ran}");
    let mut ports = Vec::new();
    for line in ran.stdout.lines().filter(|l| l.contains("/targets")) {
        let sub = PathBuf::from(line.split_whitespace().last().context("folder")?);
        ports.extend(ports_of(&sub)?);
    }
    // 13 Prometheus, 10 exporters (a build-it lab's starts at its first `check` with the
    // learner's web-config.yml), 2 nginx.
    ensure!(
        ports.len() >= 25,
        "13 labs run at least 25 processes, found ports {ports:?}:{ran}"
    );
    let mut distinct = ports.clone();
    distinct.sort_unstable();
    distinct.dedup();
    ensure!(
        distinct.len() == ports.len(),
        "ports reused across labs: {ports:?}"
    );
    ensure!(
        ports.iter().all(|p| listening(*p)),
        "not every port listens: {ports:?}"
    );
    // A second `up` on the same folder is refused and starts nothing: still one
    // Prometheus per lab.
    let again = lab.lab(&["up", "--dir", lab.dir_arg()])?;
    ensure!(
        again.code() == Some(2) && again.stderr.contains("already running"),
        "a second lab up:{again}"
    );
    let prometheus = |p: &String| {
        p.split_whitespace()
            .nth(1)
            .is_some_and(|c| c.ends_with("/prometheus"))
    };
    let running = processes_naming(lab.dir());
    ensure!(
        running.iter().filter(|p| prometheus(p)).count() == 13,
        "one Prometheus per lab after a second lab up: {running:#?}"
    );
    let stopped = lab.lab(&["stop", "--dir", lab.dir_arg()])?;
    ensure!(
        stopped.code() == Some(0) && stopped.stdout.lines().count() == 13,
        "lab stop:{stopped}"
    );
    let left = processes_naming(lab.dir());
    ensure!(left.is_empty(), "processes left: {left:?}");
    let open: Vec<u16> = ports.into_iter().filter(|p| listening(*p)).collect();
    ensure!(
        open.is_empty(),
        "ports still listening after lab stop: {open:?}"
    );
    eprintln!("lab up: {took:?}");
    Ok(())
}

#[test]
fn a_start_killed_half_way_is_swept_by_the_next_lab_command() -> Result<()> {
    let lab = LabDir::new()?;
    std::fs::create_dir_all(lab.dir().join(".lab"))?;
    std::fs::write(lab.dir().join("web-config.yml"), "{}\n")?;
    // An exporter as `start` spawns it, in its own process group...
    let exporter = Command::new(fake_exporter_bin())
        .arg("--web.listen-address=127.0.0.1:0")
        .arg(format!(
            "--web.config.file={}/web-config.yml",
            lab.dir().display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = exporter.id();
    // ...recorded by a start that then died (SIGKILL): phase `starting`, owner dead.
    let dead = Command::new("true").spawn()?;
    let dead_pid = dead.id();
    finish(dead, "true", Duration::from_secs(10))?;
    let state = serde_json::json!({
        "lab": "basic-auth-401", "dir": lab.dir(), "phase": "starting", "owner_pid": dead_pid,
        "ports": {"prometheus": 1, "exporter": 2, "proxy": null},
        "procs": [{"role": "exporter", "pid": pid, "port": 2}],
    });
    std::fs::write(lab.dir().join(".lab/state.json"), state.to_string())?;
    let registry = lab.harness.tmp().join("scrape-harness-labs");
    std::fs::create_dir_all(&registry)?;
    std::fs::write(registry.join("entry"), lab.dir_arg())?;
    let ran = lab.lab(&["list"])?;
    ensure!(ran.stderr.contains("half-started"), "{ran}");
    let mut exporter = exporter;
    poll(Duration::from_secs(10), "the exporter to be killed", || {
        Ok(exporter.try_wait()?.map(drop))
    })?;
    ensure!(
        !lab.dir().join(".lab/state.json").exists(),
        "state left behind"
    );
    Ok(())
}

/// Spawns `lab up` in `lab` and returns once the first lab has recorded a process (the
/// others still starting).
fn lab_up_until_first_process(lab: &LabDir) -> Result<(std::process::Child, u32)> {
    let fake = fake_exporter_bin();
    let child = lab.harness.spawn(&[
        "lab",
        "up",
        "--dir",
        lab.dir_arg(),
        "--fake-exporter",
        fake.to_str().context("utf-8 path")?,
    ])?;
    let pid = child.id();
    poll(
        Duration::from_secs(30),
        "a lab to record its first process",
        || {
            let recorded = std::fs::read_dir(lab.dir())
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| {
                    std::fs::read_to_string(e.path().join(".lab/state.json"))
                        .is_ok_and(|s| s.contains("\"pid\""))
                });
            Ok(recorded.then_some(()))
        },
    )?;
    Ok((child, pid))
}

#[test]
fn ctrl_c_during_lab_up_leaves_nothing_running() -> Result<()> {
    let _heavy = heavy(); // every lab at once (see above)
    let lab = LabDir::new()?;
    // SIGINT as soon as the first lab has recorded a process, while the others start.
    let (child, pid) = lab_up_until_first_process(&lab)?;
    crate::support::signal(pid, "INT")?;
    let ran = finish(child, "scrape-harness lab up (interrupted)", LIMIT)?;
    ensure!(
        ran.code() == Some(130),
        "lab up was not interrupted (exit 130 expected):{ran}"
    );
    let left = processes_naming(lab.dir());
    ensure!(
        left.is_empty(),
        "processes left after Ctrl-C: {left:?}{ran}"
    );
    Ok(())
}

#[test]
fn sigkill_during_lab_up_is_swept_by_the_next_lab_command() -> Result<()> {
    let _heavy = heavy(); // every lab at once (see above)
    let lab = LabDir::new()?;
    let (child, pid) = lab_up_until_first_process(&lab)?;
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    ensure!(status.success(), "kill -KILL {pid} failed");
    let killed = finish(child, "scrape-harness lab up (SIGKILL)", LIMIT)?;
    ensure!(
        killed.code().is_none(),
        "lab up finished before SIGKILL:{killed}"
    );
    // No handler ran: the labs it started are still there, until any `lab` command sweeps.
    let ran = lab.lab(&["list"])?;
    ensure!(ran.stderr.contains("half-started"), "nothing swept:{ran}");
    let left = processes_naming(lab.dir());
    ensure!(
        left.is_empty(),
        "processes left after the sweep: {left:?}{ran}"
    );
    Ok(())
}

#[test]
fn the_html_report_and_the_class_table_render_in_headless_chromium() -> Result<()> {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .context(
            "headless Chromium is missing: run `bash scripts/setup` (installs Debian's `chromium`)",
        )?;
    let lab = LabDir::new()?;
    lab.start("basic-auth-401")?;
    // Graded hints, one more per call, progress kept in the folder (each call is a new process).
    for want in ["hint 1/3", "hint 2/3", "hint 3/3", "hint 3/3"] {
        let ran = lab.lab(&["hint", "--dir", lab.dir_arg()])?;
        ensure!(
            ran.code() == Some(0) && ran.stdout.starts_with(want),
            "expected `{want}`:{ran}"
        );
    }
    let page = lab.harness.tmp().join("report.html");
    let page_arg = page.to_str().context("utf-8")?;
    let ran = lab.lab(&["check", "--dir", lab.dir_arg(), "--html", page_arg])?;
    ensure!(ran.code() == Some(1), "{ran}");
    let dom = dump_dom(chromium, &page, lab.harness.tmp())?;
    for want in [
        "data-rendered=\"js\"",
        "0 of 1 target(s) up",
        "data-verdict=\"not-solved\"",
        "class=\"target fail\"",
        "401 Unauthorized",
        "data-kind=\"unauthorized\"",
    ] {
        ensure!(dom.contains(want), "rendered DOM lacks `{want}`:\n{dom}");
    }
    lab.solve("basic-auth-401")?;
    let ran = lab.lab(&["check", "--dir", lab.dir_arg(), "--html", page_arg])?;
    ensure!(ran.code() == Some(0), "{ran}");
    let dom = dump_dom(chromium, &page, lab.harness.tmp())?;
    for want in [
        "1 of 1 target(s) up",
        "data-verdict=\"solved\"",
        "class=\"target pass\"",
        "<li class=\"fixed\">unauthorized:",
        "data-checks=\"2\" data-hints=\"3\"",
    ] {
        ensure!(dom.contains(want), "rendered DOM lacks `{want}`:\n{dom}");
    }

    // A weakening tried after solving (the exporter's users removed, the job still sends
    // its password), and a second lab never checked: the teacher's class table.
    std::fs::write(lab.dir().join("web-config.yml"), "{}\n")?; // it held the users only
    let ran = lab.check(false)?;
    ensure!(ran.stdout.contains("— weakened"), "{ran}");
    let other = LabDir::new()?;
    other.start("hostname-mismatch")?;
    let (json, class) = (
        lab.harness.tmp().join("class.json"),
        lab.harness.tmp().join("class.html"),
    );
    let report = lab.lab(&[
        "report",
        lab.dir_arg(),
        other.dir_arg(),
        "--json",
        json.to_str().context("utf-8")?,
        "--html",
        class.to_str().context("utf-8")?,
    ])?;
    ensure!(report.code() == Some(0), "{report}");
    let rows: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let first = &rows[0];
    ensure!(
        first["lab"] == "basic-auth-401"
            && first["checks"] == 3
            && first["hints"] == 3
            && first["weakened_checks"] == 1
            && first["solved"] == false
            && first["first_solved_at"].is_u64()
            && first["started_at"].as_u64().is_some_and(|t| t > 0)
            && rows[1]["lab"] == "hostname-mismatch"
            && rows[1]["checks"] == 0,
        "{rows:#}"
    );
    let dom = dump_dom(chromium, &class, lab.harness.tmp())?;
    for want in [
        "data-rendered=\"js\"",
        "0 of 2 lab(s) solved",
        "<tr class=\"lab\" data-state=\"weakened\">",
        "<tr class=\"lab\" data-state=\"not-checked\">",
        "<li class=\"weakening\">credentials demanded by the server and sent by Prometheus</li>",
        " UTC</td>",
    ] {
        ensure!(
            dom.contains(want),
            "rendered class table lacks `{want}`:\n{dom}"
        );
    }
    other.stop()?;
    lab.stop()
}

/// `chromium --headless --dump-dom file://PAGE`, killed after 120 s (a cold first start is slow).
pub(crate) fn dump_dom(chromium: &str, page: &Path, tmp: &Path) -> Result<String> {
    let profile = tmp.join("chromium-profile");
    let child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .env("HOME", tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting chromium: run `bash scripts/setup`")?;
    let ran = finish(
        child,
        "chromium --headless --dump-dom",
        Duration::from_secs(120),
    )?;
    ensure!(
        ran.code() == Some(0) && ran.stdout.contains("</html>"),
        "chromium failed:{ran}"
    );
    Ok(ran.stdout)
}

/// Every text file under `dir` (hidden ones too), by path.
fn every_text_file(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            every_text_file(&path, out);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            out.push((path, text));
        }
    }
}

#[test]
fn a_learners_folder_holds_no_solution_and_only_the_teachers_key_unlocks_it() -> Result<()> {
    let lab = LabDir::new()?;
    lab.start("untrusted-ca")?;
    let dir = lab.dir_arg().to_owned();

    // Without the key, with another key: refused, saying what a teacher does.
    let refused = lab.lab(&["solution", "untrusted-ca", "--dir", &dir])?;
    ensure!(
        refused.code() == Some(2)
            && refused
                .stderr
                .contains("the reference solution is for teachers")
            && refused.stderr.contains("--teacher-key FILE"),
        "{refused}"
    );
    let other = lab.harness.tmp().join("learner.key");
    let other_arg = other.to_str().context("utf-8 path")?;
    let made = lab.lab(&["teacher-key", "--out", other_arg])?;
    ensure!(made.code() == Some(0), "{made}");
    let wrong = lab.lab(&[
        "solution",
        "untrusted-ca",
        "--apply",
        "--dir",
        &dir,
        "--teacher-key",
        other_arg,
    ])?;
    ensure!(
        wrong.code() == Some(2) && wrong.stderr.contains("is not the key the lab"),
        "{wrong}"
    );

    // With the teacher's key: the solution; and no file of the learner's folder holds it.
    let shown = lab.lab(&[
        "solution",
        "untrusted-ca",
        "--dir",
        &dir,
        "--teacher-key",
        lab.key_arg(),
    ])?;
    ensure!(
        shown.code() == Some(0) && shown.stdout.contains("ca_file: pki/ca.crt"),
        "{shown}"
    );
    let mut files = Vec::new();
    every_text_file(lab.dir(), &mut files);
    ensure!(files.len() > 5, "the lab's files: {files:?}");
    let key = std::fs::read_to_string(&lab.key)?;
    for (path, text) in &files {
        ensure!(
            !text.contains(shown.stdout.trim()) && !text.contains(key.trim()),
            "{} holds the solution or the key",
            path.display()
        );
    }
    lab.stop()
}
