//! Generated `web-config.yml` files and an oracle that predicts what exporter-toolkit does
//! with each of them at start: accept it, or refuse it while reading the file (`Parse`) or
//! while checking it (`Start`).
//!
//! The generator works on a structured model of the schema ([`Model`]): every key the
//! toolkit knows, each with valid values, invalid values and the representations go-yaml v2
//! accepts (`yes`/`on`/`True` for booleans, `null` sections), plus unknown and duplicate keys.
//! The YAML is rendered from the model, so a failure shows which key did what.
//!
//! The oracle ([`predict`]) is written from the toolkit's source, independently of the
//! parser under test (`fake_exporter::web_config`): `getConfig` (go-yaml v2
//! `UnmarshalStrict`, then the header allow-list), `validateUsers` (`bcrypt.Cost` of every
//! hash), `ConfigToTLSConfig` (TLS enabled, cert and key present and matching, client CA
//! readable, `client_auth_type` known, no client CA without a policy) and Go's
//! `http2.ConfigureServer` (an HTTP/2-required AES-128-GCM suite in any TLS 1.2 list). It
//! knows two toolkit releases: [`Toolkit::V0_8`] (node_exporter 1.5 from Debian: no
//! `rate_limit`, `client_allowed_sans` or inline PEM keys; Go 1.19's cipher list, which still
//! has the `TLS_RSA_*` suites) and [`Toolkit::Current`] (what fake-exporter follows).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

/// Which exporter-toolkit release the oracle speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Toolkit {
    /// exporter-toolkit 0.8 built with Go 1.19 (Debian's node_exporter 1.5).
    V0_8,
    /// Current exporter-toolkit with current Go (fake-exporter's reference).
    Current,
}

/// Where the toolkit refuses a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// `getConfig`: YAML decoding (strict) and the header allow-list.
    Parse,
    /// `validateUsers`, `ConfigToTLSConfig` or HTTP/2 setup.
    Start,
}

/// Why the toolkit refuses a config; each reason carries words its error message must use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Reason {
    UnknownKey,
    DuplicateKey,
    BadBool,
    NotAList,
    UnknownVersion,
    UnknownCipher,
    UnknownCurve,
    BadDuration,
    HeaderNotAllowed,
    HeaderValue,
    BcryptHash,
    MissingCert,
    MissingKey,
    CertUnreadable,
    KeyPair,
    ClientCaUnreadable,
    ClientAuthType,
    ClientCaWithoutPolicy,
    Http2Cipher,
}

impl Reason {
    pub(crate) fn stage(self) -> Stage {
        use Reason::*;
        match self {
            UnknownKey | DuplicateKey | BadBool | NotAList | UnknownVersion | UnknownCipher
            | UnknownCurve | BadDuration | HeaderNotAllowed | HeaderValue => Stage::Parse,
            BcryptHash
            | MissingCert
            | MissingKey
            | CertUnreadable
            | KeyPair
            | ClientCaUnreadable
            | ClientAuthType
            | ClientCaWithoutPolicy
            | Http2Cipher => Stage::Start,
        }
    }

    /// Words (any one, compared in lower case) an error message for this reason must contain,
    /// so that a user can tell which key to fix.
    pub(crate) fn words(self) -> &'static [&'static str] {
        use Reason::*;
        match self {
            UnknownKey => &["not found", "unknown field", "unknown key"],
            DuplicateKey => &["duplicate", "already set"],
            BadBool => &["bool", "http2", "prefer_server_cipher_suites"],
            NotAList => &["sequence", "list", "cipher_suites"],
            UnknownVersion => &["tls version", "min_version", "max_version"],
            UnknownCipher => &["cipher"],
            UnknownCurve => &["curve"],
            BadDuration => &["duration", "interval"],
            HeaderNotAllowed => &["header"],
            HeaderValue => &["header", "expected one of"],
            BcryptHash => &["bcrypt", "hash"],
            MissingCert => &["cert"],
            MissingKey => &["key"],
            CertUnreadable => &["cert"],
            KeyPair => &["key", "cert", "x509keypair"],
            ClientCaUnreadable => &["client_ca", "client ca"],
            ClientAuthType => &["clientauth", "client_auth_type"],
            ClientCaWithoutPolicy => &["client auth policy", "client_auth_type", "client ca"],
            Http2Cipher => &["http/2", "http2", "aes_128_gcm"],
        }
    }
}

