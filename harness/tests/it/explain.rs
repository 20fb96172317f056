//! `scrape-harness explain` against a real Prometheus scraping fake exporters set up as in
//! the default matrix: every down target gets its class and at least one key, every risky
//! up one its risk kind, asserted through `--json` of the binary.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use fake_exporter::pki::{KeyType, Pki, ServerCert};
use fake_exporter::{ClientAuthType, FakeExporter, FaultSpec, RunningExporter};
use scrape_harness::{BackendKind, BasicAuth, PrometheusFixture, Scheme, ScrapeConfig, TlsConfig};

use crate::support::{heavy, Harness};

fn https_job(name: &str, target: &str, tls: TlsConfig) -> ScrapeConfig {
    let mut job = ScrapeConfig::new(name, [target]);
    job.scheme = Some(Scheme::Https);
    job.tls_config = Some(tls);
    job
}

fn basic_job(
    name: &str,
    target: &str,
    password: Option<&str>,
    file: Option<PathBuf>,
) -> ScrapeConfig {
    let mut job = ScrapeConfig::new(name, [target]);
    job.basic_auth = Some(BasicAuth {
        username: "prom".into(),
        password: password.map(str::to_owned),
        password_file: file,
    });
    job
}

/// The seed tutorial's certificate: self-signed, `DNS:localhost` only, made by openssl.
fn dns_only_cert(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let (crt, key) = (dir.join("exporter.crt"), dir.join("exporter.key"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "365", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .context("running openssl")?;
    anyhow::ensure!(status.success(), "openssl req failed: {status}");
    Ok((crt, key))
}

struct Exporters {
    plain: RunningExporter,
    tls: RunningExporter,
    mtls: RunningExporter,
    basic: RunningExporter,
    dns_only: RunningExporter,
    closing: RunningExporter,
}

async fn exporters(pki: &Pki, dir: &Path) -> Result<Exporters> {
    let (crt, key) = dns_only_cert(dir)?;
    let web = dir.join("web-config.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            crt.display(),
            key.display()
        ),
    )?;
    Ok(Exporters {
        plain: FakeExporter::builder().start().await?,
        tls: FakeExporter::builder()
            .tls(pki.server(ServerCert::Valid))
            .start()
            .await?,
        mtls: FakeExporter::builder()
            .tls(pki.server(ServerCert::Valid))
            .client_auth(ClientAuthType::RequireAnyClientCert)
            .start()
            .await?,
        basic: FakeExporter::builder()
            .basic_auth("prom", "right")
            .bcrypt_cost(4)
            .start()
            .await?,
        dns_only: FakeExporter::builder()
            .web_config_file(&web)
            .start()
            .await?,
        closing: FakeExporter::builder()
            .faults(FaultSpec {
                close_after_response: true,
                ..FaultSpec::default()
            })
            .start()
            .await?,
    })
}

fn target<'a>(json: &'a serde_json::Value, job: &str) -> &'a serde_json::Value {
    json["targets"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["job"] == job))
        .unwrap_or_else(|| panic!("no target of job {job} in {json:#}"))
}

