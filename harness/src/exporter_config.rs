//! The `web-config.yml` of exporters the harness starts for itself: bench fleets,
//! `bench servers` and the direct conformance checks. One function writes them all.

use std::fmt::Write as _;
use std::path::Path;

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

/// The YAML text of `spec` (empty for a plain exporter). Strings are written quoted.
// TODO(merge): use WebConfig builder — build a `fake_exporter::WebConfig` and call
// `to_yaml()` once fake-exporter has it; this is the only hand-written web-config left.
pub(crate) fn web_config_yaml(spec: &WebConfigSpec<'_>) -> String {
    let mut y = String::new();
    if let Some((cert, key)) = spec.tls {
        let _ = writeln!(y, "tls_server_config:");
        let _ = writeln!(y, "  cert_file: {:?}", cert.display().to_string());
        let _ = writeln!(y, "  key_file: {:?}", key.display().to_string());
        if let Some(ca) = spec.client_ca {
            let _ = writeln!(y, "  client_auth_type: RequireAndVerifyClientCert");
            let _ = writeln!(y, "  client_ca_file: {:?}", ca.display().to_string());
        }
    }
    if let Some((user, hash)) = spec.basic_user {
        let _ = writeln!(y, "basic_auth_users:\n  {user:?}: {hash:?}");
    }
    if let Some(token) = spec.bearer_token {
        let _ = writeln!(
            y,
            "# fake-exporter extension (not exporter-toolkit):\nfake_exporter:\n  bearer_auth:\n    tokens: [{token:?}]"
        );
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_with_client_ca_and_basic_auth() {
        let spec = WebConfigSpec {
            tls: Some((Path::new("/p/server.crt"), Path::new("/p/server.key"))),
            client_ca: Some(Path::new("/p/ca.crt")),
            basic_user: Some(("prom", "$2b$10$x")),
            bearer_token: None,
        };
        assert_eq!(
            web_config_yaml(&spec),
            "tls_server_config:\n  cert_file: \"/p/server.crt\"\n  key_file: \"/p/server.key\"\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: \"/p/ca.crt\"\n\
             basic_auth_users:\n  \"prom\": \"$2b$10$x\"\n"
        );
        assert_eq!(web_config_yaml(&WebConfigSpec::default()), "");
    }
}