impl Reason {
    /// Words Go's own message for this reason uses, as node_exporter logs it: the toolkit
    /// passes some errors up unwrapped (`open <path>: no such file or directory`,
    /// `strconv.Atoi: parsing "1x"` for a bcrypt cost), so the key is not always named.
    pub(crate) fn go_words(self) -> Vec<&'static str> {
        let extra: &[&str] = match self {
            Reason::BcryptHash => &["crypto/bcrypt", "strconv.atoi"],
            Reason::CertUnreadable | Reason::ClientCaUnreadable => &["no such file"],
            Reason::KeyPair => &["x509keypair"],
            _ => &[],
        };
        self.words().iter().chain(extra).copied().collect()
    }
}

/// The oracle's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Prediction {
    Accept,
    /// Refused at `stage`; the toolkit reports the first of `reasons` it meets, so a message
    /// naming any of them is right.
    Refuse {
        stage: Stage,
        reasons: Vec<Reason>,
    },
}

/// A YAML boolean as written in the file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BoolRepr(&'static str);

impl BoolRepr {
    /// go-yaml v2's boolean table (YAML 1.1), plus tokens it refuses for a bool field.
    const ALL: [&'static str; 14] = [
        "true", "false", "True", "FALSE", "yes", "no", "on", "OFF", "y", "N", "1", "0", "maybe",
        "\"true\"",
    ];

    fn accepted(self) -> bool {
        matches!(
            self.0,
            "true" | "false" | "True" | "FALSE" | "yes" | "no" | "on" | "OFF" | "y" | "N"
        )
    }
}

/// A PEM-bearing file reference or inline value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PemRef {
    /// The right file, by a path relative to the config's directory.
    Relative,
    /// The right file, by absolute path.
    Absolute,
    /// A path that does not exist.
    Missing,
    /// A file that holds no PEM at all.
    Garbage,
    /// A file that holds the wrong thing (a key for a cert, another key for a key).
    Wrong,
}

/// `tls_server_config`.
#[derive(Clone, Debug)]
pub(crate) struct TlsModel {
    pub(crate) cert_file: Option<PemRef>,
    pub(crate) key_file: Option<PemRef>,
    /// Inline `cert` (current toolkit only): valid PEM or not.
    pub(crate) cert_inline: Option<bool>,
    /// Inline `key` (current toolkit only): the matching key or not.
    pub(crate) key_inline: Option<bool>,
    pub(crate) client_auth_type: Option<&'static str>,
    pub(crate) client_ca_file: Option<PemRef>,
    /// Inline `client_ca` (current toolkit only).
    pub(crate) client_ca_inline: bool,
    pub(crate) min_version: Option<&'static str>,
    pub(crate) max_version: Option<&'static str>,
    pub(crate) cipher_suites: Option<Vec<&'static str>>,
    /// `cipher_suites` written as a scalar instead of a list.
    pub(crate) cipher_scalar: bool,
    pub(crate) curve_preferences: Option<Vec<&'static str>>,
    pub(crate) prefer_server_cipher_suites: Option<BoolRepr>,
    pub(crate) client_allowed_sans: Option<Vec<&'static str>>,
    pub(crate) unknown_key: bool,
    pub(crate) duplicate_key: bool,
}

/// `http_server_config`.
#[derive(Clone, Debug)]
pub(crate) struct HttpModel {
    pub(crate) http2: Option<BoolRepr>,
    pub(crate) headers: Vec<(&'static str, &'static str)>,
    pub(crate) unknown_key: bool,
}

/// A bcrypt hash (or not) for one user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HashKind {
    Valid2y,
    Valid2a,
    /// `$2x$`: go's bcrypt takes any minor version letter.
    MinorX,
    /// `$1$`-prefixed, 60 characters: go's bcrypt only refuses majors above 2.
    Major1,
    Plaintext,
    Cost03,
    Cost32,
    CostNotANumber,
    Major3,
    NoDollar,
}

impl HashKind {
    const ALL: [HashKind; 10] = [
        Self::Valid2y,
        Self::Valid2a,
        Self::MinorX,
        Self::Major1,
        Self::Plaintext,
        Self::Cost03,
        Self::Cost32,
        Self::CostNotANumber,
        Self::Major3,
        Self::NoDollar,
    ];

