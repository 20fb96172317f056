//! A value computed from files, reused while every file keeps its identity.
//!
//! exporter-toolkit re-reads its config file on every request and connection, and its
//! certificate, key and CA files on every connection, so an edit (or a breakage) takes effect
//! without a restart. Re-reading and re-parsing costs 20–40 µs per connection; a `stat` per
//! file costs about 1 µs. [`FileCache`] keeps the re-read semantics at the lower cost: the
//! value is rebuilt whenever any file's identity (inode, size, modification time in
//! nanoseconds) differs from when it was built, so a replaced, rewritten or touched file is
//! seen by the next request or connection, exactly as a re-read would see it. A file that
//! cannot be `stat`ed disables the cache until it can be, so the builder reports the error
//! every time, as a re-read would.
//!
//! Two users: [`crate::config_source`] (the parsed web config, parse errors included) and
//! the TLS plan cache (the built rustls config, keyed also by the parsed config it came from).

use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(path).ok()?;
        Some(Self {
            inode: md.ino(),
            len: md.len(),
            modified: md.modified().ok(),
        })
    }
}

/// The last value built from a set of files and a key, reused while both are unchanged.
#[derive(Debug)]
pub(crate) struct FileCache<K, V> {
    last: Mutex<Option<Entry<K, V>>>,
}

#[derive(Debug)]
struct Entry<K, V> {
    key: K,
    stamps: Vec<FileStamp>,
    value: V,
}

impl<K, V> Default for FileCache<K, V> {
    fn default() -> Self {
        Self {
            last: Mutex::new(None),
        }
    }
}

impl<K: PartialEq, V: Clone> FileCache<K, V> {
    /// The cached value when `key` equals the cached key and every file in `files` has the
    /// identity it had then; otherwise `build()` now. A built value is kept only when it is
    /// `Ok` and every file could be `stat`ed.
    pub(crate) fn get_or_build<'p, E>(
        &self,
        key: K,
        files: impl IntoIterator<Item = &'p Path>,
        build: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        let stamps: Option<Vec<FileStamp>> = files.into_iter().map(FileStamp::of).collect();
        let Some(stamps) = stamps else {
            *self.lock() = None;
            return build();
        };
        if let Some(entry) = self.lock().as_ref() {
            if entry.key == key && entry.stamps == stamps {
                return Ok(entry.value.clone());
            }
        }
        let value = build()?;
        *self.lock() = Some(Entry {
            key,
            stamps,
            value: value.clone(),
        });
        Ok(value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Entry<K, V>>> {
        // Every update replaces the whole entry: a poisoned lock still holds a valid one.
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::convert::Infallible;

    use super::*;

    #[test]
    fn rebuilds_when_a_file_or_the_key_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        std::fs::write(&file, "one").expect("write");
        let cache = FileCache::<u8, usize>::default();
        let builds = Cell::new(0);
        let get = |key: u8| {
            cache
                .get_or_build(key, [file.as_path()], || {
                    builds.set(builds.get() + 1);
                    Ok::<_, Infallible>(builds.get())
                })
                .expect("infallible")
        };
        assert_eq!((get(1), get(1)), (1, 1), "unchanged: reused");
        std::fs::write(&file, "three").expect("rewrite");
        assert_eq!(get(1), 2, "a rewritten file is re-read");
        assert_eq!(get(2), 3, "another key rebuilds");
        std::fs::remove_file(&file).expect("remove");
        assert_eq!((get(2), get(2)), (4, 5), "a missing file is never cached");
    }

    #[test]
    fn errors_are_not_kept() {
        let cache = FileCache::<(), u8>::default();
        let err: Result<u8, &str> = cache.get_or_build((), [], || Err("broken"));
        assert_eq!(err, Err("broken"));
        assert_eq!(cache.get_or_build((), [], || Ok::<_, &str>(7)), Ok(7));
        assert_eq!(cache.get_or_build((), [], || Err("not called")), Ok(7));
    }
}
