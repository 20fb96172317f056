//! Labs cannot be fooled: in every lab, set-ups that make the target green by giving up
//! what the lab protects are "not solved: you weakened ...", judged from what Prometheus
//! loaded, where it really scraped and how the servers answered a probing client, against
//! a real Prometheus, fake-exporter and nginx. And a target flipped back and forth gets a
//! right verdict every time (no verdict on the previous target).

use std::path::Path;
use std::time::Instant;

use anyhow::{ensure, Context, Result};

use crate::lab::LabDir;
use crate::support::heavy;

/// One way to make a lab's target green while weakening what it protects.
struct Weakening {
    /// What the learner does, in words.
    what: &'static str,
    /// The edits: `(file, from, to)`; `{exporter}`, `{proxy}`, `{target}` (the port the
    /// lab scrapes), `{prometheus}` and `{token}` are the lab's ports and current token; `to` = [`DELETE_BLOCK`] removes the
    /// top-level YAML block whose first line is `from`.
    edits: &'static [(&'static str, &'static str, &'static str)],
    /// What `check`'s output must quote as evidence.
    evidence: &'static str,
}

/// Removes a whole top-level block of a YAML file (exporter-toolkit refuses unknown keys,
/// so a block cannot be renamed away).
const DELETE_BLOCK: &str = "<delete block>";

const SKIP_YES: Weakening = Weakening {
    what: "insecure_skip_verify: yes",
    edits: &[(
        "prometheus.yml",
        "  tls_config:\n",
        "  tls_config:\n    insecure_skip_verify: yes\n",
    )],
    evidence: "insecure_skip_verify: true (/api/v1/status/config)",
};

const SKIP_ON: Weakening = Weakening {
    what: "insecure_skip_verify: on",
    edits: &[(
        "prometheus.yml",
        "  tls_config:\n",
        "  tls_config:\n    insecure_skip_verify: on\n",
    )],
    evidence: "insecure_skip_verify: true (/api/v1/status/config)",
};

/// Green by scraping something else that answers plain HTTP: Prometheus' own `/metrics`.
/// (TLS cannot be switched off in the exporter: like exporter-toolkit's, its listener
/// keeps the mode it started with.)
const PLAIN_ELSEWHERE: Weakening = Weakening {
    what: "the target moved to a plain-HTTP server (Prometheus' own port)",
    edits: &[
        ("prometheus.yml", "  scheme: https\n", ""),
        (
            "prometheus.yml",
            "    - 127.0.0.1:{target}\n",
            "    - 127.0.0.1:{prometheus}\n",
        ),
    ],
    evidence: "(plain HTTP)",
};

/// TLS off on both sides, in a build-it lab (whose `check` restarts the exporter with the
/// edited web-config.yml, as a learner restarts node_exporter).
const TLS_OFF: Weakening = Weakening {
    what: "TLS removed from the exporter's web-config.yml and from the job",
    edits: &[
        ("web-config.yml", "tls_server_config:", DELETE_BLOCK),
        ("prometheus.yml", "  scheme: https\n", ""),
        (
            "prometheus.yml",
            "  tls_config:\n    ca_file: exporter.crt\n",
            "",
        ),
    ],
    evidence: "(plain HTTP)",
};

/// Basic auth off on both sides.
const BASIC_OFF: Weakening = Weakening {
    what: "Basic auth removed from the exporter and the job",
    edits: &[
        ("web-config.yml", "basic_auth_users:", DELETE_BLOCK),
        (
            "prometheus.yml",
            "  basic_auth:\n    username: prom\n    password_file: password.txt\n",
            "",
        ),
    ],
    evidence: "was served",
};

