//! Writing a [`Pki`] to a directory under stable file names, and finding those files again.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::{ClientCert, KeyType, Pki, PkiError, ServerCert};

/// File name of the root CA certificate.
const CA: &str = "ca.crt";
/// File name of the intermediate CA certificate.
const INTERMEDIATE: &str = "intermediate.crt";
/// File name of the rogue CA certificate.
const ROGUE_CA: &str = "rogue-ca.crt";
/// File name of the description of every file.
const README: &str = "README.txt";

/// The three file names of one leaf identity.
#[derive(Clone, Copy)]
pub(super) struct LeafFiles {
    /// Certificate chain (PEM), e.g. `server.crt`.
    pub(super) cert: &'static str,
    /// PKCS#8 key, e.g. `server.key`.
    pub(super) key: &'static str,
    /// PKCS#1 / SEC1 key, e.g. `server.openssl.key`.
    pub(super) openssl_key: &'static str,
}

macro_rules! leaf_files {
    ($stem:literal) => {
        LeafFiles {
            cert: concat!($stem, ".crt"),
            key: concat!($stem, ".key"),
            openssl_key: concat!($stem, ".openssl.key"),
        }
    };
}

/// The stable file names of a server identity.
pub(super) const fn server_files(which: ServerCert) -> LeafFiles {
    match which {
        ServerCert::Valid => leaf_files!("server"),
        ServerCert::Chain => leaf_files!("server-chain"),
        ServerCert::Expired => leaf_files!("server-expired"),
        ServerCert::NotYetValid => leaf_files!("server-not-yet-valid"),
        ServerCert::WrongHost => leaf_files!("server-wrong-host"),
        ServerCert::SelfSigned => leaf_files!("server-self-signed"),
        ServerCert::RogueCa => leaf_files!("server-rogue"),
        ServerCert::CnOnly => leaf_files!("server-cn-only"),
        ServerCert::MissingIntermediate => leaf_files!("server-missing-intermediate"),
    }
}

/// The stable file names of a client identity.
pub(super) const fn client_files(which: ClientCert) -> LeafFiles {
    match which {
        ClientCert::Valid => leaf_files!("client"),
        ClientCert::Expired => leaf_files!("client-expired"),
        ClientCert::RogueCa => leaf_files!("client-rogue"),
        ClientCert::ServerAuthOnly => leaf_files!("client-server-auth-only"),
    }
}

/// Where [`Pki::write_to`] put every file. All paths are absolute.
///
/// Openssl-format keys (`*.openssl.key`) exist only for RSA and ECDSA PKIs: Ed25519 keys have
/// no PKCS#1/SEC1 form, so for them the accessors return `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkiFiles {
    pub(super) dir: PathBuf,
    pub(super) key_type: KeyType,
}

