//! Go-compatible value types: the names exporter-toolkit accepts for TLS versions, cipher
//! suites, curves and client-auth policies, plus Go's duration syntax, yaml.v2 booleans and
//! the bcrypt hash check `bcrypt.Cost` performs. Each one is parsed exactly as the toolkit
//! parses it, so a value Go rejects is rejected here with the same wording.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A TLS protocol version as named in `min_version` / `max_version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// `TLS10`: Go can speak it, rustls cannot.
    Tls10,
    /// `TLS11`: Go can speak it, rustls cannot.
    Tls11,
    /// `TLS12`, the toolkit's default `min_version`.
    Tls12,
    /// `TLS13`, the toolkit's default `max_version`.
    Tls13,
}

impl TlsVersion {
    /// Every version, oldest first.
    pub const ALL: [Self; 4] = [Self::Tls10, Self::Tls11, Self::Tls12, Self::Tls13];

    /// The name used in `web-config.yml`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tls10 => "TLS10",
            Self::Tls11 => "TLS11",
            Self::Tls12 => "TLS12",
            Self::Tls13 => "TLS13",
        }
    }

    /// Whether rustls can negotiate this version.
    pub fn rustls_supported(self) -> bool {
        matches!(self, Self::Tls12 | Self::Tls13)
    }
}

impl Serialize for TlsVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::ALL
            .into_iter()
            .find(|v| v.name() == name)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "unknown TLS version: {name} (expected one of TLS10, TLS11, TLS12, TLS13)"
                ))
            })
    }
}

/// A cipher suite name from Go's `tls.CipherSuites()` (the only list the toolkit accepts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CipherSuite {
    /// The Go constant name, e.g. `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`.
    pub name: &'static str,
    /// The IANA code point.
    pub id: u16,
}

impl CipherSuite {
    /// Go's `tls.CipherSuites()` in current Go releases (the "secure" list). The `TLS_RSA_*`
    /// suites moved to `tls.InsecureCipherSuites()`, which the toolkit does not accept.
    pub const GO_SECURE: [CipherSuite; 13] = [
        Self::new("TLS_AES_128_GCM_SHA256", 0x1301),
        Self::new("TLS_AES_256_GCM_SHA384", 0x1302),
        Self::new("TLS_CHACHA20_POLY1305_SHA256", 0x1303),
        Self::new("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xc009),
        Self::new("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 0xc00a),
        Self::new("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xc013),
        Self::new("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 0xc014),
        Self::new("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xc02b),
        Self::new("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xc02c),
        Self::new("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xc02f),
        Self::new("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xc030),
        Self::new("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca8),
        Self::new("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca9),
    ];

    const fn new(name: &'static str, id: u16) -> Self {
        Self { name, id }
    }

    /// Whether this is a TLS 1.3 suite (Go ignores those in `cipher_suites`).
    pub fn is_tls13(self) -> bool {
        (0x1301..=0x1303).contains(&self.id)
    }
}

impl Serialize for CipherSuite {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name)
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl<'de> Deserialize<'de> for CipherSuite {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::GO_SECURE
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "unknown cipher: {name} (only the names Go's tls.CipherSuites() returns are \
                     accepted, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"
                ))
            })
    }
}

/// An elliptic curve name from the toolkit's `curve_preferences` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    /// `CurveP256` (secp256r1).
    P256,
    /// `CurveP384` (secp384r1).
    P384,
    /// `CurveP521` (secp521r1): Go has it, rustls with ring does not.
    P521,
    /// `X25519`.
    X25519,
}

impl Curve {
    /// Every curve the toolkit knows.
    pub const ALL: [Self; 4] = [Self::P256, Self::P384, Self::P521, Self::X25519];

    /// The name used in `web-config.yml`.
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "CurveP256",
            Self::P384 => "CurveP384",
            Self::P521 => "CurveP521",
            Self::X25519 => "X25519",
        }
    }
}

impl Serialize for Curve {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Curve {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "unknown curve: {name} (expected one of CurveP256, CurveP384, CurveP521, X25519)"
                ))
            })
    }
}

/// Go's `tls.ClientAuthType`, as selected by `client_auth_type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ClientAuthType {
    /// `NoClientCert`: never ask for a certificate.
    #[default]
    NoClientCert,
    /// `RequestClientCert`: ask, accept anything, including nothing.
    RequestClientCert,
    /// `RequireAnyClientCert`: require a certificate, never verify it.
    RequireAnyClientCert,
    /// `RequireClientCert`: the toolkit's backwards-compatible alias of
    /// [`ClientAuthType::RequireAnyClientCert`]. It does NOT verify the certificate; kept as
    /// its own variant so that a config written with it is written back the same way.
    RequireClientCert,
    /// `VerifyClientCertIfGiven`: verify a certificate when one is sent.
    VerifyClientCertIfGiven,
    /// `RequireAndVerifyClientCert`: require a certificate and verify it.
    RequireAndVerifyClientCert,
}

