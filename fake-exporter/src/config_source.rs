//! Where a listener's `web-config.yml` comes from, and exporter-toolkit's re-read semantics.
//!
//! exporter-toolkit re-reads the config file on every HTTP request and on every TLS
//! connection, so an edit (or a breakage) takes effect without a restart. We do the same,
//! but re-parse only when the file's identity (inode, size, modification time in
//! nanoseconds) changed; a `stat` per request keeps the fleet fast and the observable
//! behaviour identical.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::web_config::{WebConfig, WebConfigError};

/// The source of a listener's web config.
#[derive(Debug)]
pub enum ConfigSource {
    /// No `--web.config.file`: plain HTTP, no auth.
    None,
    /// A file re-read on every request and connection.
    File(FileConfig),
    /// A config built in memory (library use), never re-read.
    Static(Arc<WebConfig>),
}

/// A config file with a cache keyed by its identity.
#[derive(Debug)]
pub struct FileConfig {
    path: PathBuf,
    cache: Mutex<Option<(FileStamp, CachedParse)>>,
}

type CachedParse = Result<Arc<WebConfig>, Arc<WebConfigError>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileStamp {
    fn of(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(path)?;
        Ok(Self {
            inode: md.ino(),
            len: md.len(),
            modified: md.modified().ok(),
        })
    }
}

impl ConfigSource {
    /// A source that re-reads `path`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::File(FileConfig {
            path: path.into(),
            cache: Mutex::new(None),
        })
    }

    /// The path of a file source.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::File(f) => Some(&f.path),
            _ => None,
        }
    }

    /// The config as it is now. `Ok(None)` means "no config" (plain, no auth).
    pub fn current(&self) -> Result<Option<Arc<WebConfig>>, Arc<WebConfigError>> {
        match self {
            Self::None => Ok(None),
            Self::Static(c) => Ok(Some(c.clone())),
            Self::File(f) => f.current().map(Some),
        }
    }
}

impl FileConfig {
    fn current(&self) -> CachedParse {
        let stamp = FileStamp::of(&self.path);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let (Ok(stamp), Some((cached_stamp, parsed))) = (&stamp, cache.as_ref()) {
            if stamp == cached_stamp {
                return parsed.clone();
            }
        }
        let parsed = WebConfig::from_file(&self.path)
            .map(Arc::new)
            .map_err(Arc::new);
        match stamp {
            Ok(stamp) => *cache = Some((stamp, parsed.clone())),
            Err(_) => *cache = None,
        }
        parsed
    }
}
