//! A per-listener cache of the built rustls configuration.
//!
//! exporter-toolkit rebuilds its TLS config (re-reading certificate, key and CA files) for
//! every connection, so a rotated certificate is served without a restart. Rebuilding costs
//! 20–40 µs per handshake (file reads, PEM and key parsing). We keep the semantics and drop
//! the cost: the built config is reused while the parsed web config is the same one and
//! every file it names has the same identity (inode, size, modification time in
//! nanoseconds); any change rebuilds it, exactly as a rebuild per connection would.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{build_server_config_insecure, HandshakePlan, InsecureTls, TlsError};
use crate::web_config::{PemSource, WebConfig};

#[derive(Debug, Clone)]
struct Key {
    /// Held, not just its address: an address could be reused by a later parse.
    config: Arc<WebConfig>,
    http2: bool,
    insecure: InsecureTls,
    files: Vec<(u64, u64, Option<SystemTime>)>,
}

/// Reuses the last built plan while nothing it was built from has changed.
#[derive(Debug, Default)]
pub struct PlanCache {
    last: Mutex<Option<(Key, HandshakePlan)>>,
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config)
            && self.http2 == other.http2
            && self.insecure == other.insecure
            && self.files == other.files
    }
}

fn stamp(path: &Path) -> Option<(u64, u64, Option<SystemTime>)> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(path).ok()?;
    Some((md.ino(), md.len(), md.modified().ok()))
}

impl PlanCache {
    /// The plan for the next connection: cached, or built from `config` now.
    pub fn plan(
        &self,
        config: &Arc<WebConfig>,
        insecure: InsecureTls,
    ) -> Result<HandshakePlan, TlsError> {
        let http2 = config.http_server_config.http2;
        let Some(tls) = config.tls_server_config.as_ref() else {
            return Err(TlsError::NotConfigured);
        };
        let mut files = Vec::new();
        let mut cacheable = true;
        for source in [&tls.cert, &tls.key, &tls.client_ca].into_iter().flatten() {
            if let PemSource::File(path) = source {
                match stamp(path) {
                    Some(s) => files.push(s),
                    None => cacheable = false,
                }
            }
        }
        let key = Key {
            config: Arc::clone(config),
            http2,
            insecure,
            files,
        };
        if cacheable {
            let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((k, plan)) = last.as_ref() {
                if *k == key {
                    return Ok(plan.clone());
                }
            }
        }
        let plan = build_server_config_insecure(tls, http2, insecure)?;
        if cacheable {
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, plan.clone()));
        }
        Ok(plan)
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
        let yaml = format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            cert.display(),
            files.server_key(ServerCert::Valid).display()
        );
        let config =
            Arc::new(WebConfig::from_yaml_str(&yaml, &dir.path().join("web.yml")).expect("valid"));
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
