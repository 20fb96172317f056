//! Generated web-configs judged three ways: by the oracle written from exporter-toolkit's
//! rules (`web_config_model::predict`), by fake-exporter's parser and start-up checks, and,
//! on a sample, by the real node_exporter 1.5.
//!
//! `cargo test -p fake-exporter --test it web_config_oracle -- --nocapture` prints how many
//! configs each rule refused.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fake_exporter::WebConfig;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::support::{free_addr, node_exporter_bin, raw_exchange, Proc};
use crate::web_config_model::{
    model, predict, render, Fixture, Model, Prediction, Reason, Stage, Toolkit,
};

/// What a judge (our parser, or node_exporter) did with one file.
#[derive(Debug)]
enum Judged {
    Accepted,
    Refused {
        stage: Option<Stage>,
        message: String,
    },
}

/// fake-exporter: `WebConfig::from_yaml_str` (the toolkit's `getConfig`), then
/// `check_at_start` (`validateUsers`, `ConfigToTLSConfig`, HTTP/2 setup).
fn judge_in_process(yaml: &str, origin: &Path) -> Judged {
    match WebConfig::from_yaml_str(yaml, origin) {
        Err(e) => Judged::Refused {
            stage: Some(Stage::Parse),
            message: e.to_string(),
        },
        Ok(config) => match config.check_at_start() {
            Err(e) => Judged::Refused {
                stage: Some(Stage::Start),
                message: e.to_string(),
            },
            Ok(_warnings) => Judged::Accepted,
        },
    }
}

/// Whether `judged` is what `want` predicts: the same accept/refuse, the same stage when the
/// judge reports one, and a message that names a reason (and, for our parser, the file).
fn agrees(
    want: &Prediction,
    judged: &Judged,
    file_name: Option<&str>,
    words: fn(Reason) -> Vec<&'static str>,
) -> Result<(), String> {
    match (want, judged) {
        (Prediction::Accept, Judged::Accepted) => Ok(()),
        (Prediction::Accept, Judged::Refused { message, .. }) => {
            Err(format!("predicted accept, but refused: {message}"))
        }
        (Prediction::Refuse { reasons, .. }, Judged::Accepted) => {
            Err(format!("predicted refusal ({reasons:?}), but accepted"))
        }
        (
            Prediction::Refuse { stage, reasons },
            Judged::Refused {
                stage: got_stage,
                message,
            },
        ) => {
            if got_stage.is_some_and(|s| s != *stage) {
                return Err(format!(
                    "predicted refusal at {stage:?} ({reasons:?}), refused at {got_stage:?}: {message}"
                ));
            }
            let lower = message.to_lowercase();
            let named = reasons
                .iter()
                .any(|r| words(*r).iter().any(|w| lower.contains(w)));
            if !named {
                return Err(format!(
                    "refused as predicted, but the message names none of {reasons:?}: {message}"
                ));
            }
            if let Some(name) = file_name {
                if !message.contains(name) {
                    return Err(format!(
                        "the message does not name the file {name}: {message}"
                    ));
                }
            }
            Ok(())
        }
    }
}

fn tally_key(want: &Prediction) -> String {
    match want {
        Prediction::Accept => "accept".to_owned(),
        Prediction::Refuse { reasons, .. } => format!("{:?}", reasons[0]),
    }
}

/// The seed of a run: `WEB_CONFIG_SEED` (64 hex digits) replays one; otherwise a fresh one.
fn seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    match std::env::var("WEB_CONFIG_SEED") {
        Ok(hex) => {
            for (i, byte) in seed.iter_mut().enumerate() {
                *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("00"), 16)
                    .expect("WEB_CONFIG_SEED must be 64 hex digits");
            }
        }
        Err(_) => rand::fill(&mut seed),
    }
    seed
}

#[test]
fn ten_thousand_generated_configs_are_judged_as_the_toolkit_rules_predict() {
    const CASES: usize = 10_000;
    let fx = Fixture::new();
    let origin = fx.config_path("web-config.yml");
    let seed = seed();
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let strategy = model();
    let mut tally = BTreeMap::<String, usize>::new();
    // Every disagreement, by its first line, with the first file that showed it.
    let mut disagreements = BTreeMap::<String, (usize, String)>::new();
    for _ in 0..CASES {
        let m = strategy
            .new_tree(&mut runner)
            .expect("the strategy has no filters")
            .current();
        let yaml = render(&m, &fx);
        let want = predict(&m, Toolkit::Current);
        *tally.entry(tally_key(&want)).or_default() += 1;
        let judged = judge_in_process(&yaml, &origin);
        if let Err(e) = agrees(&want, &judged, Some("web-config.yml"), |r| {
            r.words().to_vec()
        }) {
            let kind = e
                .lines()
                .next()
                .unwrap_or_default()
                .replace(fx.path().to_str().unwrap(), "<dir>");
            let entry = disagreements.entry(kind).or_insert((0, yaml.clone()));
            entry.0 += 1;
        }
    }
    println!("seed {hex}; configs by the oracle's first reason: {tally:?}");
    let report: Vec<String> = disagreements
        .iter()
        .map(|(kind, (n, yaml))| format!("{n} x {kind}\n--- e.g.\n{yaml}"))
        .collect();
    assert!(
        disagreements.is_empty(),
        "fake-exporter disagrees with the toolkit rules (replay: WEB_CONFIG_SEED={hex}):\n{}",
        report.join("\n")
    );
    // The run means something only if every rule was exercised: at least 30 configs each,
    // and accepted configs are at least a fifth of the total.
    assert!(
        tally.get("accept").copied().unwrap_or(0) * 5 >= CASES,
        "too few accepted configs: {tally:?}"
    );
    for reason in [
        "UnknownKey",
        "DuplicateKey",
        "BadBool",
        "NotAList",
        "UnknownVersion",
        "UnknownCipher",
        "UnknownCurve",
        "BadDuration",
        "HeaderNotAllowed",
        "HeaderValue",
        "BcryptHash",
        "MissingCert",
        "MissingKey",
        "CertUnreadable",
        "KeyPair",
        "ClientCaUnreadable",
        "ClientAuthType",
        "ClientCaWithoutPolicy",
        "Http2Cipher",
    ] {
        let n = tally.get(reason).copied().unwrap_or(0);
        assert!(
            n >= 30,
            "rule {reason} was hit by {n} configs only: {tally:?}"
        );
    }
}

