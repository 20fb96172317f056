//! The CI image (`docker/harness`, `scripts/build-harness-image`, docs/ci.md): built from
//! the binaries of this test run, it runs as a non-root user with the cases mounted at
//! `/cases`, as a CI job would: the default matrix exits 0 with a JUnit file without
//! failures, a file with a wrong expectation exits 1 with a JUnit `<failure`, a bad file
//! exits 2. Every `docker run` has a deadline and a name, and is removed afterwards.
//!
//! The image takes `fake-exporter` from the same target dir as the harness, built from the
//! current sources by the test support first (a no-op when it is current).

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    time::Duration,
};

use anyhow::{anyhow, ensure, Context, Result};

use crate::support::{docker, finish, heavy, repo_root, test_scenario, Ran};

/// `nobody`: the runs write into the mounted dir as a user that is not root, as
/// `--user "$(id -u):$(id -g)"` does in docs/ci.md.
const RUN_AS: u32 = 65_534;

/// The image built once for this test binary (its id: other worktrees sharing the Docker
/// engine may move the tags meanwhile), or why it could not be built.
fn image() -> Result<String> {
    static IMAGE: OnceLock<Result<String, String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| build_image().map_err(|err| format!("{err:#}")))
        .clone()
        .map_err(|err| anyhow!("building the CI image failed: {err}"))
}

fn build_image() -> Result<String> {
    // Fails with the command that starts a missing engine.
    docker(&["info", "--format", "{{.ServerVersion}}"])?;

    let harness = PathBuf::from(env!("CARGO_BIN_EXE_scrape-harness"));
    let exporter = crate::support::fake_exporter_bin();
    let script = repo_root().join("scripts/build-harness-image");
    let child = Command::new("bash")
        .arg(&script)
        .arg(&harness)
        .arg(&exporter)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting scripts/build-harness-image")?;
    let built = finish(
        child,
        &format!(
            "bash scripts/build-harness-image {} {}",
            harness.display(),
            exporter.display()
        ),
        Duration::from_secs(300),
    )?;
    ensure!(built.status.success(), "{built}");
    let reference = built.stdout.trim();
    ensure!(
        reference.starts_with("scrape-harness/harness:"),
        "no image reference on stdout:{built}"
    );
    let id = docker(&["image", "inspect", "--format", "{{.Id}}", reference])?;
    ensure!(
        id.starts_with("sha256:"),
        "`docker image inspect` said {id}"
    );
    Ok(id)
}

/// A temp dir mounted as `/cases`, writable by [`RUN_AS`], with an empty `reports/`.
fn cases_dir() -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("it-ci-image-")
        .tempdir()
        .context("creating the cases dir")?;
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).context("creating reports/")?;
    for path in [dir.path(), &reports] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))
            .with_context(|| format!("opening {} to uid {RUN_AS}", path.display()))?;
    }
    Ok(dir)
}

/// `docker run --rm --network host --user 65534:65534 -v <cases>:/cases <image> <args>`,
/// killed after `limit`; the container is removed whatever happened.
fn run_image(cases: &Path, args: &[&str], limit: Duration) -> Result<Ran> {
    let image = image()?;
    let name = format!(
        "it-ci-image-{}-{}",
        std::process::id(),
        cases
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .to_lowercase()
    );
    let user = format!("{RUN_AS}:{RUN_AS}");
    let volume = format!("{}:/cases", cases.display());
    let mut docker_args = vec![
        "run",
        "--rm",
        "--name",
        &name,
        "--network",
        "host",
        "--user",
        &user,
        "-v",
        &volume,
        &image,
    ];
    docker_args.extend_from_slice(args);
    let child = Command::new("docker")
        .args(&docker_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running `docker`: install Docker with `bash scripts/setup`")?;
    let ran = finish(child, &format!("docker {}", docker_args.join(" ")), limit);
    // After a deadline the CLI is killed but the container may still run.
    let _ = Command::new("docker")
        .args(["rm", "--force", &name])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let left = docker(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("name=^{name}$"),
    ])?;
    ensure!(left.is_empty(), "container {name} is left: {left}");
    ran
}

#[test]
fn ci_image_runs_the_default_matrix_and_writes_junit_as_the_calling_user() -> Result<()> {
    let _lock = heavy();
    // Arrange
    let cases = cases_dir()?;

    // Act
    let ran = run_image(
        cases.path(),
        &[
            "run",
            "--backend",
            "process",
            "--no-progress",
            "--junit",
            "/cases/reports/junit.xml",
        ],
        Duration::from_secs(240),
    )?;

    // Assert
    assert_eq!(ran.code(), Some(0), "{ran}");
    let junit = cases.path().join("reports/junit.xml");
    let xml = std::fs::read_to_string(&junit)
        .with_context(|| format!("reading {}:{ran}", junit.display()))?;
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
    let owner = std::fs::metadata(&junit)?.uid();
    assert_eq!(owner, RUN_AS, "junit.xml belongs to uid {owner}");
    Ok(())
}

#[test]
fn ci_image_exits_1_with_a_junit_failure_on_a_wrong_expectation() -> Result<()> {
    let _lock = heavy();
    // Arrange
    let cases = cases_dir()?;
    std::fs::copy(
        test_scenario("wrong-expectation.yaml"),
        cases.path().join("my-cases.yaml"),
    )
    .context("copying scenarios/tests/wrong-expectation.yaml")?;

    // Act
    let ran = run_image(
        cases.path(),
        &[
            "run",
            "--backend",
            "process",
            "--no-progress",
            "/cases/my-cases.yaml",
            "--junit",
            "/cases/reports/junit.xml",
        ],
        Duration::from_secs(120),
    )?;

    // Assert
    assert_eq!(ran.code(), Some(1), "{ran}");
    let xml = std::fs::read_to_string(cases.path().join("reports/junit.xml"))
        .with_context(|| format!("reading reports/junit.xml:{ran}"))?;
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(xml.contains("wrong-password-expected-up"), "{xml}");
    Ok(())
}

#[test]
fn ci_image_exits_2_on_a_bad_scenario_file() -> Result<()> {
    let _lock = heavy();
    // Arrange
    let cases = cases_dir()?;
    std::fs::write(
        cases.path().join("bad.yaml"),
        "cases:\n  - name: typo\n    expekt: { health: up }\n",
    )?;

    // Act
    let ran = run_image(
        cases.path(),
        &[
            "run",
            "--backend",
            "process",
            "--no-progress",
            "/cases/bad.yaml",
        ],
        Duration::from_secs(60),
    )?;

    // Assert
    assert_eq!(ran.code(), Some(2), "{ran}");
    assert!(ran.stderr.contains("expekt"), "{ran}");
    Ok(())
}
