//! Prometheus' own web config (`--web.config.file`, exporter-toolkit format): TLS and Basic
//! auth on its UI, API, `/metrics` and `/-/ready`. The backend writes the file into the
//! work directory, passes the flag, and gives its API client the CA and the credentials,
//! so that readiness polling, targets, queries and reloads keep working.
//!
//! Prometheus 2.42 reads it with the exporter-toolkit it vendors (flag available since
//! 2.24, experimental until 2.x; `/-/ready` and `/-/healthy` are protected too).

use std::path::{Path, PathBuf};

use fake_exporter::{hash_password, PemSource, WebConfig};

use super::BackendError;
use crate::targets::PromApi;

/// The web config Prometheus itself runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrometheusWebConfig {
    /// TLS: server certificate and key (PEM files) and the CA the harness trusts for them.
    pub tls: Option<PrometheusTls>,
    /// Basic auth: a user and its plain-text password (hashed with bcrypt when written);
    /// the harness' client sends them.
    pub basic_auth: Option<(String, String)>,
    /// bcrypt cost of the written hash (default 10, exporter-toolkit's dummy-hash cost).
    pub bcrypt_cost: u32,
}

/// Prometheus' own TLS files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrometheusTls {
    /// Server certificate (valid for 127.0.0.1).
    pub cert_file: PathBuf,
    /// Its key.
    pub key_file: PathBuf,
    /// The CA that signed it, trusted by the harness' client.
    pub ca_file: PathBuf,
}

impl PrometheusWebConfig {
    /// TLS with these files and Basic auth with this user.
    pub fn tls_basic(
        tls: PrometheusTls,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            tls: Some(tls),
            basic_auth: Some((user.into(), password.into())),
            bcrypt_cost: fake_exporter::DEFAULT_BCRYPT_COST,
        }
    }

    /// `https` with TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Directories a container must see (the TLS files' parents).
    pub(crate) fn mounts(&self) -> Vec<PathBuf> {
        self.tls
            .iter()
            .flat_map(|t| [&t.cert_file, &t.key_file])
            .filter_map(|p| p.parent().map(Path::to_owned))
            .collect()
    }

    /// The `web-config.yml` text (typed, written by fake-exporter's exporter-toolkit
    /// writer), the password hashed off the executor.
    pub(crate) async fn render(&self, origin: &Path) -> Result<String, BackendError> {
        let bad = |reason: String| BackendError::WebConfig { reason };
        let mut builder = WebConfig::builder().origin(origin);
        if let Some(tls) = &self.tls {
            builder = builder
                .cert(PemSource::file(&tls.cert_file))
                .key(PemSource::file(&tls.key_file));
        }
        if let Some((user, password)) = &self.basic_auth {
            let hash = hash_password(password, self.bcrypt_cost)
                .await
                .map_err(|e| bad(format!("hashing the password of `{user}`: {e}")))?;
            builder = builder.basic_auth_user(user, hash);
        }
        let config = builder.build().map_err(|e| bad(e.to_string()))?;
        Ok(config.to_yaml())
    }

    /// The API client of a Prometheus running with this web config.
    pub(crate) fn client(&self, base_url: &str) -> Result<PromApi, BackendError> {
        let mut api = PromApi::new(base_url);
        if let Some(tls) = &self.tls {
            api = api.ca_file(&tls.ca_file)?;
        }
        if let Some((user, password)) = &self.basic_auth {
            api = api.basic_auth(user, password);
        }
        Ok(api)
    }
}

/// The endpoints a web config must protect, Prometheus' readiness and health included.
pub const PROTECTED_PATHS: [&str; 5] = [
    "/metrics",
    "/api/v1/targets",
    "/api/v1/query?query=up",
    "/-/ready",
    "/-/healthy",
];

/// One request of [`audit_own_web_config`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnProbe {
    /// TLS (when configured) and the right user and password: must be served (200).
    RightCredentials,
    /// No `Authorization` header: must be refused (401).
    NoCredentials,
    /// The right user, a wrong password: must be refused (401).
    WrongPassword,
    /// Plain HTTP to the TLS port: must be refused (Go's 400 "Client sent an HTTP request
    /// to an HTTPS server.").
    PlainHttp,
}

/// What one probe of one endpoint got.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EndpointCheck {
    /// The path requested.
    pub path: &'static str,
    /// How.
    pub probe: OwnProbe,
    /// The status it must get.
    pub expected: u16,
    /// The status it got (`None`: no HTTP answer).
    pub status: Option<u16>,
    /// Why there was no answer.
    pub error: Option<String>,
}

