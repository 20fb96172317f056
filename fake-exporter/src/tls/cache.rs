//! A per-listener cache of the built rustls configuration.
//!
//! exporter-toolkit rebuilds its TLS config (re-reading certificate, key and CA files) for
//! every connection, so a rotated certificate is served without a restart. Rebuilding costs
//! 20–40 µs per handshake (file reads, PEM and key parsing). We keep the semantics and drop
//! the cost with a [`FileCache`]: the built config is reused while the parsed web config is
//! the same one and every file it names has the same identity; any change rebuilds it,
//! exactly as a rebuild per connection would.

use std::sync::Arc;

use super::{build_server_config_insecure, HandshakePlan, InsecureTls, TlsError};
use crate::file_cache::FileCache;
use crate::web_config::{PemSource, WebConfig};

#[derive(Debug, Clone)]
struct Key {
    /// Held, not just its address: an address could be reused by a later parse.
    config: Arc<WebConfig>,
    insecure: InsecureTls,
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config) && self.insecure == other.insecure
    }
}

/// Reuses the last built plan while nothing it was built from has changed.
#[derive(Debug, Default)]
pub(crate) struct PlanCache {
    last: FileCache<Key, HandshakePlan>,
}

impl PlanCache {
    /// The plan for the next connection: cached, or built from `config` now.
    pub(crate) fn plan(
        &self,
        config: &Arc<WebConfig>,
        insecure: InsecureTls,
    ) -> Result<HandshakePlan, TlsError> {
        let Some(tls) = config.tls_server_config.as_ref() else {
            return Err(TlsError::NotConfigured);
        };
        let files = [&tls.cert, &tls.key, &tls.client_ca]
            .into_iter()
            .filter_map(|source| match source {
                Some(PemSource::File(path)) => Some(path.as_path()),
                _ => None,
            });
        let key = Key {
            config: Arc::clone(config),
            insecure,
        };
        self.last.get_or_build(key, files, || {
            build_server_config_insecure(tls, config.http_server_config.http2, insecure)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{KeyType, Pki, ServerCert};

    fn served(plan: &HandshakePlan) -> Arc<rustls::ServerConfig> {
        match plan {
            HandshakePlan::Serve { config, .. } => config.clone(),
            HandshakePlan::Reject { .. } => panic!("expected a servable plan"),
        }
    }

    #[test]
    fn reuses_the_plan_until_a_file_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Pki::generate(KeyType::EcdsaP256)
            .expect("pki")
            .write_to(dir.path())
            .expect("written");
        let cert = dir.path().join("served.crt");
        std::fs::copy(files.server_cert(ServerCert::Valid), &cert).expect("copy");
        let config = WebConfig::builder()
            .cert(PemSource::file(&cert))
            .key(PemSource::file(files.server_key(ServerCert::Valid)))
            .build()
            .expect("valid");
        let config = Arc::new(config);
        let cache = PlanCache::default();
        let a = served(&cache.plan(&config, InsecureTls::default()).expect("builds"));
        let b = served(&cache.plan(&config, InsecureTls::default()).expect("builds"));
        assert!(
            Arc::ptr_eq(&a, &b),
            "unchanged files: the built config is reused"
        );

        // Rotation: a new certificate on disk (same key) is picked up by the next connection.
        std::fs::copy(files.server_cert(ServerCert::Expired), &cert).expect("rotate");
        let c = served(&cache.plan(&config, InsecureTls::default()).expect("builds"));
        assert!(!Arc::ptr_eq(&b, &c), "a changed file rebuilds the config");

        // A different parse of the web config (the file was edited) rebuilds too.
        let reparsed = Arc::new((*config).clone());
        let d = served(
            &cache
                .plan(&reparsed, InsecureTls::default())
                .expect("builds"),
        );
        assert!(!Arc::ptr_eq(&c, &d));
    }
}
