//! How to reach a Prometheus the harness did not start, behind its own web config: one
//! set of flags (`--ca`, `--client-cert`, `--client-key`, `--basic-auth`, `--bearer-file`)
//! shared by `explain` and `bench`, and the API client they make.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use scrape_harness::PromApi;

/// The credentials and trust for a `--prometheus URL` (flattened into a command's args).
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct AccessArgs {
    /// CA file (PEM) to trust for an `https://` Prometheus.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
    /// Client certificate (PEM) to present to an `https://` Prometheus (needs --ca and
    /// --client-key).
    #[arg(long, value_name = "FILE", requires_all = ["ca", "client_key"])]
    pub(crate) client_cert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub(crate) client_key: Option<PathBuf>,
    /// Basic credentials for Prometheus' own web config: `USER:PASSWORD_FILE` (the password
    /// is read from the file, never given on the command line).
    #[arg(long, value_name = "USER:PASSWORD_FILE")]
    pub(crate) basic_auth: Option<String>,
    /// A file holding a Bearer token to send to Prometheus.
    #[arg(long, value_name = "FILE")]
    pub(crate) bearer_file: Option<PathBuf>,
}

impl AccessArgs {
    /// The API client of the Prometheus at `url`, with these credentials and trust.
    pub(crate) fn api(&self, url: &str) -> anyhow::Result<PromApi> {
        let mut api = PromApi::new(url);
        if let Some(ca) = &self.ca {
            let client = self.client_cert.as_deref().zip(self.client_key.as_deref());
            api = api.tls_files(ca, client)?;
        }
        if let Some(basic) = &self.basic_auth {
            let (user, file) = basic
                .split_once(':')
                .context("--basic-auth takes USER:PASSWORD_FILE")?;
            api = api.basic_auth(user, read_secret(Path::new(file))?);
        }
        if let Some(file) = &self.bearer_file {
            api = api.bearer(read_secret(file)?);
        }
        Ok(api)
    }
}

/// A secret file's text without its trailing newline.
fn read_secret(path: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}