    fn accepted(self) -> bool {
        matches!(
            self,
            Self::Valid2y | Self::Valid2a | Self::MinorX | Self::Major1
        )
    }

    /// The hash text: 60 characters (Go's minimum is 59) except for the plaintext one.
    fn text(self) -> String {
        // 22 characters of salt and 31 of hash, from bcrypt's alphabet: the toolkit only
        // reads the cost at start, so no real hash is needed.
        const TAIL: &str = "abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234";
        match self {
            Self::Valid2y => format!("$2y$10${TAIL}"),
            Self::Valid2a => format!("$2a$04${TAIL}"),
            Self::MinorX => format!("$2x$10${TAIL}"),
            Self::Major1 => format!("$1$10${TAIL}x"),
            Self::Plaintext => "s3cret-password".to_owned(),
            Self::Cost03 => format!("$2y$03${TAIL}"),
            Self::Cost32 => format!("$2y$32${TAIL}"),
            Self::CostNotANumber => format!("$2y$1x${TAIL}"),
            Self::Major3 => format!("$3a$10${TAIL}"),
            Self::NoDollar => format!("x2y$10${TAIL}"),
        }
    }
}

/// `rate_limit` (current toolkit only).
#[derive(Clone, Debug)]
pub(crate) struct RateLimitModel {
    pub(crate) interval: &'static str,
    pub(crate) burst: i32,
}

/// One generated `web-config.yml`.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    /// `None`: no key; `Some(None)`: the key with an empty (null) value.
    pub(crate) tls: Option<Option<TlsModel>>,
    pub(crate) http: Option<Option<HttpModel>>,
    pub(crate) users: Vec<(&'static str, HashKind)>,
    pub(crate) rate_limit: Option<RateLimitModel>,
    pub(crate) unknown_top_key: bool,
}

const VERSIONS: [&str; 7] = [
    "TLS10", "TLS11", "TLS12", "TLS13", "TLS14", "SSL30", "tls12",
];

/// Go 1.19's `tls.CipherSuites()`: the current list plus the four `TLS_RSA_*` suites.
const GO119_ONLY: [&str; 4] = [
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
];

/// Current Go's `tls.CipherSuites()` (the "secure" list).
const GO_SECURE: [&str; 13] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// Names no Go version accepts in `cipher_suites` (insecure list, OpenSSL spelling, typo).
const NEVER_CIPHERS: [&str; 3] = [
    "TLS_RSA_WITH_RC4_128_SHA",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA",
];

/// The suites Go's HTTP/2 server requires in a TLS 1.2 list.
const HTTP2_REQUIRED: [&str; 2] = [
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
];

const CURVES: [&str; 6] = [
    "CurveP256",
    "CurveP384",
    "CurveP521",
    "X25519",
    "P256",
    "x25519",
];

const CLIENT_AUTH: [&str; 9] = [
    "",
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "RequireClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
    "requireandverifyclientcert",
    "VerifyClientCert",
];

const HEADERS: [(&str, &str); 10] = [
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Content-Type-Options", "sniff"),
    ("X-Frame-Options", "deny"),
    ("X-Frame-Options", "sameorigin"),
    ("X-Frame-Options", "DENY"),
    ("X-XSS-Protection", "1; mode=block"),
    ("Content-Security-Policy", "default-src 'self'"),
    ("x-frame-options", "deny"),
    ("Server", "fake"),
];

const INTERVALS: [&str; 6] = ["1s", "250ms", "0s", "1m30s", "5", "soon"];

fn pem_ref() -> impl Strategy<Value = PemRef> {
    prop_oneof![
        6 => Just(PemRef::Relative),
        6 => Just(PemRef::Absolute),
        1 => Just(PemRef::Missing),
        1 => Just(PemRef::Garbage),
        1 => Just(PemRef::Wrong),
    ]
}

fn version() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        8 => prop::sample::select(&VERSIONS[..4]),
        1 => prop::sample::select(&VERSIONS[4..]),
    ]
}

fn bool_repr() -> impl Strategy<Value = BoolRepr> {
    prop_oneof![
        6 => prop::sample::select(&BoolRepr::ALL[..2]).prop_map(BoolRepr),
        3 => prop::sample::select(&BoolRepr::ALL[..]).prop_map(BoolRepr),
    ]
}