/// One config through node_exporter: refused (it exits) or accepted (it answers HTTP).
async fn judge_by_node_exporter(dir: &Path, name: &str, yaml: &str) -> anyhow::Result<Judged> {
    let config = dir.join(format!("{name}.yml"));
    std::fs::write(&config, yaml)?;
    // A port taken between our probe and node_exporter's bind is retried, not judged.
    for _attempt in 0..5 {
        let addr: SocketAddr = free_addr();
        let args = vec![
            format!("--web.listen-address={addr}"),
            format!("--web.config.file={}", config.display()),
            "--collector.disable-defaults".to_owned(),
            "--log.level=warn".to_owned(),
        ];
        let mut proc = Proc::spawn(name, node_exporter_bin()?, &args, dir)?;
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if proc.wait_exit(Duration::ZERO).await.is_ok() {
                let stderr = proc.stderr();
                if stderr.contains("address already in use") {
                    break;
                }
                return Ok(Judged::Refused {
                    stage: None,
                    message: stderr,
                });
            }
            // Any HTTP answer means the toolkit got past every start-up check: it validates
            // before serving, and exits when a check fails.
            if let Ok(bytes) = raw_exchange(addr, b"GET / HTTP/1.0\r\n\r\n").await {
                if bytes.starts_with(b"HTTP/") {
                    return Ok(Judged::Accepted);
                }
            }
            if Instant::now() > end {
                bail!(
                    "node_exporter neither answered nor exited in 30 s\n{}",
                    proc.report()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    bail!("no free port for node_exporter after 5 attempts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_of_generated_configs_is_judged_by_node_exporter_as_predicted(
) -> anyhow::Result<()> {
    const EACH: usize = 50;
    let fx = Fixture::new();
    // A fixed seed: the same sample on every run, half accepted and half refused by the
    // oracle for exporter-toolkit 0.8 (node_exporter 1.5).
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = model();
    // Refusals are spread over the rules: at most 4 per first reason, so that the common
    // one (a key toolkit 0.8 does not know) does not crowd out the others.
    let (mut accepted, mut refused) = (Vec::<Model>::new(), Vec::<Model>::new());
    let mut per_reason = BTreeMap::<String, usize>::new();
    for _ in 0..100_000 {
        if accepted.len() >= EACH && refused.len() >= EACH {
            break;
        }
        let m = strategy
            .new_tree(&mut runner)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .current();
        let want = predict(&m, Toolkit::V0_8);
        match want {
            Prediction::Accept if accepted.len() < EACH => accepted.push(m),
            Prediction::Refuse { .. } if refused.len() < EACH => {
                let n = per_reason.entry(tally_key(&want)).or_default();
                if *n < 4 {
                    *n += 1;
                    refused.push(m);
                }
            }
            _ => {}
        }
    }
    anyhow::ensure!(
        accepted.len() == EACH && refused.len() == EACH,
        "the generator gave {} accepted and {} refused configs",
        accepted.len(),
        refused.len()
    );
    let sample: Vec<Model> = accepted.into_iter().chain(refused).collect();
    let mut failures = Vec::new();
    let mut rows = Vec::new();
    // Four node_exporters at a time.
    for (chunk_no, chunk) in sample.chunks(4).enumerate() {
        let runs = chunk.iter().enumerate().map(|(i, m)| {
            let yaml = render(m, &fx);
            let name = format!("sample-{}", chunk_no * 4 + i);
            let dir = fx.path().to_owned();
            async move {
                let judged = judge_by_node_exporter(&dir, &name, &yaml).await;
                (name, yaml, judged)
            }
        });
        for ((name, yaml, judged), m) in
            futures::future::join_all(runs).await.into_iter().zip(chunk)
        {
            let want = predict(m, Toolkit::V0_8);
            let judged = judged.with_context(|| format!("{name}:\n{yaml}"))?;
            rows.push(format!("{name}: {} -> {judged:?}", tally_key(&want)));
            if let Err(e) = agrees(&want, &judged, None, Reason::go_words) {
                failures.push(format!("{name}: {e}\n--- {name}.yml\n{yaml}"));
            }
        }
    }
    println!("{}", rows.join("\n"));
    assert_eq!(sample.len(), 2 * EACH);
    assert!(
        failures.is_empty(),
        "{} of {} configs: node_exporter disagrees with the oracle:\n{}",
        failures.len(),
        sample.len(),
        failures.join("\n")
    );
    Ok(())
}