fn risk_kinds(t: &serde_json::Value) -> Vec<String> {
    t["risks"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r["kind"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn explain_names_class_and_key_of_each_red_target_and_the_risks_of_green_ones() -> Result<()> {
    let _lock = heavy();
    tokio::runtime::Runtime::new()?.block_on(async {
        // Arrange: exporters as in the default matrix, and a Prometheus scraping them.
        let dir = tempfile::tempdir()?;
        let pki = Pki::generate(KeyType::EcdsaP256)?;
        let files = pki.write_to(&dir.path().join("pki"))?;
        let ex = exporters(&pki, dir.path()).await?;
        let addr = |e: &RunningExporter| e.addr().to_string();
        let (wrong, right) = (dir.path().join("wrong"), dir.path().join("right"));
        std::fs::write(&wrong, "nope\n")?;
        std::fs::write(&right, "right\n")?;
        let ca = |ca: PathBuf| TlsConfig {
            ca_file: Some(ca),
            ..TlsConfig::default()
        };
        let prom = PrometheusFixture::builder()
            .backend(BackendKind::Process)
            .scrape_interval(Duration::from_millis(500))
            .job(ScrapeConfig::new("plain-ok", [addr(&ex.plain).as_str()]))
            .job(https_job("wrong-ca", &addr(&ex.tls), ca(files.rogue_ca())))
            .job(https_job(
                "dns-only-by-ip",
                &addr(&ex.dns_only),
                ca(dir.path().join("exporter.crt")),
            ))
            .job(basic_job(
                "wrong-password",
                &addr(&ex.basic),
                None,
                Some(wrong),
            ))
            .job(https_job("no-client-cert", &addr(&ex.mtls), ca(files.ca())))
            .job(https_job(
                "skip-verify",
                &addr(&ex.tls),
                TlsConfig {
                    insecure_skip_verify: Some(true),
                    ..TlsConfig::default()
                },
            ))
            .job(basic_job(
                "basic-over-http",
                &addr(&ex.basic),
                None,
                Some(right),
            ))
            .job(basic_job(
                "inline-password",
                &addr(&ex.basic),
                Some("right"),
                None,
            ))
            .job(ScrapeConfig::new(
                "closes-connections",
                [addr(&ex.closing).as_str()],
            ))
            .job(https_job(
                "missing-ca-file",
                &addr(&ex.tls),
                ca(PathBuf::from("/nonexistent/scrape-harness/ca.crt")),
            ))
            .start()
            .await?;
        prom.wait_scraped(2, Duration::from_secs(60)).await?;
        let harness = Harness::new()?;
        let json_path = harness.tmp().join("explain.json");
        let json_arg = json_path.display().to_string();
        let (junit_path, html_path) = (
            harness.tmp().join("explain.xml"),
            harness.tmp().join("explain.html"),
        );
        let (junit_arg, html_arg) = (
            junit_path.display().to_string(),
            html_path.display().to_string(),
        );

        // Act
        let ran = tokio::task::block_in_place(|| {
            harness.run(
                &[
                    "explain",
                    "--prometheus",
                    prom.base_url(),
                    "--keepalive-window",
                    "10s",
                    "--expiry-warning",
                    "36500d",
                    "--json",
                    &json_arg,
                    "--junit",
                    &junit_arg,
                    "--html",
                    &html_arg,
                ],
                Duration::from_secs(120),
            )
        })?;
        let unreachable = tokio::task::block_in_place(|| {
            harness.run(
                &["explain", "--prometheus", "http://127.0.0.1:1"],
                Duration::from_secs(60),
            )
        })?;

        // Assert
        assert_eq!(ran.code(), Some(1), "targets are down: exit 1{ran}");
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path)?)?;
        for (job, class, key) in [
            ("wrong-ca", "unknown_authority", "tls_config.ca_file"),
            ("dns-only-by-ip", "no_ip_sans", "tls_config.server_name"),
            ("wrong-password", "unauthorized", "basic_auth.password_file"),
            (
                "no-client-cert",
                "client_cert_required",
                "tls_config.cert_file",
            ),
        ] {
            let t = target(&json, job);
            assert_eq!(
                (t["health"].as_str(), t["class"].as_str()),
                (Some("down"), Some(class)),
                "{t:#}{ran}"
            );
            let keys: Vec<&str> = t["keys"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|k| k.as_str())
                .collect();
            assert!(keys.contains(&key), "{job}: {key} not in {keys:?}");
            assert!(!t["cause"].as_str().unwrap_or_default().is_empty(), "{t:#}");
            assert!(
                !t["evidence"].as_str().unwrap_or_default().is_empty(),
                "{t:#}"
            );
            assert!(!t["check"].as_str().unwrap_or_default().is_empty(), "{t:#}");
        }
        for (job, kind) in [
            ("skip-verify", "insecure_skip_verify"),
            ("basic-over-http", "credentials_in_clear"),
            ("inline-password", "inline_secret"),
            ("closes-connections", "no_keep_alive"),
            // Every certificate expires within a hundred years: the handshake read it.
            ("skip-verify", "cert_expiring"),
        ] {
            let t = target(&json, job);
            assert_eq!(t["health"], "up", "{t:#}");
            assert!(
                risk_kinds(t).contains(&kind.to_owned()),
                "{job}: no {kind} in {t:#}"
            );
        }
        // rustls refuses TLS 1.0 and 1.1: openssl offering them alone finds no legacy_tls.
        assert!(!risk_kinds(target(&json, "skip-verify")).contains(&"legacy_tls".to_owned()));
        // Prometheus dropped the job (its CA file does not exist): a row of its own.
        let missing = target(&json, "missing-ca-file");
        assert_eq!(
            (missing["health"].as_str(), missing["class"].as_str()),
            (Some("missing"), Some("job_missing")),
            "{missing:#}"
        );
        assert!(
            missing["keys"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "tls_config.ca_file")),
            "{missing:#}"
        );
        let ok = target(&json, "plain-ok");
        assert_eq!(
            (ok["health"].as_str(), risk_kinds(ok).len()),
            (Some("up"), 0),
            "{ok:#}"
        );
        for line in ran
            .stdout
            .lines()
            .filter(|l| !l.trim_start().starts_with("check:"))
        {
            assert!(
                line.chars().count() <= 120,
                "wider than 120 columns: {line}"
            );
        }
        let junit = std::fs::read_to_string(&junit_path)?;
        assert!(junit.contains("tests=\"10\" failures=\"5\""), "{junit}");
        // The page as a browser renders it: grouped by class and by risk.
        let chromium = ["chromium", "chromium-browser"]
            .into_iter()
            .find(|c| {
                std::process::Command::new(c)
                    .arg("--version")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .context("headless Chromium is missing: run `bash scripts/setup`")?;
        let dom = tokio::task::block_in_place(|| {
            crate::lab::dump_dom(chromium, &html_path, harness.tmp())
        })?;
        for want in [
            "data-class=\"no_ip_sans\"",
            "data-class=\"unknown_authority\"",
            "data-class=\"unauthorized\"",
            "data-class=\"client_cert_required\"",
            "data-risk=\"insecure_skip_verify\"",
            "data-risk=\"no_keep_alive\"",
            "<pre class=\"check\">openssl s_client",
            "data-targets=\"10\" data-down=\"5\"",
        ] {
            assert!(dom.contains(want), "rendered page lacks `{want}`:\n{dom}");
        }
        assert_eq!(unreachable.code(), Some(2), "{unreachable}");
        assert!(unreachable.stderr.contains("127.0.0.1:1"), "{unreachable}");
        Ok(())
    })
}

#[test]
fn explain_config_on_the_seed_tutorials_classic_set_up_names_no_ip_sans_and_server_name(
) -> Result<()> {
    let _lock = heavy();
    tokio::runtime::Runtime::new()?.block_on(async {
        // Arrange: the tutorial's self-signed DNS:localhost certificate, scraped by IP.
        let dir = tempfile::tempdir()?;
        let (crt, key) = dns_only_cert(dir.path())?;
        let web = dir.path().join("web-config.yml");
        std::fs::write(
            &web,
            format!(
                "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
                crt.display(),
                key.display()
            ),
        )?;
        let exporter = FakeExporter::builder().web_config_file(&web).start().await?;
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "scrape_configs:\n  - job_name: node\n    scheme: https\n    tls_config:\n      ca_file: exporter.crt\n    static_configs:\n      - targets: ['{}']\n",
                exporter.addr()
            ),
        )?;
        let refused = dir.path().join("refused.yml");
        std::fs::write(
            &refused,
            "scrape_configs:\n  - job_name: node\n    ca_file: exporter.crt\n    static_configs:\n      - targets: ['127.0.0.1:9100']\n",
        )?;
        let harness = Harness::new()?;
        let (json, refused_json) = (harness.tmp().join("c.json"), harness.tmp().join("r.json"));
        let explain = |file: &Path, out: &Path| {
            tokio::task::block_in_place(|| {
                harness.run(
                    &[
                        "explain",
                        "--config",
                        &file.display().to_string(),
                        "--backend",
                        "process",
                        "--json",
                        &out.display().to_string(),
                    ],
                    Duration::from_secs(120),
                )
            })
        };

        // Act
        let ran = explain(&config, &json)?;
        let refused_run = explain(&refused, &refused_json)?;

        // Assert
        assert_eq!(ran.code(), Some(1), "{ran}");
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
        assert_eq!(report["promtool"]["passed"], true, "{report:#}");
        let t = target(&report, "node");
        assert_eq!(t["class"], "no_ip_sans", "{t:#}{ran}");
        assert!(
            t["keys"].as_array().unwrap().iter().any(|k| k == "tls_config.server_name"),
            "{t:#}"
        );
        assert!(ran.stdout.contains("promtool check config"), "{ran}");
        assert_eq!(refused_run.code(), Some(1), "{refused_run}");
        let refused_report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&refused_json)?)?;
        assert_eq!(refused_report["promtool"]["passed"], false, "{refused_report:#}");
        assert!(
            refused_report["promtool"]["look_at"]
                .as_str()
                .is_some_and(|l| l.contains("line 3")),
            "{refused_report:#}"
        );
        Ok(())
    })
}

