//! What every bench run writes before it starts a server: one run directory
//! (`supervise::RunDir`: `owner.pid`, `HARNESS_KEEP`), the test PKI, the Basic-auth hash
//! and a web-config per [`Mode`]. `bench` and `bench servers` share it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fake_exporter::pki::{KeyType, Pki, PkiFiles, ServerCert};

use super::options::Mode;
use super::run::{BASIC_PASSWORD, BASIC_USER, BEARER_TOKEN};
use crate::exporter_config::{web_config_yaml, WebConfigSpec};
use crate::supervise::RunDir;

/// Why a bench's files could not be prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A directory or file could not be created or written.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The test PKI could not be generated or written.
    #[error("{what} the PKI: {source}")]
    Pki {
        /// `generating` or `writing`.
        what: &'static str,
        /// The PKI error.
        #[source]
        source: fake_exporter::pki::PkiError,
    },
    /// The Basic-auth password could not be hashed.
    #[error("hashing the Basic-auth password: {0}")]
    Hash(#[source] bcrypt::BcryptError),
}

/// A bench's files, removed on drop (unless `HARNESS_KEEP=1`): the run directory, the test
/// PKI (its files, and the PKI itself, whose CA signs the certificates of fleet hosts), the
/// Basic-auth hash and a web-config per [`Mode`].
#[derive(Debug)]
pub struct BenchFiles {
    dir: RunDir,
    pki: PkiFiles,
    authority: Pki,
    bcrypt_hash: String,
    web_configs: BTreeMap<Mode, PathBuf>,
}

impl BenchFiles {
    /// `$TMPDIR/scrape-harness-<what>-*` with a `key_type` PKI in `pki/` and
    /// `web-config-<mode>.yml` for every mode.
    pub async fn create(what: &str, key_type: KeyType) -> Result<Self, SetupError> {
        let dir = RunDir::create(what).map_err(|e| {
            let (what, path, source) = e.into_parts();
            SetupError::Io { what, path, source }
        })?;
        let pki = Pki::generate(key_type).map_err(|source| SetupError::Pki {
            what: "generating",
            source,
        })?;
        let files = pki
            .write_to(&dir.join("pki"))
            .map_err(|source| SetupError::Pki {
                what: "writing",
                source,
            })?;
        let hash = fake_exporter::hash_password(BASIC_PASSWORD, fake_exporter::DEFAULT_BCRYPT_COST)
            .await
            .map_err(SetupError::Hash)?;
        let mut web_configs = BTreeMap::new();
        for mode in Mode::ALL {
            let path = dir.join(format!("web-config-{mode}.yml"));
            let server = (
                files.server_cert(ServerCert::Valid),
                files.server_key(ServerCert::Valid),
            );
            let text = mode_web_config(
                mode,
                &files,
                (server.0.as_path(), server.1.as_path()),
                &hash,
            );
            std::fs::write(&path, text).map_err(|source| SetupError::Io {
                what: "writing",
                path: path.clone(),
                source,
            })?;
            web_configs.insert(mode, path);
        }
        Ok(Self {
            dir,
            pki: files,
            authority: pki,
            bcrypt_hash: hash,
            web_configs,
        })
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The test PKI's files.
    pub fn pki(&self) -> &PkiFiles {
        &self.pki
    }

    /// The test PKI, whose CA issues the certificates of fleet hosts.
    pub(super) fn authority(&self) -> &Pki {
        &self.authority
    }

    /// The web-config of `mode`.
    pub fn web_config(&self, mode: Mode) -> &Path {
        // Invariant: `create` writes one for every mode.
        &self.web_configs[&mode]
    }

    /// The text of `mode`'s web-config with this server certificate and key instead of the
    /// PKI's `server.crt` (a fleet host serves one issued for its own address).
    pub(super) fn web_config_with_cert(&self, mode: Mode, cert: &Path, key: &Path) -> String {
        mode_web_config(mode, &self.pki, (cert, key), &self.bcrypt_hash)
    }
}

/// The web-config of `mode` for the bench's exporters (empty for plain), serving `server`
/// (certificate, key) in the TLS modes.
fn mode_web_config(
    mode: Mode,
    files: &PkiFiles,
    server: (&Path, &Path),
    bcrypt_hash: &str,
) -> String {
    let ca = files.ca();
    web_config_yaml(&WebConfigSpec {
        tls: mode.is_tls().then_some(server),
        client_ca: (mode == Mode::Mtls).then_some(ca.as_path()),
        basic_user: (mode == Mode::Basic).then_some((BASIC_USER, bcrypt_hash)),
        bearer_token: (mode == Mode::Bearer).then_some(BEARER_TOKEN),
    })
}
