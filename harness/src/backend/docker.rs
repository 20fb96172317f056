//! The `docker` command-line client, for what testcontainers does not cover: engine
//! checks, image inspection and builds, and removal in places where no async runtime can
//! be relied on (drop, the leftover sweep).

use std::{
    io,
    process::{Output, Stdio},
    time::Duration,
};

use super::{BackendError, CleanupError};

/// Deadline of quick commands (`info`, `image inspect`, `ps`, `rm`).
pub(crate) const QUICK: Duration = Duration::from_secs(30);
/// Deadline of `docker build` and `docker pull`.
pub(crate) const SLOW: Duration = Duration::from_secs(300);

/// Runs `docker <args>` and returns its output whatever its exit status.
pub(crate) async fn output(args: &[&str], timeout: Duration) -> Result<Output, BackendError> {
    output_with_env(args, &[], timeout).await
}

/// Like [`output`], with extra environment variables.
pub(crate) async fn output_with_env(
    args: &[&str],
    env: &[(&str, &str)],
    timeout: Duration,
) -> Result<Output, BackendError> {
    let mut command = tokio::process::Command::new("docker");
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(timeout, command.output()).await {
        Err(_) => Err(BackendError::DockerCommand {
            command: args.join(" "),
            detail: format!("no answer within {timeout:?}"),
        }),
        Ok(Err(err)) if err.kind() == io::ErrorKind::NotFound => {
            Err(BackendError::DockerCliMissing)
        }
        Ok(Err(err)) => Err(BackendError::DockerCommand {
            command: args.join(" "),
            detail: err.to_string(),
        }),
        Ok(Ok(output)) => Ok(output),
    }
}

/// Runs `docker <args>`; a non-zero exit is an error carrying stderr.
pub(crate) async fn checked(args: &[&str], timeout: Duration) -> Result<String, BackendError> {
    let out = output(args, timeout).await?;
    if !out.status.success() {
        return Err(BackendError::DockerCommand {
            command: args.join(" "),
            detail: stderr_of(&out),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The engine version when `docker info` works.
pub(crate) async fn engine_version() -> Result<String, BackendError> {
    let out = output(&["info", "--format", "{{.ServerVersion}}"], QUICK).await?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || version.is_empty() {
        return Err(BackendError::DockerUnavailable {
            detail: stderr_of(&out),
        });
    }
    Ok(version)
}

/// Whether `image` exists in the local image store.
pub(crate) async fn image_exists(image: &str) -> Result<bool, BackendError> {
    Ok(
        output(&["image", "inspect", "--format", "{{.Id}}", image], QUICK)
            .await?
            .status
            .success(),
    )
}

/// Blocking `docker <args>`, for drop and the sweep.
pub(crate) fn blocking(args: &[&str]) -> io::Result<Output> {
    std::process::Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
}

/// Removes a container and its anonymous volumes, blocking; works with or without a
/// tokio runtime.
pub(crate) fn remove_blocking(id: &str) -> Result<(), CleanupError> {
    let args = ["rm", "--force", "--volumes", id];
    let command = || format!("docker {}", args.join(" "));
    let out = blocking(&args).map_err(|source| CleanupError::Spawn {
        command: command(),
        source,
    })?;
    let stderr = stderr_of(&out);
    if out.status.success() || stderr.contains("No such container") {
        return Ok(());
    }
    if stderr.contains("is already in progress") {
        // A concurrent sweep is removing it: wait (bounded) until it is gone.
        let gone = crate::supervise::poll_until_blocking(
            std::time::Duration::from_secs(15),
            std::time::Duration::from_millis(50),
            || !blocking(&["inspect", "--format", "{{.Id}}", id]).is_ok_and(|o| o.status.success()),
        );
        if gone {
            return Ok(());
        }
        return Err(CleanupError::Command {
            command: command(),
            detail: format!("{stderr}; still there 15 s later"),
        });
    }
    Err(CleanupError::Command {
        command: command(),
        detail: stderr,
    })
}

/// The trimmed stderr of `out`, or its exit status when stderr is empty.
pub(crate) fn stderr_of(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if stderr.is_empty() {
        format!("exited with {}", out.status)
    } else {
        stderr
    }
}