impl ClientAuthType {
    /// Every name the toolkit accepts, the alias included.
    pub const ALL: [Self; 6] = [
        Self::NoClientCert,
        Self::RequestClientCert,
        Self::RequireAnyClientCert,
        Self::RequireClientCert,
        Self::VerifyClientCertIfGiven,
        Self::RequireAndVerifyClientCert,
    ];

    /// Parses the toolkit's names (case-sensitive). The empty string is not a name: it
    /// means "not set" (see [`ClientAuth`]).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The name as written in `web-config.yml`.
    pub fn name(self) -> &'static str {
        match self {
            Self::NoClientCert => "NoClientCert",
            Self::RequestClientCert => "RequestClientCert",
            Self::RequireAnyClientCert => "RequireAnyClientCert",
            Self::RequireClientCert => "RequireClientCert",
            Self::VerifyClientCertIfGiven => "VerifyClientCertIfGiven",
            Self::RequireAndVerifyClientCert => "RequireAndVerifyClientCert",
        }
    }

    /// The policy this name selects: the alias `RequireClientCert` becomes
    /// `RequireAnyClientCert`, every other name stays.
    pub fn canonical(self) -> Self {
        match self {
            Self::RequireClientCert => Self::RequireAnyClientCert,
            other => other,
        }
    }

    /// Whether the server sends a CertificateRequest.
    pub fn requests_cert(self) -> bool {
        self != Self::NoClientCert
    }

    /// Whether a handshake without a client certificate fails.
    pub fn requires_cert(self) -> bool {
        matches!(
            self.canonical(),
            Self::RequireAnyClientCert | Self::RequireAndVerifyClientCert
        )
    }

    /// Whether a presented certificate is verified against the client CAs.
    pub fn verifies_cert(self) -> bool {
        matches!(
            self,
            Self::VerifyClientCertIfGiven | Self::RequireAndVerifyClientCert
        )
    }
}

impl std::str::FromStr for ClientAuthType {
    type Err = InvalidClientAuthType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| InvalidClientAuthType(s.to_owned()))
    }
}

/// A `client_auth_type` name the toolkit does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid ClientAuth {0:?}; use one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert")]
pub struct InvalidClientAuthType(pub String);

/// `client_auth_type` as the file sets it. The toolkit reports an unknown name when it
/// builds the TLS config, not while parsing, and a set name (even `NoClientCert`) turns TLS
/// on; both are kept here so the checks happen at the same moments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// Not set (or the empty string): `NoClientCert`, and it does not turn TLS on.
    #[default]
    Unset,
    /// One of the toolkit's names.
    Set(ClientAuthType),
    /// A name the toolkit rejects when the TLS config is built.
    Invalid(InvalidClientAuthType),
}

impl ClientAuth {
    /// Reads the value of the key as the toolkit does.
    pub fn from_name(name: &str) -> Self {
        if name.is_empty() {
            return Self::Unset;
        }
        match name.parse() {
            Ok(t) => Self::Set(t),
            Err(invalid) => Self::Invalid(invalid),
        }
    }

    /// Whether the key was set (a set key turns TLS on).
    pub fn is_set(&self) -> bool {
        !matches!(self, Self::Unset)
    }

    /// The policy, or why the name is invalid.
    pub fn policy(&self) -> Result<ClientAuthType, &InvalidClientAuthType> {
        match self {
            Self::Unset => Ok(ClientAuthType::NoClientCert),
            Self::Set(t) => Ok(*t),
            Self::Invalid(invalid) => Err(invalid),
        }
    }

    /// The text written back to `web-config.yml` (`None` when unset).
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Unset => None,
            Self::Set(t) => Some(t.name()),
            Self::Invalid(InvalidClientAuthType(name)) => Some(name),
        }
    }
}

impl From<ClientAuthType> for ClientAuth {
    fn from(t: ClientAuthType) -> Self {
        Self::Set(t)
    }
}