impl EndpointCheck {
    /// Whether it got the status it must get.
    pub fn passed(&self) -> bool {
        self.status == Some(self.expected)
    }
}

/// Requests every [`PROTECTED_PATHS`] entry of the Prometheus at `addr` (running with
/// `web`) the right way, without credentials, with a wrong password and over plain HTTP
/// (the last three only where `web` has Basic auth / TLS), each on a fresh connection with
/// a deadline per step.
pub async fn audit_own_web_config(
    web: &PrometheusWebConfig,
    addr: std::net::SocketAddr,
) -> Vec<EndpointCheck> {
    use crate::conformance::direct::{self, ClientTls};
    let tls = web.tls.as_ref().map(|t| ClientTls {
        ca_file: Some(t.ca_file.clone()),
        verify_server: true,
        client_cert: None,
        server_name: addr.ip().to_string(),
        versions: Default::default(),
        cert_requested: None,
    });
    let mut probes = vec![(OwnProbe::RightCredentials, 200)];
    if web.basic_auth.is_some() {
        probes.push((OwnProbe::NoCredentials, 401));
        probes.push((OwnProbe::WrongPassword, 401));
    }
    if web.tls.is_some() {
        probes.push((OwnProbe::PlainHttp, 400));
    }
    let mut checks = Vec::new();
    for path in PROTECTED_PATHS {
        for &(probe, expected) in &probes {
            let auth = |password: &str| {
                web.basic_auth
                    .as_ref()
                    .map(|(user, _)| ("authorization", fake_exporter::basic_header(user, password)))
                    .into_iter()
                    .collect::<Vec<_>>()
            };
            let (headers, tls) = match probe {
                OwnProbe::RightCredentials => (
                    web.basic_auth
                        .as_ref()
                        .map(|(user, pw)| ("authorization", fake_exporter::basic_header(user, pw)))
                        .into_iter()
                        .collect(),
                    tls.as_ref(),
                ),
                OwnProbe::NoCredentials => (Vec::new(), tls.as_ref()),
                OwnProbe::WrongPassword => (auth("not-the-password"), tls.as_ref()),
                OwnProbe::PlainHttp => (auth("not-the-password"), None),
            };
            let got = direct::get(addr, tls, path, &headers).await;
            let (status, error) = match got {
                Ok(r) => (Some(r.status), None),
                Err(e) => (None, Some(e.to_string())),
            };
            checks.push(EndpointCheck {
                path,
                probe,
                expected,
                status,
                error,
            });
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_written_web_config_passes_promtool_and_holds_a_bcrypt_hash_of_the_password() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = fake_exporter::pki::Pki::generate(fake_exporter::pki::KeyType::EcdsaP256)
            .and_then(|p| p.write_to(dir.path()))
            .expect("PKI");
        let web = PrometheusWebConfig {
            bcrypt_cost: 4,
            ..PrometheusWebConfig::tls_basic(
                PrometheusTls {
                    cert_file: pki.server_cert(fake_exporter::pki::ServerCert::Valid),
                    key_file: pki.server_key(fake_exporter::pki::ServerCert::Valid),
                    ca_file: pki.ca(),
                },
                "admin",
                "s3cret",
            )
        };
        let path = dir.path().join("web-config.yml");
        let yaml = web.render(&path).await.expect("renders");
        std::fs::write(&path, &yaml).expect("written");

        let hash = yaml
            .lines()
            .find_map(|l| l.trim().strip_prefix("admin: "))
            .expect("a user line");
        assert!(bcrypt::verify("s3cret", hash.trim_matches('\'')).expect("a bcrypt hash"));
        let promtool = std::process::Command::new(
            std::env::var_os(crate::promconfig::PROMTOOL_ENV).unwrap_or("promtool".into()),
        )
        .args(["check", "web-config"])
        .arg(&path)
        .output()
        .expect("promtool runs (bash scripts/setup installs it)");
        assert!(
            promtool.status.success(),
            "{yaml}\n{}{}",
            String::from_utf8_lossy(&promtool.stdout),
            String::from_utf8_lossy(&promtool.stderr)
        );
        assert_eq!(web.scheme(), "https");
        assert_eq!(web.mounts(), vec![dir.path().to_owned(); 2]);
    }
}