fn cipher_name() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        10 => prop::sample::select(&GO_SECURE[..]),
        2 => prop::sample::select(&GO119_ONLY[..]),
        1 => prop::sample::select(&NEVER_CIPHERS[..]),
    ]
}

fn rare<T: std::fmt::Debug + Clone + 'static>(
    strategy: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(0.35, strategy)
}

fn tls_model() -> impl Strategy<Value = TlsModel> {
    let files = (
        prop::option::weighted(0.85, pem_ref()),
        prop::option::weighted(0.85, pem_ref()),
        prop::option::weighted(0.08, prop::bool::weighted(0.75)),
        prop::option::weighted(0.08, prop::bool::weighted(0.75)),
        rare(prop::sample::select(&CLIENT_AUTH[..])),
        prop::option::weighted(0.3, prop_oneof![4 => pem_ref(), 1 => Just(PemRef::Missing)]),
        prop::bool::weighted(0.05),
    );
    let knobs = (
        rare(version()),
        rare(version()),
        prop::option::weighted(0.3, prop::collection::vec(cipher_name(), 0..4)),
        prop::bool::weighted(0.03),
        prop::option::weighted(
            0.15,
            prop::collection::vec(prop::sample::select(&CURVES[..]), 0..3),
        ),
        prop::option::weighted(0.1, bool_repr()),
        prop::option::weighted(0.05, Just(vec!["client.example", "*.example"])),
        prop::bool::weighted(0.03),
        prop::bool::weighted(0.03),
    );
    (files, knobs).prop_map(
        |(
            (
                cert_file,
                key_file,
                cert_inline,
                key_inline,
                client_auth_type,
                client_ca_file,
                ca_inline,
            ),
            (min, max, ciphers, cipher_scalar, curves, prefer, sans, unknown, duplicate),
        )| TlsModel {
            cert_file,
            key_file,
            cert_inline,
            key_inline,
            client_auth_type,
            client_ca_file,
            client_ca_inline: ca_inline,
            min_version: min,
            max_version: max,
            cipher_suites: ciphers,
            cipher_scalar,
            curve_preferences: curves,
            prefer_server_cipher_suites: prefer,
            client_allowed_sans: sans,
            unknown_key: unknown,
            duplicate_key: duplicate,
        },
    )
}

fn http_model() -> impl Strategy<Value = HttpModel> {
    (
        prop::option::weighted(0.5, bool_repr()),
        prop::collection::vec(prop::sample::select(&HEADERS[..]), 0..3),
        prop::bool::weighted(0.03),
    )
        .prop_map(|(http2, mut headers, unknown_key)| {
            // One value per header name: YAML would refuse the duplicate, which is another test.
            let mut seen = std::collections::BTreeSet::new();
            headers.retain(|(name, _)| seen.insert(*name));
            HttpModel {
                http2,
                headers,
                unknown_key,
            }
        })
}

/// The whole file.
pub(crate) fn model() -> impl Strategy<Value = Model> {
    let section = |p: f64| prop::option::weighted(p, prop::option::weighted(0.95, Just(())));
    (
        section(0.75).prop_flat_map(|s| match s {
            None => Just(None).boxed(),
            Some(None) => Just(Some(None)).boxed(),
            Some(Some(())) => tls_model().prop_map(|t| Some(Some(t))).boxed(),
        }),
        section(0.4).prop_flat_map(|s| match s {
            None => Just(None).boxed(),
            Some(None) => Just(Some(None)).boxed(),
            Some(Some(())) => http_model().prop_map(|h| Some(Some(h))).boxed(),
        }),
        prop::collection::vec(
            (
                prop::sample::select(&["alice", "bob", "carol"][..]),
                prop_oneof![
                    8 => prop::sample::select(&HashKind::ALL[..2]),
                    3 => prop::sample::select(&HashKind::ALL[..]),
                ],
            ),
            0..3,
        ),
        prop::option::weighted(
            0.08,
            (prop::sample::select(&INTERVALS[..]), -1i32..20)
                .prop_map(|(interval, burst)| RateLimitModel { interval, burst }),
        ),
        prop::bool::weighted(0.02),
    )
        .prop_map(|(tls, http, mut users, rate_limit, unknown_top_key)| {
            let mut seen = std::collections::BTreeSet::new();
            users.retain(|(name, _)| seen.insert(*name));
            Model {
                tls,
                http,
                users,
                rate_limit,
                unknown_top_key,
            }
        })
}

