//! Request authentication: Basic (exporter-toolkit compatible) and Bearer (extension).

mod basic;
mod bearer;

use serde::Serialize;

pub use basic::basic_header;
pub(crate) use basic::{parse_basic, BasicAuthChecker, BasicCredentials};
pub(crate) use bearer::{check_bearer, parse_bearer};

/// How a request fared against the configured authentication.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AuthOutcome {
    /// No authentication configured.
    NotRequired,
    /// Credentials accepted.
    Ok,
    /// No `Authorization` header (or not the expected scheme).
    Missing,
    /// Basic auth with a user that is not configured.
    UnknownUser,
    /// Basic auth with a known user and a wrong password.
    WrongPassword,
    /// Bearer token that matches no configured token.
    InvalidToken,
    /// Bearer token that matched a token whose expiry has passed.
    ExpiredToken,
    /// Refused before authentication (bad config, rate limit).
    NotChecked,
}

impl AuthOutcome {
    /// The snake_case label used in metrics and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotRequired => "not_required",
            Self::Ok => "ok",
            Self::Missing => "missing",
            Self::UnknownUser => "unknown_user",
            Self::WrongPassword => "wrong_password",
            Self::InvalidToken => "invalid_token",
            Self::ExpiredToken => "expired_token",
            Self::NotChecked => "not_checked",
        }
    }
}

/// The bcrypt hash of `password` at `cost`, computed on tokio's blocking pool (bcrypt
/// takes tens of milliseconds at cost 10 and must not stall the executor).
pub async fn hash_password(password: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
    let password = password.to_owned();
    blocking(move || bcrypt::hash(password, cost)).await
}

/// Runs a bcrypt computation on tokio's blocking pool (the one place that does).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, bcrypt::BcryptError> + Send + 'static,
) -> Result<T, bcrypt::BcryptError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        // A panic in bcrypt is a bug there; surface it where it happened.
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Err(bcrypt::BcryptError::Io(std::io::Error::other(
            "the bcrypt task was cancelled: the runtime is shutting down",
        ))),
    }
}