impl Serialize for ClientAuthType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl fmt::Display for ClientAuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A boolean as go-yaml v2 (YAML 1.1) reads it: `true/false`, `yes/no`, `on/off`, `y/n` in
/// the three usual casings, written as plain scalars.
///
/// go-yaml v2 refuses a quoted scalar (`"true"`, `'yes'`) for a bool field. serde hands a
/// plain `true`/`True`/`TRUE` (and the `false` forms) over as a bool, so these words arriving
/// as a string were quoted and are refused here too. The YAML 1.1 words (`yes`, `on`, `y`...)
/// arrive as a string either way: a quoted one is accepted here where go-yaml v2 refuses it.
pub fn yaml11_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    struct BoolVisitor;
    impl Visitor<'_> for BoolVisitor {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean (true or false)")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v {
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Ok(true),
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Ok(false),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }
    }
    deserializer.deserialize_any(BoolVisitor)
}

/// [`yaml11_bool`] for an optional key (`#[serde(default, deserialize_with = ...)]`): a
/// `null` value is `None`, as in go-yaml v2 for a `*bool`.
pub fn yaml11_bool_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    Option::<Yaml11Bool>::deserialize(deserializer).map(|b| b.map(|Yaml11Bool(b)| b))
}

/// A bool read by [`yaml11_bool`].
struct Yaml11Bool(bool);

impl<'de> Deserialize<'de> for Yaml11Bool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        yaml11_bool(deserializer).map(Self)
    }
}

/// A Go `time.Duration` as go-yaml v2 reads it: a string in `time.ParseDuration` syntax
/// (`"1s"`, `"1m30s"`, `"250ms"`) or a bare integer counting nanoseconds. Negative
/// durations come back as `None` (the toolkit's limiter then never limits).
pub(crate) fn go_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    struct DurationVisitor;
    impl Visitor<'_> for DurationVisitor {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a Go duration such as \"1s\" or \"250ms\"")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(u64::try_from(v).ok().map(Duration::from_nanos))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Duration::from_nanos(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_go_duration(v).map_err(E::custom)
        }
    }
    deserializer.deserialize_any(DurationVisitor)
}

/// Why a Go duration did not parse; the messages are Go's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GoDurationError {
    /// Not in `time.ParseDuration` syntax.
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    /// A number without a unit.
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    /// A unit Go does not know.
    #[error("time: unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit.
        unit: String,
        /// The whole input.
        input: String,
    },
}

/// Parses Go's `time.ParseDuration` syntax. `Ok(None)` means a negative duration.
pub(crate) fn parse_go_duration(input: &str) -> Result<Option<Duration>, GoDurationError> {
    let invalid = || GoDurationError::Invalid(input.to_owned());
    let (negative, mut rest) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if rest == "0" {
        return Ok(Some(Duration::ZERO));
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(GoDurationError::MissingUnit(input.to_owned())),
            unit => {
                return Err(GoDurationError::UnknownUnit {
                    unit: unit.to_owned(),
                    input: input.to_owned(),
                })
            }
        };
        total += value * nanos_per_unit;
        rest = &rest[unit_len..];
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    if negative && total > 0.0 {
        return Ok(None);
    }
    Ok(Some(Duration::from_nanos(total as u64)))
}

/// Writes a duration in Go's `time.ParseDuration` syntax, exactly (no rounding).
pub(crate) fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        "0s".to_owned()
    } else if nanos % 1_000_000_000 == 0 {
        format!("{}s", nanos / 1_000_000_000)
    } else if nanos % 1_000_000 == 0 {
        format!("{}ms", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!("{}us", nanos / 1_000)
    } else {
        format!("{nanos}ns")
    }
}

/// Why Go's `bcrypt.Cost` rejects a hash; the messages are Go's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BcryptCostError {
    /// Fewer than 59 bytes.
    #[error("crypto/bcrypt: hashedSecret too short to be a bcrypted password")]
    TooShort,
    /// The first byte is not `$`.
    #[error(
        "crypto/bcrypt: bcrypt hashes must start with '$', but hashedSecret started with '{0}'"
    )]
    Prefix(char),
    /// A major version above 2.
    #[error(
        "crypto/bcrypt: bcrypt algorithm version '{0}' requested is newer than current version '2'"
    )]
    Version(char),
    /// The cost field is not a number.
    #[error("strconv.Atoi: parsing {0:?}: invalid syntax")]
    NotANumber(String),
    /// The cost is outside 4..=31.
    #[error("crypto/bcrypt: cost {0} is outside allowed range (4,31)")]
    OutOfRange(i64),
}

