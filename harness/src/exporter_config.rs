//! The `web-config.yml` of exporters the harness starts for itself: bench fleets,
//! `bench servers` and the direct conformance checks. One function writes them all.

use std::path::Path;

use fake_exporter::{ClientAuthType, PemSource, WebConfig};

/// What a generated web-config asks for; `Default` is a plain exporter without auth.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WebConfigSpec<'a> {
    /// Server certificate and key files: the exporter speaks TLS.
    pub(crate) tls: Option<(&'a Path, &'a Path)>,
    /// With `tls`: demand and verify client certificates signed by this CA
    /// (`RequireAndVerifyClientCert`).
    pub(crate) client_ca: Option<&'a Path>,
    /// One Basic-auth user and its bcrypt hash.
    pub(crate) basic_user: Option<(&'a str, &'a str)>,
    /// One static Bearer token (fake-exporter extension, not exporter-toolkit).
    pub(crate) bearer_token: Option<&'a str>,
}

/// The YAML text of `spec`, written by serde from a typed [`WebConfig`].
pub(crate) fn web_config_yaml(spec: &WebConfigSpec<'_>) -> String {
    let mut config = WebConfig::builder();
    if let Some((cert, key)) = spec.tls {
        config = config.cert(PemSource::file(cert)).key(PemSource::file(key));
        if let Some(ca) = spec.client_ca {
            config = config
                .client_auth(ClientAuthType::RequireAndVerifyClientCert)
                .client_ca(PemSource::file(ca));
        }
    }
    if let Some((user, hash)) = spec.basic_user {
        config = config.basic_auth_user(user, hash);
    }
    if let Some(token) = spec.bearer_token {
        config = config.bearer_token(token);
    }
    // Invariant: `build` only checks response headers, and none are set here.
    config
        .build()
        .expect("a config without headers always builds")
        .to_yaml()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_with_client_ca_and_basic_auth_round_trips() {
        let spec = WebConfigSpec {
            tls: Some((Path::new("/p/server.crt"), Path::new("/p/server.key"))),
            client_ca: Some(Path::new("/p/ca.crt")),
            basic_user: Some(("prom", "$2b$10$x")),
            bearer_token: Some("t0ken"),
        };
        let yaml = web_config_yaml(&spec);
        let parsed = WebConfig::from_yaml_str(&yaml, Path::new("/p/web-config.yml")).unwrap();
        let tls = parsed.tls_server_config.as_ref().expect("TLS");
        assert_eq!(tls.cert, Some(PemSource::file("/p/server.crt")));
        assert_eq!(tls.client_ca, Some(PemSource::file("/p/ca.crt")));
        assert_eq!(
            tls.client_auth_type.policy().ok(),
            Some(ClientAuthType::RequireAndVerifyClientCert)
        );
        assert_eq!(parsed.basic_auth_users["prom"], "$2b$10$x");
        let bearer = parsed.fake_exporter.bearer_auth.as_ref().expect("bearer");
        assert_eq!(bearer.tokens, ["t0ken"]);
        let plain = web_config_yaml(&WebConfigSpec::default());
        let parsed = WebConfig::from_yaml_str(&plain, Path::new("/p/web-config.yml")).unwrap();
        assert!(parsed.tls_server_config.is_none(), "{plain}");
    }
}
