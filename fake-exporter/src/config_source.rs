//! Where a listener's `web-config.yml` comes from, and exporter-toolkit's re-read semantics.
//!
//! exporter-toolkit re-reads the config file on every HTTP request and on every TLS
//! connection, so an edit (or a breakage) takes effect without a restart. We do the same,
//! but re-parse only when the file's identity (inode, size, modification time in
//! nanoseconds) changed; a `stat` per request keeps the fleet fast and the observable
//! behaviour identical.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use crate::file_cache::FileCache;
use crate::web_config::{WebConfig, WebConfigError};

/// The source of a listener's web config.
#[derive(Debug)]
pub(crate) enum ConfigSource {
    /// No web config: plain HTTP, no auth.
    None,
    /// A file re-read on every request and connection.
    File(FileConfig),
    /// A config built in memory (library use), never re-read.
    Static(Arc<WebConfig>),
}

/// A config file with a cache keyed by its identity. Parse errors are cached too: a broken
/// file stays broken (HTTP 500, aborted handshakes) until it changes.
#[derive(Debug)]
pub(crate) struct FileConfig {
    path: PathBuf,
    cache: FileCache<(), CachedParse>,
}

type CachedParse = Result<Arc<WebConfig>, Arc<WebConfigError>>;

impl ConfigSource {
    /// A source that re-reads `path`.
    pub(crate) fn file(path: impl Into<PathBuf>) -> Self {
        Self::File(FileConfig {
            path: path.into(),
            cache: FileCache::default(),
        })
    }

    /// The config as it is now. `Ok(None)` means "no config" (plain, no auth).
    pub(crate) fn current(&self) -> Result<Option<Arc<WebConfig>>, Arc<WebConfigError>> {
        match self {
            Self::None => Ok(None),
            Self::Static(c) => Ok(Some(c.clone())),
            Self::File(f) => f.current().map(Some),
        }
    }
}

impl FileConfig {
    fn current(&self) -> CachedParse {
        let parsed = self.cache.get_or_build((), [self.path.as_path()], || {
            Ok::<_, Infallible>(
                WebConfig::from_file(&self.path)
                    .map(Arc::new)
                    .map_err(Arc::new),
            )
        });
        match parsed {
            Ok(parsed) => parsed,
            Err(never) => match never {},
        }
    }
}