/// What Go's `bcrypt.Cost` checks, which is all the toolkit checks at start-up: length,
/// the `$` prefix, the major version and a cost in 4..=31. Returns the cost.
pub(crate) fn go_bcrypt_cost(hash: &str) -> Result<u32, BcryptCostError> {
    let bytes = hash.as_bytes();
    if bytes.len() < 59 {
        return Err(BcryptCostError::TooShort);
    }
    if bytes[0] != b'$' {
        return Err(BcryptCostError::Prefix(char::from(bytes[0])));
    }
    if bytes[1] > b'2' {
        return Err(BcryptCostError::Version(char::from(bytes[1])));
    }
    let cost_at = if bytes[2] != b'$' { 4 } else { 3 };
    let cost_bytes = &bytes[cost_at..cost_at + 2];
    let cost_text = String::from_utf8_lossy(cost_bytes).into_owned();
    let cost: i64 = cost_text
        .parse()
        .map_err(|_| BcryptCostError::NotANumber(cost_text.clone()))?;
    if !(4..=31).contains(&cost) {
        return Err(BcryptCostError::OutOfRange(cost));
    }
    // The range check above makes the conversion lossless.
    Ok(cost as u32)
}

/// Parses an RFC 3339 timestamp (`2030-01-02T03:04:05Z`, `...05.5+02:00`).
pub(crate) fn parse_rfc3339(input: &str) -> Result<SystemTime, time::error::Parse> {
    let parsed =
        time::OffsetDateTime::parse(input, &time::format_description::well_known::Rfc3339)?;
    Ok(parsed.into())
}

/// Writes an RFC 3339 timestamp in UTC that [`parse_rfc3339`] reads back exactly.
pub(crate) fn format_rfc3339(at: SystemTime) -> Result<String, time::error::Format> {
    time::OffsetDateTime::from(at).format(&time::format_description::well_known::Rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_like_time_parse_duration() {
        for (input, want) in [
            ("0", Some(Duration::ZERO)),
            ("1s", Some(Duration::from_secs(1))),
            ("1m30s", Some(Duration::from_secs(90))),
            ("250ms", Some(Duration::from_millis(250))),
            ("1.5h", Some(Duration::from_secs(5400))),
            ("10us", Some(Duration::from_micros(10))),
            ("10\u{b5}s", Some(Duration::from_micros(10))),
            ("-1s", None),
        ] {
            assert_eq!(parse_go_duration(input), Ok(want), "input: {input}");
        }
        for input in ["", "1", "1d", "s", "1..5s", "-"] {
            assert!(parse_go_duration(input).is_err(), "input: {input}");
        }
    }

    #[test]
    fn bcrypt_cost_matches_go() {
        let good = "$2y$10$qRTBuFoULoYNA7AQ/F3ck.trZBPyjV64.oA4ZsSBCIWvXuvQlQTuu";
        assert_eq!(go_bcrypt_cost(good), Ok(10));
        let err = go_bcrypt_cost("doe").unwrap_err().to_string();
        assert!(err.contains("hashedSecret too short"), "{err}");
        let high = good.replace("$10$", "$32$");
        let message = |hash: &str| go_bcrypt_cost(hash).unwrap_err().to_string();
        assert!(message(&high).contains("cost 32"));
        let prefix = good.replacen('$', "x", 1);
        assert!(message(&prefix).contains("must start with '$'"));
        let version = good.replacen("$2y", "$3y", 1);
        assert!(message(&version).contains("newer"));
    }

    #[test]
    fn rfc3339_timestamps_parse() {
        use std::time::UNIX_EPOCH;
        let t = parse_rfc3339("1970-01-02T00:00:01Z").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(86_401));
        let t = parse_rfc3339("1970-01-01T02:00:00.5+02:00").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_millis(500));
        let t = parse_rfc3339("2000-03-01T00:00:00Z").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(951_868_800));
        for bad in [
            "2030-01-01",
            "2030-13-01T00:00:00Z",
            "2030-01-01T00:00:00",
            "tomorrow",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "input: {bad}");
        }
    }

    #[test]
    fn require_client_cert_alias_does_not_verify() {
        let alias = ClientAuthType::parse("RequireClientCert").unwrap();
        assert_eq!(alias.canonical(), ClientAuthType::RequireAnyClientCert);
        assert!(!alias.verifies_cert());
        assert!(alias.requires_cert());
        assert_eq!(ClientAuth::from_name(""), ClientAuth::Unset);
        assert_eq!(
            ClientAuth::from_name("").policy(),
            Ok(ClientAuthType::NoClientCert)
        );
        assert_eq!(ClientAuthType::parse("requireandverifyclientcert"), None);
    }

    #[test]
    fn go_durations_format_back_exactly() {
        for d in [
            Duration::ZERO,
            Duration::from_secs(90),
            Duration::from_millis(250),
            Duration::from_micros(10),
            Duration::from_nanos(1_000_000_001),
        ] {
            assert_eq!(parse_go_duration(&format_go_duration(d)), Ok(Some(d)));
        }
    }
}
