//! deploy/kubernetes (docs/scale-out.md) checked offline by `scripts/check-kubernetes`:
//! rendered with `kubectl kustomize`, every document validated against the Kubernetes
//! schemas (kubernetes-validate), shards, fleet ports and the Job's URLs consistent, the
//! shard configurations accepted by promtool. The real tree passes; broken copies fail
//! and the output names the document at fault.
//!
//! Needs kubectl, promtool and the venv with kubernetes-validate: `bash scripts/setup`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};

use crate::support::{fake_exporter_bin, finish, repo_root, Ran};

/// `bash scripts/check-kubernetes DIR`, the PKI it generates written by the current
/// fake-exporter.
fn check(dir: &Path) -> Result<Ran> {
    let script = repo_root().join("scripts/check-kubernetes");
    let child = Command::new("bash")
        .arg(&script)
        .arg(dir)
        .env("FAKE_EXPORTER", fake_exporter_bin())
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting scripts/check-kubernetes")?;
    finish(
        child,
        &format!("bash scripts/check-kubernetes {}", dir.display()),
        Duration::from_secs(120),
    )
}

/// A copy of deploy/kubernetes to break.
fn copy_of_the_manifests() -> Result<tempfile::TempDir> {
    let copy = tempfile::Builder::new()
        .prefix("it-kubernetes-")
        .tempdir()?;
    let status = Command::new("cp")
        .arg("-a")
        .arg(repo_root().join("deploy/kubernetes/."))
        .arg(copy.path())
        .status()
        .context("running cp")?;
    ensure!(status.success(), "cp -a deploy/kubernetes failed: {status}");
    Ok(copy)
}

/// Adds `file` with `yaml` to the copy's resources.
fn add_resource(dir: &Path, file: &str, yaml: &str) -> Result<()> {
    std::fs::write(dir.join(file), yaml)?;
    let kustomization = dir.join("kustomization.yaml");
    let text = std::fs::read_to_string(&kustomization)?;
    let anchor = "  - bench-job.yaml\n";
    ensure!(
        text.contains(anchor),
        "kustomization.yaml no longer lists bench-job.yaml:\n{text}"
    );
    std::fs::write(
        &kustomization,
        text.replace(anchor, &format!("{anchor}  - {file}\n")),
    )?;
    Ok(())
}

/// Replaces `from` (which must occur) by `to` in `file` of the copy.
fn edit(dir: &Path, file: &str, from: &str, to: &str) -> Result<()> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path)?;
    ensure!(text.contains(from), "{file} has no `{from}`");
    std::fs::write(&path, text.replacen(from, to, 1))?;
    Ok(())
}

#[test]
fn the_manifests_render_validate_and_agree() -> Result<()> {
    // Act
    let ran = check(&repo_root().join("deploy/kubernetes"))?;

    // Assert
    ensure!(ran.code() == Some(0), "the real tree must pass:{ran}");
    for line in [
        "15 documents valid against the Kubernetes schemas",
        "report: 1 documents valid",
        "2 shards, 2 fleet pods x 100 targets = 200 targets",
        "promtool accepts 2 shard configurations",
    ] {
        ensure!(ran.stdout.contains(line), "no `{line}` in the output:{ran}");
    }
    Ok(())
}

#[test]
fn a_deployment_with_a_wrong_field_type_or_no_containers_fails_naming_it() -> Result<()> {
    for (name, spec, why) in [
        (
            "replicas-as-text",
            "  replicas: two\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec:\n      containers: [{name: x, image: scrape-harness/fake-exporter}]\n",
            "spec.replicas: 'two' is not of type 'integer'",
        ),
        (
            "no-containers",
            "  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec:\n      restartPolicy: Always\n",
            "'containers' is a required property",
        ),
    ] {
        // Arrange
        let copy = copy_of_the_manifests()?;
        let yaml = format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n{spec}");
        add_resource(copy.path(), "broken.yaml", &yaml)?;

        // Act
        let ran = check(copy.path())?;

        // Assert
        ensure!(ran.code() == Some(1), "{name}: must fail with exit 1:{ran}");
        let named = format!("did not validate for resource deployment/{name}");
        ensure!(ran.stdout.contains(&named), "{name}: `{named}` missing:{ran}");
        ensure!(ran.stdout.contains(why), "{name}: `{why}` missing:{ran}");
    }
    Ok(())
}