#[test]
fn explain_reaches_a_prometheus_behind_its_own_web_config_and_a_wrong_credential_is_exit_2(
) -> Result<()> {
    use scrape_harness::prometheus::{PrometheusTls, PrometheusWebConfig};
    let _lock = heavy();
    tokio::runtime::Runtime::new()?.block_on(async {
        // Arrange: Prometheus with TLS + Basic auth on its API, scraping one plain exporter.
        let dir = tempfile::tempdir()?;
        let pki = Pki::generate(KeyType::EcdsaP256)?.write_to(dir.path())?;
        let web = PrometheusWebConfig::tls_basic(
            PrometheusTls {
                cert_file: pki.server_cert(ServerCert::Valid),
                key_file: pki.server_key(ServerCert::Valid),
                ca_file: pki.ca(),
            },
            "admin",
            "pr0m-s3cret",
        );
        let exporter = FakeExporter::builder().start().await?;
        let prom = PrometheusFixture::builder()
            .backend(BackendKind::Process)
            .scrape_interval(Duration::from_millis(500))
            .web_config(web)
            .job(ScrapeConfig::new(
                "exporter",
                [exporter.addr().to_string().as_str()],
            ))
            .start()
            .await?;
        prom.wait_scraped(1, Duration::from_secs(60)).await?;
        let (right, wrong) = (dir.path().join("right"), dir.path().join("wrong"));
        std::fs::write(&right, "pr0m-s3cret\n")?;
        std::fs::write(&wrong, "guess\n")?;
        let harness = Harness::new()?;
        let ca = pki.ca().display().to_string();
        let explain = |password: &Path| {
            let basic = format!("admin:{}", password.display());
            tokio::task::block_in_place(|| {
                harness.run(
                    &[
                        "explain",
                        "--prometheus",
                        prom.base_url(),
                        "--ca",
                        &ca,
                        "--basic-auth",
                        &basic,
                        "--keepalive-window",
                        "0s",
                    ],
                    Duration::from_secs(60),
                )
            })
        };

        // Act
        let with_right = explain(&right)?;
        let with_wrong = explain(&wrong)?;

        // Assert
        assert!(
            prom.base_url().starts_with("https://"),
            "{}",
            prom.base_url()
        );
        assert_eq!(with_right.code(), Some(0), "every target is up{with_right}");
        assert!(with_right.stdout.contains("exporter"), "{with_right}");
        assert_eq!(with_wrong.code(), Some(2), "{with_wrong}");
        assert!(
            with_wrong.stderr.contains("401"),
            "the reason: {with_wrong}"
        );
        Ok(())
    })
}