/// The files a generated config may name, in one directory.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    cert_pem: String,
    key_pem: String,
    other_key_pem: String,
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = rcgen::KeyPair::generate().expect("key");
        let other = rcgen::KeyPair::generate().expect("key");
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("cert params");
        let cert = params.self_signed(&key).expect("self-signed cert");
        let (cert_pem, key_pem, other_key_pem) =
            (cert.pem(), key.serialize_pem(), other.serialize_pem());
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("write fixture file")
        };
        write("server.crt", &cert_pem);
        write("server.key", &key_pem);
        write("other.key", &other_key_pem);
        write("ca.crt", &cert_pem);
        write("garbage.pem", "this is not PEM\n");
        Fixture {
            dir,
            cert_pem,
            key_pem,
            other_key_pem,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where a config file is written (relative paths resolve against its directory).
    pub(crate) fn config_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file_value(&self, what: PemRef, right: &str, wrong: &str) -> String {
        match what {
            PemRef::Relative => right.to_owned(),
            PemRef::Absolute => self.dir.path().join(right).display().to_string(),
            PemRef::Missing => format!("missing-{right}"),
            PemRef::Garbage => "garbage.pem".to_owned(),
            PemRef::Wrong => wrong.to_owned(),
        }
    }
}

fn push_block(out: &mut String, indent: &str, key: &str, text: &str) {
    let _ = writeln!(out, "{indent}{key}: |");
    for line in text.lines() {
        let _ = writeln!(out, "{indent}  {line}");
    }
}

/// The YAML of a model.
pub(crate) fn render(model: &Model, fx: &Fixture) -> String {
    let mut out = String::new();
    match &model.tls {
        None => {}
        Some(None) => out.push_str("tls_server_config:\n"),
        Some(Some(t)) => {
            out.push_str("tls_server_config:\n");
            let i = "  ";
            if let Some(r) = t.cert_file {
                let _ = writeln!(
                    out,
                    "{i}cert_file: {}",
                    fx.file_value(r, "server.crt", "server.key")
                );
            }
            if let Some(r) = t.key_file {
                let _ = writeln!(
                    out,
                    "{i}key_file: {}",
                    fx.file_value(r, "server.key", "other.key")
                );
            }
            if let Some(valid) = t.cert_inline {
                push_block(
                    &mut out,
                    i,
                    "cert",
                    if valid { &fx.cert_pem } else { "not a cert\n" },
                );
            }
            if let Some(matching) = t.key_inline {
                let key = if matching {
                    &fx.key_pem
                } else {
                    &fx.other_key_pem
                };
                push_block(&mut out, i, "key", key);
            }
            if let Some(name) = t.client_auth_type {
                let _ = writeln!(out, "{i}client_auth_type: \"{name}\"");
            }
            if let Some(r) = t.client_ca_file {
                let _ = writeln!(
                    out,
                    "{i}client_ca_file: {}",
                    fx.file_value(r, "ca.crt", "server.key")
                );
            }
            if t.client_ca_inline {
                push_block(&mut out, i, "client_ca", &fx.cert_pem);
            }
            if let Some(v) = t.min_version {
                let _ = writeln!(out, "{i}min_version: {v}");
            }
            if let Some(v) = t.max_version {
                let _ = writeln!(out, "{i}max_version: {v}");
            }
            if t.cipher_scalar {
                let _ = writeln!(
                    out,
                    "{i}cipher_suites: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
                );
            } else if let Some(list) = &t.cipher_suites {
                let _ = writeln!(out, "{i}cipher_suites: [{}]", list.join(", "));
            }
            if let Some(list) = &t.curve_preferences {
                let _ = writeln!(out, "{i}curve_preferences: [{}]", list.join(", "));
            }
            if let Some(b) = t.prefer_server_cipher_suites {
                let _ = writeln!(out, "{i}prefer_server_cipher_suites: {}", b.0);
            }
            if let Some(sans) = &t.client_allowed_sans {
                let _ = writeln!(out, "{i}client_allowed_sans: [\"{}\"]", sans.join("\", \""));
            }
            if t.unknown_key {
                let _ = writeln!(out, "{i}ca_file: ca.crt");
            }
            if t.duplicate_key {
                let _ = writeln!(out, "{i}prefer_server_cipher_suites: true");
                let _ = writeln!(out, "{i}prefer_server_cipher_suites: false");
            }
        }
    }
    match &model.http {
        None => {}
        Some(None) => out.push_str("http_server_config:\n"),
        Some(Some(h)) => {
            out.push_str("http_server_config:\n");
            if let Some(b) = h.http2 {
                let _ = writeln!(out, "  http2: {}", b.0);
            }
            if !h.headers.is_empty() {
                out.push_str("  headers:\n");
                for (name, value) in &h.headers {
                    let _ = writeln!(out, "    {name}: \"{value}\"");
                }
            }
            if h.unknown_key {
                out.push_str("  http_2: true\n");
            }
        }
    }
    if !model.users.is_empty() {
        out.push_str("basic_auth_users:\n");
        for (user, hash) in &model.users {
            let _ = writeln!(out, "  {user}: '{}'", hash.text());
        }
    }
    if let Some(r) = &model.rate_limit {
        let _ = writeln!(
            out,
            "rate_limit:\n  interval: {}\n  burst: {}",
            r.interval, r.burst
        );
    }
    if model.unknown_top_key {
        out.push_str("tls_config:\n  cert_file: server.crt\n");
    }
    out
}