fn weakenings(lab: &str) -> Vec<Weakening> {
    match lab {
        "classic-tls-basic" => vec![SKIP_YES, SKIP_ON, BASIC_OFF, PLAIN_ELSEWHERE],
        "basic-auth-401" => vec![
            BASIC_OFF,
            Weakening {
                what: "the exporter's users removed, the job still sends its password",
                edits: &[("web-config.yml", "basic_auth_users:", DELETE_BLOCK)],
                evidence: "was served",
            },
        ],
        "untrusted-ca" | "config-refused" => vec![SKIP_YES, PLAIN_ELSEWHERE],
        "hostname-mismatch" => vec![
            Weakening {
                what: "a wrong server_name with verification off",
                edits: &[(
                    "prometheus.yml",
                    "  tls_config:\n",
                    "  tls_config:\n    server_name: exporter.example.com\n    insecure_skip_verify: true\n",
                )],
                evidence: "insecure_skip_verify: true (/api/v1/status/config)",
            },
            PLAIN_ELSEWHERE,
        ],
        "expired-cert" => vec![SKIP_YES, PLAIN_ELSEWHERE],
        "mtls-client-cert" => vec![
            Weakening {
                what: "client_auth_type: RequestClientCert (asked for, not required)",
                edits: &[(
                    "web-config.yml",
                    "client_auth_type: RequireAndVerifyClientCert",
                    "client_auth_type: RequestClientCert",
                )],
                evidence: "a client without a certificate was served",
            },
            Weakening {
                what: "client_auth_type: RequireAnyClientCert (required, not verified)",
                edits: &[(
                    "web-config.yml",
                    "client_auth_type: RequireAndVerifyClientCert",
                    "client_auth_type: RequireAnyClientCert",
                )],
                evidence: "a client certificate from an unknown CA was accepted",
            },
            Weakening {
                what: "VerifyClientCertIfGiven and no client certificate in the job",
                edits: &[
                    (
                        "web-config.yml",
                        "client_auth_type: RequireAndVerifyClientCert",
                        "client_auth_type: VerifyClientCertIfGiven",
                    ),
                    (
                        "prometheus.yml",
                        "    cert_file: pki/client.crt\n    key_file: pki/client.key\n",
                        "",
                    ),
                ],
                evidence: "a client without a certificate was served",
            },
            SKIP_YES,
        ],
        "bearer-rotation" => vec![
            Weakening {
                what: "today's token written into prometheus.yml",
                edits: &[(
                    "prometheus.yml",
                    "    credentials_file: exporter-token\n",
                    "    credentials: {token}\n",
                )],
                evidence: "after `check` wrote a new token into exporter-token, the target went down",
            },
            Weakening {
                what: "Bearer auth removed from the exporter and the job",
                edits: &[
                    ("web-config.yml", "fake_exporter:", DELETE_BLOCK),
                    (
                        "prometheus.yml",
                        "  authorization:\n    type: Bearer\n    credentials_file: exporter-token\n",
                        "",
                    ),
                ],
                evidence: "was served",
            },
        ],
        "reverse-proxy" => vec![
            Weakening {
                what: "relabel_configs that send the scrape to the exporter's own port",
                edits: &[(
                    "prometheus.yml",
                    "  scheme: https\n",
                    "  scheme: http\n  relabel_configs:\n  - target_label: __address__\n    replacement: 127.0.0.1:{exporter}\n",
                )],
                evidence: "not nginx' port",
            },
            Weakening {
                what: "the exporter's port as the target, over plain HTTP",
                edits: &[
                    ("prometheus.yml", "  scheme: https\n", "  scheme: http\n"),
                    ("prometheus.yml", "    - 127.0.0.1:{proxy}\n", "    - 127.0.0.1:{exporter}\n"),
                ],
                evidence: "not nginx' port",
            },
            Weakening {
                what: "nginx' Basic auth off, the job still sends its password",
                edits: &[("nginx.conf", "auth_basic metrics;", "auth_basic off;")],
                evidence: "was served",
            },
            SKIP_YES,
        ],
        "keepalive" => vec![
            Weakening {
                what: "the exporter's port as the target, around nginx",
                edits: &[
                    ("prometheus.yml", "  scheme: https\n", "  scheme: http\n"),
                    ("prometheus.yml", "    - 127.0.0.1:{proxy}\n", "    - 127.0.0.1:{exporter}\n"),
                ],
                evidence: "not nginx' port",
            },
            SKIP_ON,
        ],
        // Build-it labs: `check` restarts the exporter with the edited web-config.yml.
        "build-tls" => vec![SKIP_YES, TLS_OFF],
        "build-tls-basic" => vec![BASIC_OFF, SKIP_ON],
        "build-mtls" => vec![
            Weakening {
                what: "client_auth_type: RequireAnyClientCert (required, not verified)",
                edits: &[(
                    "web-config.yml",
                    "client_auth_type: RequireAndVerifyClientCert",
                    "client_auth_type: RequireAnyClientCert",
                )],
                evidence: "a client certificate from an unknown CA was accepted",
            },
            Weakening {
                what: "client_auth_type: RequestClientCert (asked for, not required)",
                edits: &[(
                    "web-config.yml",
                    "client_auth_type: RequireAndVerifyClientCert",
                    "client_auth_type: RequestClientCert",
                )],
                evidence: "a client without a certificate was served",
            },
        ],
        other => panic!("no weakenings for lab {other}"),
    }
}

/// The labs, in the catalog's order.
const LABS: [&str; 13] = [
    "classic-tls-basic",
    "basic-auth-401",
    "untrusted-ca",
    "hostname-mismatch",
    "expired-cert",
    "mtls-client-cert",
    "bearer-rotation",
    "reverse-proxy",
    "config-refused",
    "keepalive",
    "build-tls",
    "build-tls-basic",
    "build-mtls",
];

/// The lab's ports from its state file: `[exporter, proxy, prometheus]` (proxy 0 when
/// there is none).
fn ports(dir: &Path) -> Result<[u64; 3]> {
    let text = std::fs::read_to_string(dir.join(".lab/state.json"))?;
    let state: serde_json::Value = serde_json::from_str(&text)?;
    let port = |name: &str| state["ports"][name].as_u64().unwrap_or(0);
    Ok([port("exporter"), port("proxy"), port("prometheus")])
}

