//! Which Prometheus image a container runs: the one named with `--prometheus-image`, an
//! official `prom/prometheus` image already in the local store, or the offline image
//! `scrape-harness/prometheus:<version>` built `FROM scratch` out of the local binary
//! (no registry is needed; see `docker/prometheus/Dockerfile`).

use std::{
    fs,
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
    time::Duration,
};

use tokio::sync::Mutex;

use super::{docker, process, BackendError, ImageBuildError};

/// The Dockerfile of the offline image, compiled in so the harness works from anywhere.
const DOCKERFILE: &str = include_str!("../../../docker/prometheus/Dockerfile");
/// Repository of the offline image.
pub(crate) const OFFLINE_REPOSITORY: &str = "scrape-harness/prometheus";
/// Repository of the official image.
const OFFICIAL_REPOSITORY: &str = "prom/prometheus";

/// The image a container will run, and why it was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ImageChoice {
    /// `repository:tag`.
    pub(crate) reference: String,
    /// Where it comes from, for `description()`.
    pub(crate) origin: String,
}

/// Picks (and if needed builds) the image. Never pulls unless `explicit` names an image
/// that is not in the local store.
pub(crate) async fn select(
    explicit: Option<&str>,
    binary: Option<&Path>,
) -> Result<ImageChoice, BackendError> {
    if let Some(image) = explicit {
        return explicit_image(image).await;
    }
    if let Some(reference) = local_official_image().await? {
        return Ok(ImageChoice {
            reference,
            origin: "official image found in the local store".to_owned(),
        });
    }
    let binary = process::find_binary(binary)?;
    offline_image(&binary).await
}

async fn explicit_image(image: &str) -> Result<ImageChoice, BackendError> {
    if docker::image_exists(image).await? {
        return Ok(ImageChoice {
            reference: image.to_owned(),
            origin: "given with --prometheus-image".to_owned(),
        });
    }
    let out = docker::output(&["pull", "--quiet", image], docker::SLOW).await?;
    if !out.status.success() {
        return Err(BackendError::ImageUnavailable {
            image: image.to_owned(),
            detail: docker::stderr_of(&out),
        });
    }
    Ok(ImageChoice {
        reference: image.to_owned(),
        origin: "given with --prometheus-image, pulled".to_owned(),
    })
}

/// `prom/prometheus:latest` if present, else any other local `prom/prometheus` tag.
async fn local_official_image() -> Result<Option<String>, BackendError> {
    let listing = docker::checked(
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            OFFICIAL_REPOSITORY,
        ],
        docker::QUICK,
    )
    .await?;
    let tagged: Vec<&str> = listing
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.ends_with(":<none>"))
        .collect();
    let latest = format!("{OFFICIAL_REPOSITORY}:latest");
    if tagged.contains(&latest.as_str()) {
        return Ok(Some(latest));
    }
    Ok(tagged.first().map(|s| (*s).to_owned()))
}

/// The offline image for `binary`, built once and then found by tag.
pub(crate) async fn offline_image(binary: &Path) -> Result<ImageChoice, BackendError> {
    let version = process::binary_version(binary).await?;
    let reference = format!("{OFFLINE_REPOSITORY}:{}", tag_of_version(&version));
    // One build at a time in this process; concurrent runs find the image afterwards.
    static BUILD_LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let _guard = BUILD_LOCK.get_or_init(|| Mutex::new(())).lock().await;
    if docker::image_exists(&reference).await? {
        return Ok(ImageChoice {
            reference,
            origin: format!("offline image built from {}", binary.display()),
        });
    }
    // A notice, not a log line: the user waits for this and should know why.
    eprintln!(
        "building offline Prometheus image from {} (no registry reachable)",
        binary.display()
    );
    build_offline_image(binary, &version, &reference).await?;
    Ok(ImageChoice {
        reference,
        origin: format!("offline image built from {} just now", binary.display()),
    })
}

/// `2.42.0+ds` → `2.42.0`: a tag allows `[A-Za-z0-9_.-]` only.
fn tag_of_version(version: &str) -> String {
    let tag: String = version
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    if tag.is_empty() {
        "unknown".to_owned()
    } else {
        tag
    }
}