#[test]
fn explain_on_real_node_exporter_set_ups_names_class_key_and_risk() -> Result<()> {
    use crate::real_targets::{Client, NodeExporter, BASIC_PASSWORD, BASIC_USER};
    use fake_exporter::pki::ClientCert;
    let _lock = heavy();
    tokio::runtime::Runtime::new()?.block_on(async {
        // Arrange: node_exporter with TLS + Basic, and one demanding a client certificate.
        let dir = tempfile::tempdir()?;
        let pki = Pki::generate(KeyType::EcdsaP256)?.write_to(&dir.path().join("pki"))?;
        let (crt, key) = (
            pki.server_cert(ServerCert::Valid),
            pki.server_key(ServerCert::Valid),
        );
        let hash = fake_exporter::hash_password(BASIC_PASSWORD, 4).await?;
        let tls = format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            crt.display(),
            key.display()
        );
        let basic_node = tokio::task::block_in_place(|| {
            NodeExporter::start(
                Some(&format!(
                    "{tls}basic_auth_users:\n  {BASIC_USER}: '{hash}'\n"
                )),
                &Client {
                    ca: Some(pki.ca()),
                    cert: None,
                    basic: Some((BASIC_USER.into(), BASIC_PASSWORD.into())),
                },
            )
        })?;
        let mtls_node = tokio::task::block_in_place(|| {
            NodeExporter::start(
                Some(&format!(
                    "{tls}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
                    pki.ca().display()
                )),
                &Client {
                    ca: Some(pki.ca()),
                    cert: Some((
                        pki.client_cert(ClientCert::Valid),
                        pki.client_key(ClientCert::Valid),
                    )),
                    basic: None,
                },
            )
        })?;
        let legacy_node = tokio::task::block_in_place(|| {
            NodeExporter::start(
                Some(&format!("{tls}  min_version: TLS10\n")),
                &Client {
                    ca: Some(pki.ca()),
                    cert: None,
                    basic: None,
                },
            )
        })?;
        let (right, wrong) = (dir.path().join("right"), dir.path().join("wrong"));
        std::fs::write(&right, BASIC_PASSWORD)?;
        std::fs::write(&wrong, "guess")?;
        let basic_addr = basic_node.addr().to_string();
        let https_basic = |name: &str, ca_file: PathBuf, password: PathBuf| {
            let mut job = https_job(
                name,
                &basic_addr,
                TlsConfig {
                    ca_file: Some(ca_file),
                    ..TlsConfig::default()
                },
            );
            job.basic_auth = Some(BasicAuth {
                username: BASIC_USER.into(),
                password: None,
                password_file: Some(password),
            });
            job
        };
        let prom = PrometheusFixture::builder()
            .backend(BackendKind::Process)
            .scrape_interval(Duration::from_millis(500))
            .job(https_basic("node-ok", pki.ca(), right.clone()))
            .job(https_basic("node-wrong-ca", pki.rogue_ca(), right))
            .job(https_basic("node-wrong-password", pki.ca(), wrong))
            .job(https_job(
                "node-legacy-tls",
                &legacy_node.addr().to_string(),
                TlsConfig {
                    ca_file: Some(pki.ca()),
                    ..TlsConfig::default()
                },
            ))
            .job(https_job(
                "node-no-client-cert",
                &mtls_node.addr().to_string(),
                TlsConfig {
                    ca_file: Some(pki.ca()),
                    ..TlsConfig::default()
                },
            ))
            .start()
            .await?;
        prom.wait_scraped(2, Duration::from_secs(60)).await?;
        let harness = Harness::new()?;
        let json_path = harness.tmp().join("node.json");

        // Act: every certificate expires within 100 years, so node-ok must be flagged.
        let ran = tokio::task::block_in_place(|| {
            harness.run(
                &[
                    "explain",
                    "--prometheus",
                    prom.base_url(),
                    "--keepalive-window",
                    "0s",
                    "--expiry-warning",
                    "36500d",
                    "--json",
                    &json_path.display().to_string(),
                ],
                Duration::from_secs(120),
            )
        })?;

        // Assert
        assert_eq!(ran.code(), Some(1), "{ran}");
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path)?)?;
        for (job, class, key) in [
            ("node-wrong-ca", "unknown_authority", "tls_config.ca_file"),
            (
                "node-wrong-password",
                "unauthorized",
                "basic_auth.password_file",
            ),
            (
                "node-no-client-cert",
                "client_cert_required",
                "tls_config.cert_file",
            ),
        ] {
            let t = target(&json, job);
            assert_eq!(t["class"], class, "{t:#}{ran}");
            assert!(
                t["keys"].as_array().unwrap().iter().any(|k| k == key),
                "{t:#}"
            );
        }
        let ok = target(&json, "node-ok");
        assert_eq!(ok["health"], "up", "{ok:#}");
        assert_eq!(risk_kinds(ok), ["cert_expiring"], "{ok:#}");
        // min_version: TLS10 in its web config: openssl completes TLS 1.0 and 1.1 alone.
        let legacy = target(&json, "node-legacy-tls");
        assert_eq!(legacy["health"], "up", "{legacy:#}");
        assert!(
            risk_kinds(legacy).contains(&"legacy_tls".to_owned()),
            "{legacy:#}"
        );

        // The same rows with both cores busy (two spinning threads for the whole run).
        let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let spinners: Vec<_> = (0..2)
            .map(|_| {
                let busy = busy.clone();
                std::thread::spawn(move || {
                    let mut n = 0_u64;
                    while busy.load(std::sync::atomic::Ordering::Relaxed) {
                        n = std::hint::black_box(n.wrapping_add(1));
                    }
                })
            })
            .collect();
        let busy_json = harness.tmp().join("node-busy.json");
        let loaded = tokio::task::block_in_place(|| {
            harness.run(
                &[
                    "explain",
                    "--prometheus",
                    prom.base_url(),
                    "--keepalive-window",
                    "0s",
                    "--expiry-warning",
                    "36500d",
                    "--json",
                    &busy_json.display().to_string(),
                ],
                Duration::from_secs(180),
            )
        });
        busy.store(false, std::sync::atomic::Ordering::Relaxed);
        for spinner in spinners {
            spinner
                .join()
                .map_err(|_| anyhow::anyhow!("a spinner panicked"))?;
        }
        let loaded = loaded?;
        let under_load: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&busy_json)?)?;
        let rows = |j: &serde_json::Value| -> Vec<(String, String, String, Vec<String>)> {
            j["targets"]
                .as_array()
                .map(|ts| {
                    ts.iter()
                        .map(|t| {
                            (
                                t["job"].to_string(),
                                t["health"].to_string(),
                                t["class"].to_string(),
                                risk_kinds(t),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(rows(&under_load), rows(&json), "{loaded}");
        Ok(())
    })
}

#[test]
fn explain_names_the_fault_and_its_key_of_the_labs_in_their_broken_state() -> Result<()> {
    use crate::lab::LabDir;
    let _lock = heavy();
    let mut wrong = Vec::new();
    for (lab, class, key) in [
        ("basic-auth-401", "unauthorized", "basic_auth.password_file"),
        (
            "bearer-rotation",
            "unauthorized",
            "authorization.credentials_file",
        ),
        ("classic-tls-basic", "no_ip_sans", "tls_config.server_name"),
        (
            "expired-cert",
            "cert_expired",
            "tls_server_config.cert_file",
        ),
        (
            "hostname-mismatch",
            "hostname_mismatch",
            "tls_config.server_name",
        ),
        (
            "mtls-client-cert",
            "client_cert_required",
            "tls_config.cert_file",
        ),
        ("reverse-proxy", "http_to_https", "scheme"),
        ("untrusted-ca", "unknown_authority", "tls_config.ca_file"),
        ("keepalive", "no_keep_alive", ""),
    ] {
        // Arrange
        let dir = LabDir::new()?;
        dir.start(lab)?;
        let state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.dir().join(".lab/state.json"))?)?;
        let url = format!("http://127.0.0.1:{}", state["ports"]["prometheus"]);
        let json_path = dir.dir().join("explain.json");
        let harness = Harness::new()?;

        // Act
        let ran = harness.run(
            &[
                "explain",
                "--prometheus",
                &url,
                "--keepalive-window",
                "20s",
                "--json",
                &json_path.display().to_string(),
            ],
            Duration::from_secs(120),
        );
        dir.stop()?;
        let ran = ran?;

        // Assert (collected: one broken lab must not hide the others)
        let json: serde_json::Value = match std::fs::read_to_string(&json_path) {
            Ok(text) => serde_json::from_str(&text)?,
            Err(e) => {
                wrong.push(format!("{lab}: no JSON ({e}){ran}"));
                continue;
            }
        };
        let targets = json["targets"].as_array().cloned().unwrap_or_default();
        let named = targets.iter().any(|t| {
            if key.is_empty() {
                risk_kinds(t).contains(&class.to_owned())
            } else {
                t["class"] == class
                    && t["keys"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == key))
            }
        });
        if !named {
            wrong.push(format!(
                "{lab}: expected {class} {key}, got {:#}",
                json["targets"]
            ));
        }
    }
    // The tenth lab: Prometheus refuses the file, so `explain --config` says what promtool
    // says and where.
    let dir = LabDir::new()?;
    dir.start("config-refused")?;
    let json_path = dir.dir().join("explain-config.json");
    let ran = Harness::new()?.run(
        &[
            "explain",
            "--config",
            &dir.dir().join("prometheus.yml").display().to_string(),
            "--json",
            &json_path.display().to_string(),
        ],
        Duration::from_secs(120),
    );
    dir.stop()?;
    let ran = ran?;
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path)?)?;
    if ran.code() != Some(1)
        || json["promtool"]["passed"] != false
        || !json["promtool"]["look_at"]
            .as_str()
            .is_some_and(|l| l.contains("prometheus.yml line"))
    {
        wrong.push(format!("config-refused: {json:#}{ran}"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    Ok(())
}

#[test]
fn a_matrix_run_writes_the_explain_page_grouped_by_class() -> Result<()> {
    let _lock = heavy();
    // Arrange: one case up, one down with its expected class.
    let harness = Harness::new()?;
    let file = crate::support::write_scenario(
        harness.tmp(),
        "explain-run.yaml",
        "defaults:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\n  scrapes: 2\ncases:\n  - name: plain-ok\n    expect: { health: up }\n  - name: tls-no-ca\n    exporter: { server_cert: valid }\n    scrape: { scheme: https }\n    expect: { health: down, error: unknown_authority }\n",
    )?;
    let page = harness.tmp().join("run.html");

    // Act
    let ran = harness.run(
        &[
            "run",
            &file,
            "--backend",
            "process",
            "--no-progress",
            "--html",
            &page.display().to_string(),
        ],
        Duration::from_secs(180),
    )?;

    // Assert
    assert_eq!(ran.code(), Some(0), "both cases as expected{ran}");
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .context("headless Chromium is missing: run `bash scripts/setup`")?;
    let dom = crate::lab::dump_dom(chromium, &page, harness.tmp())?;
    for want in [
        "data-class=\"unknown_authority\"",
        "data-job=\"tls-no-ca\"",
        "<code class=\"key\">tls_config.ca_file</code>",
        "up without risks (1)",
        "data-targets=\"2\" data-down=\"1\"",
    ] {
        assert!(
            dom.contains(want),
            "rendered run page lacks `{want}`:\n{dom}"
        );
    }
    Ok(())
}

#[test]
fn the_client_certificate_flags_reach_a_server_that_demands_one() -> Result<()> {
    use fake_exporter::pki::ClientCert;
    tokio::runtime::Runtime::new()?.block_on(async {
        // Arrange: a TLS server that demands a client certificate from the CA (not a
        // Prometheus: with the certificate the TLS part succeeds and the API path is a 404).
        let dir = tempfile::tempdir()?;
        let pki = Pki::generate(KeyType::EcdsaP256)?;
        let files = pki.write_to(dir.path())?;
        let server = FakeExporter::builder()
            .tls(pki.server(ServerCert::Valid))
            .client_ca(files.ca())
            .client_auth(ClientAuthType::RequireAndVerifyClientCert)
            .start()
            .await?;
        let url = format!("https://{}", server.addr());
        let ca = files.ca().display().to_string();
        let (cert, key) = (
            files.client_cert(ClientCert::Valid).display().to_string(),
            files.client_key(ClientCert::Valid).display().to_string(),
        );
        let harness = Harness::new()?;
        let limit = Duration::from_secs(60);

        // Act
        let with_cert = tokio::task::block_in_place(|| {
            harness.run(
                &[
                    "explain",
                    "--prometheus",
                    &url,
                    "--ca",
                    &ca,
                    "--client-cert",
                    &cert,
                    "--client-key",
                    &key,
                ],
                limit,
            )
        })?;
        let without = tokio::task::block_in_place(|| {
            harness.run(&["explain", "--prometheus", &url, "--ca", &ca], limit)
        })?;

        // Assert
        assert_eq!(with_cert.code(), Some(2), "{with_cert}");
        assert!(
            with_cert.stderr.contains("HTTP 404"),
            "TLS with the certificate passed: {with_cert}"
        );
        assert_eq!(without.code(), Some(2), "{without}");
        assert!(
            !without.stderr.contains("HTTP 404"),
            "refused in the handshake: {without}"
        );
        Ok(())
    })
}

/// The risk kinds a default-matrix case's own job must get when it is up, from the case's
/// scrape side and keep-alive expectation (not from its name).
fn expected_risks(case: &scrape_harness::Case) -> Vec<&'static str> {
    use scrape_harness::cases::KeepAlive;
    let scrape = &case.scrape;
    let mut kinds = Vec::new();
    if scrape
        .tls_config
        .as_ref()
        .is_some_and(|t| t.insecure_skip_verify == Some(true))
    {
        kinds.push("insecure_skip_verify");
    }
    if scrape.auth.is_some() && !scrape.is_https() {
        kinds.push("credentials_in_clear");
    }
    if case.expect.keep_alive == KeepAlive::PerScrape {
        kinds.push("no_keep_alive");
    }
    kinds
}

#[test]
fn explain_of_the_live_default_matrix_names_every_down_class_and_key_and_every_risk() -> Result<()>
{
    let _lock = heavy();
    // Arrange: the embedded default matrix; `run --html` explains its live Prometheus before
    // stopping it, and `--json` carries that explanation.
    let plan = scrape_harness::Plan::load(&[])?;
    let harness = Harness::new()?;
    let json = harness.tmp().join("report.json");
    let page = harness.tmp().join("matrix.html");

    // Act
    let ran = harness.run(
        &[
            "run",
            "--backend",
            "process",
            "--no-progress",
            "--json",
            &json.display().to_string(),
            "--html",
            &page.display().to_string(),
        ],
        Duration::from_secs(300),
    )?;

    // Assert
    assert_eq!(ran.code(), Some(0), "the default matrix passes{ran}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let explained = &report["explained"];
    assert!(
        explained["targets"].is_array(),
        "the report carries the live explanation:{ran}"
    );
    let (mut down, mut missing, mut risky, mut clean) = (0, 0, 0, 0);
    for case in &plan.cases {
        let expected = &case.expect.outcome;
        match expected.health {
            scrape_harness::Health::Up => {
                let t = target(explained, &case.name);
                let kinds = risk_kinds(t);
                let want = expected_risks(case);
                for kind in &want {
                    assert!(
                        kinds.iter().any(|k| k == kind),
                        "{}: up with risk {kind} expected, explain gave {kinds:?}: {t:#}",
                        case.name
                    );
                }
                for kind in [
                    "insecure_skip_verify",
                    "credentials_in_clear",
                    "no_keep_alive",
                ] {
                    assert!(
                        want.contains(&kind) || !kinds.iter().any(|k| k == kind),
                        "{}: explain gave risk {kind} to a case without it: {t:#}",
                        case.name
                    );
                }
                if want.is_empty() {
                    clean += 1;
                } else {
                    risky += 1;
                }
            }
            health => {
                let t = target(explained, &case.name);
                let class = t["class"].as_str().unwrap_or_default().to_owned();
                let accepted: Vec<String> =
                    expected.classes.iter().map(ToString::to_string).collect();
                if health == scrape_harness::Health::Missing {
                    assert_eq!(class, "job_missing", "{}: {t:#}", case.name);
                    missing += 1;
                } else {
                    assert!(
                        accepted.contains(&class),
                        "{}: expected one of {accepted:?}, explain said {class}: {t:#}",
                        case.name
                    );
                    down += 1;
                }
                assert!(
                    t["keys"].as_array().is_some_and(|k| !k.is_empty()),
                    "{}: a {class} target names at least one key: {t:#}",
                    case.name
                );
            }
        }
    }
    // Pinned: the closing note of issue 22 cites these counts.
    assert_eq!(
        (down, missing, risky, clean),
        (47, 1, 7, 17),
        "down, missing, risky up, clean up cases of the default matrix"
    );
    Ok(())
}