fn version_known(v: &str) -> bool {
    matches!(v, "TLS10" | "TLS11" | "TLS12" | "TLS13")
}

fn cipher_known(toolkit: Toolkit, name: &str) -> bool {
    GO_SECURE.contains(&name) || (toolkit == Toolkit::V0_8 && GO119_ONLY.contains(&name))
}

fn go_duration_ok(text: &str) -> bool {
    // go-yaml v2 decodes a time.Duration from an int (nanoseconds) or a
    // time.ParseDuration string; the generator only uses these shapes.
    matches!(text, "1s" | "250ms" | "0s" | "1m30s" | "5")
}

/// What the toolkit does with `model` at start.
pub(crate) fn predict(model: &Model, toolkit: Toolkit) -> Prediction {
    let mut parse = Vec::new();
    let current = toolkit == Toolkit::Current;
    if model.unknown_top_key || (!current && model.rate_limit.is_some()) {
        parse.push(Reason::UnknownKey);
    }
    if let Some(r) = &model.rate_limit {
        if current && !go_duration_ok(r.interval) {
            parse.push(Reason::BadDuration);
        }
    }
    let tls = match &model.tls {
        Some(Some(t)) => Some(t),
        _ => None,
    };
    if let Some(t) = tls {
        let inline = t.cert_inline.is_some() || t.key_inline.is_some() || t.client_ca_inline;
        if t.unknown_key || (!current && (inline || t.client_allowed_sans.is_some())) {
            parse.push(Reason::UnknownKey);
        }
        if t.duplicate_key {
            parse.push(Reason::DuplicateKey);
        }
        if [t.min_version, t.max_version]
            .into_iter()
            .flatten()
            .any(|v| !version_known(v))
        {
            parse.push(Reason::UnknownVersion);
        }
        if t.cipher_scalar {
            parse.push(Reason::NotAList);
        } else if let Some(list) = &t.cipher_suites {
            if list.iter().any(|c| !cipher_known(toolkit, c)) {
                parse.push(Reason::UnknownCipher);
            }
        }
        if let Some(list) = &t.curve_preferences {
            if list.iter().any(|c| !CURVES[..4].contains(c)) {
                parse.push(Reason::UnknownCurve);
            }
        }
        if t.prefer_server_cipher_suites.is_some_and(|b| !b.accepted()) {
            parse.push(Reason::BadBool);
        }
    }
    let http = match &model.http {
        Some(Some(h)) => Some(h),
        _ => None,
    };
    if let Some(h) = http {
        if h.unknown_key {
            parse.push(Reason::UnknownKey);
        }
        if h.http2.is_some_and(|b| !b.accepted()) {
            parse.push(Reason::BadBool);
        }
    }
    if !parse.is_empty() {
        return refuse(parse);
    }
    // validateHeaderConfig runs only once decoding succeeded.
    if let Some(h) = http {
        for (name, value) in &h.headers {
            match *name {
                "Strict-Transport-Security" | "X-XSS-Protection" | "Content-Security-Policy" => {}
                "X-Content-Type-Options" if *value == "nosniff" => {}
                "X-Frame-Options" if matches!(*value, "deny" | "sameorigin") => {}
                "X-Content-Type-Options" | "X-Frame-Options" => parse.push(Reason::HeaderValue),
                _ => parse.push(Reason::HeaderNotAllowed),
            }
        }
    }
    if !parse.is_empty() {
        return refuse(parse);
    }

    let mut start = Vec::new();
    if model.users.iter().any(|(_, h)| !h.accepted()) {
        start.push(Reason::BcryptHash);
    }
    if let Some(t) = tls {
        start.extend(tls_start_reasons(t, http));
    }
    if start.is_empty() {
        Prediction::Accept
    } else {
        // validateUsers runs first, so with a bad hash the TLS reasons are never reached;
        // keeping them all only widens which words a message may use.
        refuse(start)
    }
}