impl PkiFiles {
    /// The directory holding every file.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key type of every key in the directory.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// `ca.crt`: the root CA that trusts every good certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.join(CA)
    }

    /// `rogue-ca.crt`: the CA nobody trusts.
    pub fn rogue_ca(&self) -> PathBuf {
        self.dir.join(ROGUE_CA)
    }

    /// `intermediate.crt`: the intermediate CA.
    pub fn intermediate(&self) -> PathBuf {
        self.dir.join(INTERMEDIATE)
    }

    /// `README.txt`: what every file is.
    pub fn readme(&self) -> PathBuf {
        self.dir.join(README)
    }

    /// The certificate chain file of a server identity, e.g. `server-expired.crt`.
    pub fn server_cert(&self, which: ServerCert) -> PathBuf {
        self.dir.join(server_files(which).cert)
    }

    /// The PKCS#8 key file of a server identity, e.g. `server-expired.key`.
    pub fn server_key(&self, which: ServerCert) -> PathBuf {
        self.dir.join(server_files(which).key)
    }

    /// The PKCS#1/SEC1 key file of a server identity; `None` for Ed25519.
    pub fn server_key_openssl(&self, which: ServerCert) -> Option<PathBuf> {
        self.has_openssl_keys()
            .then(|| self.dir.join(server_files(which).openssl_key))
    }

    /// The certificate file of a client identity, e.g. `client-rogue.crt`.
    pub fn client_cert(&self, which: ClientCert) -> PathBuf {
        self.dir.join(client_files(which).cert)
    }

    /// The PKCS#8 key file of a client identity, e.g. `client-rogue.key`.
    pub fn client_key(&self, which: ClientCert) -> PathBuf {
        self.dir.join(client_files(which).key)
    }

    /// The PKCS#1/SEC1 key file of a client identity; `None` for Ed25519.
    pub fn client_key_openssl(&self, which: ClientCert) -> Option<PathBuf> {
        self.has_openssl_keys()
            .then(|| self.dir.join(client_files(which).openssl_key))
    }

    /// The path of a file given its stable name (e.g. `"server-expired.crt"`), as scenario files
    /// refer to them; `None` for unknown names and for `*.openssl.key` in an Ed25519 PKI.
    pub fn by_name(&self, name: &str) -> Option<PathBuf> {
        if !Self::names().contains(&name) {
            return None;
        }
        if name.ends_with(".openssl.key") && !self.has_openssl_keys() {
            return None;
        }
        Some(self.dir.join(name))
    }

    /// Every stable file name a PKI can have, CAs first (without `README.txt`).
    pub fn names() -> Vec<&'static str> {
        let leaves = ServerCert::ALL
            .iter()
            .map(|&which| server_files(which))
            .chain(ClientCert::ALL.iter().map(|&which| client_files(which)));
        [CA, INTERMEDIATE, ROGUE_CA]
            .into_iter()
            .chain(leaves.flat_map(|f| [f.cert, f.key, f.openssl_key]))
            .collect()
    }

    fn has_openssl_keys(&self) -> bool {
        self.key_type != KeyType::Ed25519
    }
}

/// Whether a file holds a secret.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Secrecy {
    /// Certificates and the README: mode 0644.
    Public,
    /// Private keys: mode 0600.
    Secret,
}

impl Pki {
    /// Writes every file under its stable name into `dir` (created if missing), plus a
    /// `README.txt` describing each file, and returns where they are.
    ///
    /// Files are replaced atomically (written beside, then renamed), so an exporter that
    /// re-reads its certificate per connection never sees a half-written file. Private keys
    /// get mode 0600 on Unix. Stale `*.openssl.key` files from an earlier RSA/ECDSA run are
    /// removed when writing an Ed25519 PKI.
    pub fn write_to(&self, dir: &Path) -> Result<PkiFiles, PkiError> {
        let create_dir_error = |source| PkiError::CreateDir {
            path: dir.to_owned(),
            source,
        };
        fs::create_dir_all(dir).map_err(create_dir_error)?;
        let dir = std::path::absolute(dir).map_err(create_dir_error)?;
        let files = PkiFiles {
            dir,
            key_type: self.key_type(),
        };

        write_file(&files.ca(), self.ca_pem(), Secrecy::Public)?;
        write_file(
            &files.intermediate(),
            self.intermediate_pem(),
            Secrecy::Public,
        )?;
        write_file(&files.rogue_ca(), self.rogue_ca_pem(), Secrecy::Public)?;
        for &which in ServerCert::ALL {
            let identity = self.server(which);
            let names = server_files(which);
            write_file(
                &files.server_cert(which),
                &identity.cert_chain_pem,
                Secrecy::Public,
            )?;
            write_file(&files.server_key(which), &identity.key_pem, Secrecy::Secret)?;
            write_openssl_key(&files, names, identity.key_openssl_pem.as_deref())?;
        }
        for &which in ClientCert::ALL {
            let identity = self.client(which);
            let names = client_files(which);
            write_file(
                &files.client_cert(which),
                &identity.cert_chain_pem,
                Secrecy::Public,
            )?;
            write_file(&files.client_key(which), &identity.key_pem, Secrecy::Secret)?;
            write_openssl_key(&files, names, identity.key_openssl_pem.as_deref())?;
        }
        write_file(&files.readme(), &self.readme(), Secrecy::Public)?;
        Ok(files)
    }