#[test]
fn shards_ports_and_urls_that_disagree_fail_naming_the_documents() -> Result<()> {
    // Arrange: a third shard without its file, and a listener port nobody declares.
    let copy = copy_of_the_manifests()?;
    edit(
        copy.path(),
        "prometheus.yaml",
        "  replicas: 2\n",
        "  replicas: 3\n",
    )?;
    edit(
        copy.path(),
        "fleet/fleet.yaml",
        "ports: 20000-20099",
        "ports: 20000-20100",
    )?;

    // Act
    let ran = check(copy.path())?;

    // Assert: schema-valid, but inconsistent, each problem naming its document.
    ensure!(ran.code() == Some(1), "must fail with exit 1:{ran}");
    ensure!(
        ran.stdout.contains("15 documents valid"),
        "the schemas still pass:{ran}"
    );
    for problem in [
        "StatefulSet/prometheus has 3 replicas",
        "prometheus-0.yml: job fleet: hashmod modulus 2, but there are 3 shards",
        "Job/scrape-bench: --prometheus",
        "StatefulSet/fleet: containerPorts and the fleet file's listeners differ: not declared [20100]",
    ] {
        ensure!(ran.stdout.contains(problem), "no `{problem}`:{ran}");
    }
    Ok(())
}

/// The `args` of the first container of the document of kind `kind` in `file`.
fn container_args(file: &str, kind: &str) -> Result<Vec<String>> {
    use serde::Deserialize as _;
    let text = std::fs::read_to_string(repo_root().join("deploy/kubernetes").join(file))?;
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        docs.push(serde_norway::Value::deserialize(doc)?);
    }
    let doc = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .with_context(|| format!("{file}: no {kind}"))?;
    let args = doc["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .with_context(|| format!("{file}: no args in its {kind}'s first container"))?;
    args.iter()
        .map(|a| {
            a.as_str()
                .map(str::to_owned)
                .with_context(|| format!("{file}: an argument that is not a string: {a:?}"))
        })
        .collect()
}

/// Runs `bin` with `args` and `check_env` set: the binaries then only parse their command
/// line (exit 0 when it parses, 2 with clap's error otherwise).
fn parses(bin: &Path, check_env: &str, args: &[String]) -> Result<Ran> {
    let child = Command::new(bin)
        .args(args)
        .env(check_env, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    finish(
        child,
        &format!("{} {}", bin.display(), args.join(" ")),
        Duration::from_secs(30),
    )
}

#[test]
fn the_bench_job_and_the_fleet_pods_run_command_lines_the_binaries_accept() -> Result<()> {
    // Arrange
    let job = container_args("bench-job.yaml", "Job")?;
    let fleet = container_args("fleet.yaml", "StatefulSet")?;
    ensure!(
        job.first().map(String::as_str) == Some("bench")
            && job.iter().any(|a| a.starts_with("--prometheus="))
            && job.iter().any(|a| a.starts_with("--fleet=")),
        "the Job runs the bench in remote mode: {job:?}"
    );
    let harness = Path::new(env!("CARGO_BIN_EXE_scrape-harness"));

    // Act
    let job_ran = parses(harness, "SCRAPE_HARNESS_CHECK_ARGS", &job)?;
    let fleet_ran = parses(&fake_exporter_bin(), "FAKE_EXPORTER_CHECK_ARGS", &fleet)?;
    let broken: Vec<String> = job
        .iter()
        .map(|a| a.replace("--fleet=", "--fleets="))
        .collect();
    let broken_ran = parses(harness, "SCRAPE_HARNESS_CHECK_ARGS", &broken)?;

    // Assert
    ensure!(job_ran.code() == Some(0), "the Job's arguments:{job_ran}");
    ensure!(
        fleet_ran.code() == Some(0),
        "the fleet's arguments:{fleet_ran}"
    );
    ensure!(
        broken_ran.code() == Some(2) && broken_ran.stderr.contains("--fleets"),
        "a misspelt flag is refused, so the check can fail:{broken_ran}"
    );
    Ok(())
}