async fn build_offline_image(
    binary: &Path,
    version: &str,
    reference: &str,
) -> Result<(), BackendError> {
    let fail = |source: ImageBuildError| BackendError::ImageBuild {
        image: reference.to_owned(),
        binary: binary.to_owned(),
        source,
    };
    let context = tempfile::Builder::new()
        .prefix("scrape-harness-image-")
        .tempdir()
        .map_err(|source| {
            fail(ImageBuildError::Io {
                action: "creating the build context in",
                path: std::env::temp_dir(),
                source,
            })
        })?;
    let rootfs = context.path().join("rootfs");
    copy_into_rootfs(binary, &rootfs.join("bin/prometheus")).map_err(fail)?;
    for library in shared_libraries(binary).await.map_err(fail)? {
        let inside = rootfs.join(library.strip_prefix("/").unwrap_or(&library));
        copy_into_rootfs(&library, &inside).map_err(fail)?;
    }
    let dockerfile = context.path().join("Dockerfile");
    fs::write(&dockerfile, DOCKERFILE).map_err(|source| {
        fail(ImageBuildError::Io {
            action: "writing",
            path: dockerfile.clone(),
            source,
        })
    })?;

    let version_arg = format!("PROMETHEUS_VERSION={version}");
    let source_arg = format!("PROMETHEUS_SOURCE={}", binary.display());
    let context_arg = context.path().to_string_lossy().into_owned();
    let args = [
        "build",
        "--quiet",
        "--build-arg",
        &version_arg,
        "--build-arg",
        &source_arg,
        "--tag",
        reference,
        &context_arg,
    ];
    // The classic builder: it needs neither buildx nor a registry for `FROM scratch`.
    let out = docker::output_with_env(&args, &[("DOCKER_BUILDKIT", "0")], docker::SLOW).await?;
    if !out.status.success() {
        return Err(fail(ImageBuildError::DockerBuild {
            stderr: docker::stderr_of(&out),
        }));
    }
    Ok(())
}

fn copy_into_rootfs(from: &Path, to: &Path) -> Result<(), ImageBuildError> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(|source| ImageBuildError::Io {
            action: "creating",
            path: parent.to_owned(),
            source,
        })?;
    }
    // fs::copy follows symlinks and keeps the permission bits.
    fs::copy(from, to)
        .map(drop)
        .map_err(|source| ImageBuildError::Copy {
            from: from.to_owned(),
            to: to.to_owned(),
            source,
        })
}

/// Deadline of `ldd`.
const LDD_TIMEOUT: Duration = Duration::from_secs(30);

/// Every absolute path `ldd` prints (libraries and the dynamic loader); none for a static
/// binary.
async fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, ImageBuildError> {
    let mut command = tokio::process::Command::new("ldd");
    command.arg(binary).stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(LDD_TIMEOUT, command.output())
        .await
        .map_err(|_| ImageBuildError::LddTimeout {
            binary: binary.to_owned(),
            timeout: LDD_TIMEOUT,
        })?
        .map_err(|source| ImageBuildError::LddSpawn { source })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        if all.contains("not a dynamic executable") || all.contains("statically linked") {
            return Ok(Vec::new());
        }
        return Err(ImageBuildError::Ldd {
            binary: binary.to_owned(),
            output: all.trim().to_owned(),
        });
    }
    Ok(parse_ldd(&stdout))
}

fn parse_ldd(output: &str) -> Vec<PathBuf> {
    output
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_drop_what_docker_refuses() {
        assert_eq!(tag_of_version("2.42.0+ds"), "2.42.0");
        assert_eq!(tag_of_version("3.5.0-rc.1"), "3.5.0-rc.1");
        assert_eq!(tag_of_version("+x"), "unknown");
    }

    #[test]
    fn ldd_output_yields_libraries_and_loader() {
        let output = "\tlinux-vdso.so.1 (0x00007f58d91a2000)\n\
                      \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f58d8faf000)\n\
                      \t/lib64/ld-linux-x86-64.so.2 (0x00007f58d91a4000)\n";
        assert_eq!(
            parse_ldd(output),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }

    #[test]
    fn dockerfile_is_from_scratch_with_the_binary_as_entrypoint() {
        assert!(DOCKERFILE.contains("FROM scratch"));
        assert!(DOCKERFILE.contains(r#"ENTRYPOINT ["/bin/prometheus"]"#));
    }
}