    /// The text of `README.txt`.
    fn readme(&self) -> String {
        let key_type = self.key_type();
        let at = self.generated_at();
        let mut text = format!(
            "Test PKI generated by fake-exporter at {:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z, \
             key type {key_type}.\n\
             Validity windows are relative to that moment: regenerate rather than reuse.\n\
             Regenerate: fake-exporter pki --out DIR --key-type {key_type}\n\n",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
        );
        let mut line = |name: &str, what: &str| {
            // Writing to a String cannot fail.
            let _ = writeln!(text, "{name:<36} {what}");
        };
        line(
            CA,
            "root CA (trust this one): CA:true, keyCertSign+cRLSign, 10 years",
        );
        line(INTERMEDIATE, "intermediate CA signed by ca.crt, pathlen 0");
        line(
            ROGUE_CA,
            "rogue CA nobody trusts; signs the *-rogue certificates",
        );
        for &which in ServerCert::ALL {
            let names = server_files(which);
            line(names.cert, which.describe());
            line(names.key, "its private key, PKCS#8 (BEGIN PRIVATE KEY)");
            if key_type != KeyType::Ed25519 {
                line(names.openssl_key, openssl_key_description(key_type));
            }
        }
        for &which in ClientCert::ALL {
            let names = client_files(which);
            line(names.cert, which.describe());
            line(names.key, "its private key, PKCS#8 (BEGIN PRIVATE KEY)");
            if key_type != KeyType::Ed25519 {
                line(names.openssl_key, openssl_key_description(key_type));
            }
        }
        text.push_str(
            "\nServer certificates: CN fake-exporter, SANs DNS:localhost IP:127.0.0.1 IP:::1, \
             EKU serverAuth (except where stated).\n\
             Client certificates: CN prometheus, SANs DNS:prometheus.client \
             URI:spiffe://fake-exporter/prometheus email:prometheus@client.invalid, \
             EKU clientAuth (except where stated).\n\
             All server certificates share one key, all client certificates another.\n",
        );
        text
    }
}

fn openssl_key_description(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::Rsa2048 => "the same key, PKCS#1 (BEGIN RSA PRIVATE KEY) as openssl genrsa",
        KeyType::EcdsaP256 | KeyType::Ed25519 => {
            "the same key, SEC1 with named curve (BEGIN EC PRIVATE KEY) as openssl ecparam"
        }
    }
}

/// Writes the openssl-format key, or removes a stale one when the key type has none.
fn write_openssl_key(
    files: &PkiFiles,
    names: LeafFiles,
    key: Option<&str>,
) -> Result<(), PkiError> {
    let path = files.dir().join(names.openssl_key);
    let Some(key) = key else {
        return match fs::remove_file(&path) {
            Err(source) if source.kind() != io::ErrorKind::NotFound => {
                Err(PkiError::WriteFile { path, source })
            }
            _ => Ok(()),
        };
    };
    write_file(&path, key, Secrecy::Secret)
}

/// Writes `contents` to a temporary file beside `path` with the right mode, then renames it.
fn write_file(path: &Path, contents: &str, secrecy: Secrecy) -> Result<(), PkiError> {
    let error = |source| PkiError::WriteFile {
        path: path.to_owned(),
        source,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);

    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mode = match secrecy {
            Secrecy::Public => 0o644,
            Secrecy::Secret => 0o600,
        };
        options.mode(mode);
        let mut file = options.open(&tmp).map_err(error)?;
        // `mode` applies only to newly created files: a leftover temporary keeps its own.
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(error)?;
        file.write_all(contents.as_bytes()).map_err(error)?;
    }
    #[cfg(not(unix))]
    {
        let _ = secrecy;
        let mut file = options.open(&tmp).map_err(error)?;
        file.write_all(contents.as_bytes()).map_err(error)?;
    }
    fs::rename(&tmp, path).map_err(error)
}