/// A refusal for `reasons`, all of one stage.
fn refuse(reasons: Vec<Reason>) -> Prediction {
    let stage = reasons[0].stage();
    assert!(
        reasons.iter().all(|r| r.stage() == stage),
        "reasons of two stages: {reasons:?}"
    );
    Prediction::Refuse { stage, reasons }
}

/// `ConfigToTLSConfig` and Go's HTTP/2 setup, for a decoded TLS section.
fn tls_start_reasons(t: &TlsModel, http: Option<&HttpModel>) -> Vec<Reason> {
    let auth = t.client_auth_type.unwrap_or("");
    let enabled = t.cert_file.is_some()
        || t.key_file.is_some()
        || t.cert_inline.is_some()
        || t.key_inline.is_some()
        || t.client_ca_file.is_some()
        || t.client_ca_inline
        || !auth.is_empty();
    if !enabled {
        return Vec::new();
    }
    if t.cert_file.is_none() && t.cert_inline.is_none() {
        return vec![Reason::MissingCert];
    }
    if t.key_file.is_none() && t.key_inline.is_none() {
        return vec![Reason::MissingKey];
    }
    // cert_file wins over cert, key_file over key.
    let cert_ok = match t.cert_file {
        Some(PemRef::Relative | PemRef::Absolute) => true,
        Some(PemRef::Missing) => return vec![Reason::CertUnreadable],
        Some(PemRef::Garbage | PemRef::Wrong) => false,
        None => t.cert_inline == Some(true),
    };
    let key_ok = match t.key_file {
        Some(PemRef::Relative | PemRef::Absolute) => true,
        Some(PemRef::Missing) => return vec![Reason::KeyPair],
        Some(PemRef::Garbage | PemRef::Wrong) => false,
        None => t.key_inline == Some(true),
    };
    if !(cert_ok && key_ok) {
        return vec![Reason::KeyPair];
    }
    let has_ca = t.client_ca_file.is_some() || t.client_ca_inline;
    if t.client_ca_file == Some(PemRef::Missing) {
        return vec![Reason::ClientCaUnreadable];
    }
    // A CA file without certificates (garbage, a key) is read and ignored by
    // x509.CertPool.AppendCertsFromPEM.
    let policy = match auth {
        "" | "NoClientCert" => "NoClientCert",
        "RequestClientCert"
        | "RequireAnyClientCert"
        | "RequireClientCert"
        | "VerifyClientCertIfGiven"
        | "RequireAndVerifyClientCert" => auth,
        _ => return vec![Reason::ClientAuthType],
    };
    if has_ca && policy == "NoClientCert" {
        return vec![Reason::ClientCaWithoutPolicy];
    }
    let http2 = http
        .and_then(|h| h.http2)
        .is_none_or(|b| matches!(b.0, "true" | "True" | "yes" | "on" | "y"));
    let min_below_13 = t.min_version.is_none_or(|v| v != "TLS13");
    if let Some(list) = &t.cipher_suites {
        if http2
            && !list.is_empty()
            && min_below_13
            && !list.iter().any(|c| HTTP2_REQUIRED.contains(c))
        {
            return vec![Reason::Http2Cipher];
        }
    }
    Vec::new()
}
