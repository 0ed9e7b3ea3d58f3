//! Local offset storage.
//!
//! One JSON file holds Connect-style offsets: a list of `{"key": ["<connector>",
//! {"server": "<prefix>"}], "value": {…Debezium offset…}}`. Every commit rewrites the file
//! atomically (write a temporary file, fsync it, rename over the old one, fsync the directory),
//! so a crash leaves either the old or the new offsets, never a torn file.

use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};
use sluice_core::traits::OffsetStoreError;
use sluice_core::{OffsetKey, OffsetStore, Position};

#[derive(Debug)]
pub struct FileOffsetStore {
    path: PathBuf,
    entries: Vec<(OffsetKey, Json)>,
}

impl FileOffsetStore {
    pub fn open(path: &Path) -> Result<FileOffsetStore, OffsetStoreError> {
        let p = path.display().to_string();
        let mut entries = Vec::new();
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|source| OffsetStoreError::Io {
                path: p.clone(),
                source,
            })?;
            let doc: Json = serde_json::from_str(&text).map_err(|e| OffsetStoreError::Corrupt {
                path: p.clone(),
                reason: e.to_string(),
            })?;
            for item in doc
                .get("offsets")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let key = item
                    .get("key")
                    .and_then(OffsetKey::from_json)
                    .ok_or_else(|| OffsetStoreError::Corrupt {
                        path: p.clone(),
                        reason: format!("bad offset key in {item}"),
                    })?;
                entries.push((key, item.get("value").cloned().unwrap_or(Json::Null)));
            }
        }
        Ok(FileOffsetStore {
            path: path.to_path_buf(),
            entries,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self) -> Result<(), OffsetStoreError> {
        let p = self.path.display().to_string();
        let io = |source| OffsetStoreError::Io {
            path: p.clone(),
            source,
        };
        let doc = json!({
            "offsets": self.entries.iter().map(|(k, v)| json!({"key": k.to_json(), "value": v})).collect::<Vec<_>>()
        });
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let tmp = self.path.with_extension("tmp");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(
                serde_json::to_string_pretty(&doc)
                    .unwrap_or_default()
                    .as_bytes(),
            )
            .map_err(io)?;
            f.write_all(b"\n").map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Removes a partition's offset (the connector then starts over per its `snapshot.mode`).
    pub fn remove(&mut self, key: &OffsetKey) -> Result<bool, OffsetStoreError> {
        let before = self.entries.len();
        self.entries.retain(|(k, _)| k != key);
        if self.entries.len() == before {
            return Ok(false);
        }
        self.write()?;
        Ok(true)
    }

    /// Takes the exclusive lock a running connector holds on its offsets (`<file>.lock`), so
    /// offsets are never edited under a running connector and one connector never runs twice.
    /// `Ok(None)` when someone else holds it.
    pub fn try_lock(path: &Path) -> Result<Option<std::fs::File>, OffsetStoreError> {
        let lock_path = path.with_extension("lock");
        let io = |source| OffsetStoreError::Io {
            path: lock_path.display().to_string(),
            source,
        };
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// Replaces a raw offset value (for tools that edit offsets).
    pub fn put_raw(&mut self, key: &OffsetKey, value: Json) -> Result<(), OffsetStoreError> {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = value,
            None => self.entries.push((key.clone(), value)),
        }
        self.write()
    }
}

impl OffsetStore for FileOffsetStore {
    fn load(&self, key: &OffsetKey) -> Result<Option<Json>, OffsetStoreError> {
        Ok(self
            .entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone()))
    }

    fn commit(&mut self, key: &OffsetKey, position: &Position) -> Result<(), OffsetStoreError> {
        self.put_raw(key, position.to_offset_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::test_util::at;

    #[test]
    fn commits_survive_reopen_and_keep_other_connectors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        let a = OffsetKey {
            connector: "a".into(),
            server: "p".into(),
            partition: None,
        };
        let b = OffsetKey {
            connector: "b".into(),
            server: "q".into(),
            partition: None,
        };
        let pos = at;
        let mut s = FileOffsetStore::open(&path).unwrap();
        s.commit(&a, &pos(100)).unwrap();
        s.commit(&b, &pos(7)).unwrap();
        s.commit(&a, &pos(200)).unwrap();
        let s = FileOffsetStore::open(&path).unwrap();
        assert_eq!(s.load(&a).unwrap().unwrap()["seq"], 200);
        assert_eq!(s.load(&b).unwrap().unwrap()["seq"], 7);
        assert!(!path.with_extension("tmp").exists());
    }

    #[test]
    fn a_corrupt_file_is_reported_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        std::fs::write(&path, "{not json").unwrap();
        let e = FileOffsetStore::open(&path).unwrap_err().to_string();
        assert!(e.contains("corrupt"), "{e}");
    }
}