/// Removes the top-level block starting with the line `first` (up to the next line that
/// is neither indented nor a comment); `{}` when nothing else is left.
fn delete_block(path: &Path, first: &str) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    let mut inside = false;
    let mut found = false;
    for line in text.lines() {
        if line == first {
            inside = true;
            found = true;
            continue;
        }
        if inside && (line.starts_with(' ') || line.starts_with('-')) {
            continue;
        }
        inside = false;
        out.push(line);
    }
    ensure!(found, "{} has no line `{first}`:\n{text}", path.display());
    let mut kept = out.join("\n");
    if !out
        .iter()
        .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        kept.push_str("\n{}");
    }
    std::fs::write(path, kept + "\n")?;
    Ok(())
}

/// The files a weakening may touch, to put back afterwards.
const FILES: [&str; 4] = [
    "prometheus.yml",
    "web-config.yml",
    "nginx.conf",
    "exporter-token",
];

/// Solves `name` with its reference solution, then tries each of its weakenings (each
/// undone before the next): the target is up, `check` says not solved and names the
/// weakening with its evidence.
fn weakenings_refused(name: &str) -> Result<usize> {
    let lab = LabDir::new()?;
    lab.start(name)?;
    lab.solve(name)?;
    let dir = lab.dir().to_owned();
    let [exporter, proxy, prometheus] = ports(&dir)?;
    let target = if proxy == 0 { exporter } else { proxy };
    let saved: Vec<(String, Option<String>)> = FILES
        .iter()
        .map(|f| (f.to_string(), std::fs::read_to_string(dir.join(f)).ok()))
        .collect();
    let tried = weakenings(name);
    for w in &tried {
        let token = std::fs::read_to_string(dir.join("exporter-token")).unwrap_or_default();
        for (file, from, to) in w.edits {
            let fill = |s: &str| {
                s.replace("{exporter}", &exporter.to_string())
                    .replace("{proxy}", &proxy.to_string())
                    .replace("{target}", &target.to_string())
                    .replace("{prometheus}", &prometheus.to_string())
                    .replace("{token}", token.trim())
            };
            if *to == DELETE_BLOCK {
                delete_block(&dir.join(file), from)?;
            } else {
                lab.edit(file, &fill(from), &fill(to))?;
            }
        }
        let ran = lab
            .check(false)
            .with_context(|| format!("{name}: {}", w.what))?;
        ensure!(
            ran.stdout.contains(": up (")
                && ran.stdout.contains("— weakened")
                && ran.stdout.contains(w.evidence)
                && !ran.stdout.contains("✓ fixed since an earlier check:"),
            "{name}: {}: expected the target up and `weakened` with `{}`:{ran}\n{}",
            w.what,
            w.evidence,
            lab.files()
        );
        for (file, text) in &saved {
            if let Some(text) = text {
                std::fs::write(dir.join(file), text)?;
            }
        }
    }
    lab.stop()?;
    Ok(tried.len())
}

#[test]
fn every_lab_refuses_at_least_two_weakenings_of_what_it_protects() -> Result<()> {
    let _heavy = heavy();
    let begun = Instant::now();
    let mut failures = Vec::new();
    let mut refused = 0;
    // Four labs at a time: thirteen Prometheus servers, nginx and probes at once on two
    // cores is more than this test is about.
    for batch in LABS.chunks(4) {
        let runs: Vec<_> = batch
            .iter()
            .map(|&name| (name, std::thread::spawn(move || weakenings_refused(name))))
            .collect();
        for (name, run) in runs {
            match run.join() {
                Ok(Ok(n)) if n >= 2 => refused += n,
                Ok(Ok(n)) => failures.push(format!("=== lab {name}: only {n} weakening(s) tried")),
                Ok(Err(err)) => failures.push(format!("=== lab {name}: {err:#}")),
                Err(_) => failures.push(format!("=== lab {name}: panicked")),
            }
        }
    }
    ensure!(
        failures.is_empty(),
        "{} lab(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // docs/teaching-labs.md cites this count.
    assert_eq!(refused, 32, "weakenings refused");
    eprintln!("{refused} weakenings refused in {:?}", begun.elapsed());
    Ok(())
}

#[test]
fn a_target_flipped_back_and_forth_ten_times_gets_ten_right_verdicts() -> Result<()> {
    let _heavy = heavy();
    let lab = LabDir::new()?;
    lab.start("reverse-proxy")?;
    lab.solve("reverse-proxy")?;
    // https (solved) and http to nginx' TLS port (400: not solved), alternately.
    for flip in 0..10 {
        let solved = flip % 2 == 0;
        let ran = lab.check(solved).with_context(|| format!("flip {flip}"))?;
        let want = if solved {
            ": up (none)"
        } else {
            "— http_to_https"
        };
        ensure!(
            ran.stdout.contains(want),
            "flip {flip}: expected `{want}`:{ran}"
        );
        let (from, to) = if solved {
            ("  scheme: https\n", "  scheme: http\n")
        } else {
            ("  scheme: http\n", "  scheme: https\n")
        };
        lab.edit("prometheus.yml", from, to)?;
    }
    lab.stop()
}
