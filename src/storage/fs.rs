//! The filesystem backend: files under a folder, named by their SHA-256
//! (`ab/cd/abcd…`), written under a temporary name in `tmp/` and renamed once complete and
//! flushed to disk, so that a kept file is always whole.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{Content, Kept, PendingFile, Storage, StorageError, is_key};

/// How many bytes a read hands out at a time.
const CHUNK: usize = 64 * 1024;

fn unavailable(e: std::io::Error) -> StorageError {
    StorageError(e.to_string())
}

/// Files under a folder.
#[derive(Debug, Clone)]
pub struct FileStorage {
    root: PathBuf,
}

impl FileStorage {
    pub fn new(root: impl Into<PathBuf>) -> FileStorage {
        FileStorage { root: root.into() }
    }

    fn temporary(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Where the file of a key lives; `None` for anything that is not a key.
    fn path_of(&self, key: &str) -> Option<PathBuf> {
        is_key(key).then(|| self.root.join(&key[..2]).join(&key[2..4]).join(key))
    }

    async fn remove_file_if_older(&self, key: &str, age: Duration) -> Result<bool, StorageError> {
        let Some(path) = self.path_of(key) else {
            return Ok(false);
        };
        let modified = match tokio::fs::metadata(&path).await.and_then(|m| m.modified()) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(unavailable(e)),
        };
        if !older_than(modified, age) {
            return Ok(false);
        }
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }
}

pub(crate) fn older_than(modified: SystemTime, age: Duration) -> bool {
    SystemTime::now()
        .duration_since(modified)
        .is_ok_and(|d| d >= age)
}

/// A file being written under a temporary name in a folder of temporaries: removed when
/// dropped, unless `keep` says it was moved away or is no longer needed. Every backend stages
/// its uploads in one, so that a file's SHA-256 (its key) is known before it is kept.
pub(crate) struct Temporary {
    file: Option<tokio::fs::File>,
    path: PathBuf,
    kept: bool,
}

impl Temporary {
    /// A new empty file in `dir` (created when missing).
    pub(crate) async fn create(dir: &Path) -> Result<Temporary, StorageError> {
        tokio::fs::create_dir_all(dir).await.map_err(unavailable)?;
        let path = dir.join(format!("{}.part", uuid::Uuid::new_v4()));
        let file = tokio::fs::File::create_new(&path)
            .await
            .map_err(unavailable)?;
        Ok(Temporary {
            file: Some(file),
            path,
            kept: false,
        })
    }

    pub(crate) async fn write(&mut self, chunk: &[u8]) -> Result<(), StorageError> {
        let file = self
            .file
            .as_mut()
            .expect("a temporary file is open until it is finished");
        file.write_all(chunk).await.map_err(unavailable)
    }

    /// Flush the file to disk, and hand it back for reading from its start.
    pub(crate) async fn finish(&mut self) -> Result<tokio::fs::File, StorageError> {
        let mut file = self.file.take().expect("a temporary file is finished once");
        file.flush().await.map_err(unavailable)?;
        file.sync_all().await.map_err(unavailable)?;
        file.seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(unavailable)?;
        Ok(file)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file was moved away: dropping this no longer removes anything.
    pub(crate) fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.kept {
            // Not kept: the client went away, the file was refused or too large, or it was
            // copied elsewhere.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Remove the files in a folder of temporaries older than `age`; how many.
pub(crate) async fn remove_old_temporaries(
    dir: &Path,
    age: Duration,
) -> Result<usize, StorageError> {
    let mut removed = 0;
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(unavailable(e)),
    };
    while let Some(entry) = entries.next_entry().await.map_err(unavailable)? {
        let modified = entry
            .metadata()
            .await
            .and_then(|m| m.modified())
            .map_err(unavailable)?;
        if older_than(modified, age) {
            match tokio::fs::remove_file(entry.path()).await {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
    }
    Ok(removed)
}

/// A file being written in `tmp/`.
struct Pending {
    file: Temporary,
    root: FileStorage,
}

impl PendingFile for Pending {
    fn write<'a>(&'a mut self, chunk: &'a [u8]) -> BoxFuture<'a, Result<(), StorageError>> {
        self.file.write(chunk).boxed()
    }

    fn commit(mut self: Box<Self>, key: String) -> BoxFuture<'static, Result<(), StorageError>> {
        async move {
            let target = self
                .root
                .path_of(&key)
                .ok_or_else(|| StorageError(format!("not a key: {key}")))?;
            drop(self.file.finish().await?);
            let dir = target.parent().expect("a key's path has a folder");
            tokio::fs::create_dir_all(dir).await.map_err(unavailable)?;
            // Renamed even when the same content is kept already: the rename replaces it with
            // the same bytes, and a fresh modification time that keeps the sweeper off it until
            // the row that refers to it is written. Two uploads of the same content end as one
            // file.
            tokio::fs::rename(self.file.path(), &target)
                .await
                .map_err(unavailable)?;
            self.file.keep();
            Ok(())
        }
        .boxed()
    }
}

impl Storage for FileStorage {
    fn create(&self) -> BoxFuture<'_, Result<Box<dyn PendingFile>, StorageError>> {
        async move {
            let file = Temporary::create(&self.temporary()).await?;
            Ok(Box::new(Pending {
                file,
                root: self.clone(),
            }) as Box<dyn PendingFile>)
        }
        .boxed()
    }

    fn open(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'_, Result<Option<Content>, StorageError>> {
        let path = self.path_of(key);
        async move {
            let Some(path) = path else { return Ok(None) };
            let mut file = match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(unavailable(e)),
            };
            let size = file.metadata().await.map_err(unavailable)?.len();
            let range = range.unwrap_or(0..size);
            let (start, end) = (range.start.min(size), range.end.min(size));
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(unavailable)?;
            let left = end.saturating_sub(start);
            let bytes = futures_util::stream::unfold((file, left), |(mut file, left)| async move {
                if left == 0 {
                    return None;
                }
                let mut buf = vec![0; CHUNK.min(usize::try_from(left).unwrap_or(CHUNK))];
                match file.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(buf), (file, left - n as u64)))
                    }
                    Err(e) => Some((Err(unavailable(e)), (file, 0))),
                }
            })
            .boxed();
            Ok(Some(Content { size, bytes }))
        }
        .boxed()
    }

    fn remove(&self, key: &str) -> BoxFuture<'_, Result<(), StorageError>> {
        let path = self.path_of(key);
        async move {
            let Some(path) = path else { return Ok(()) };
            match tokio::fs::remove_file(&path).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(unavailable(e)),
            }
        }
        .boxed()
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<Kept>, StorageError>> {
        async move {
            let mut kept = vec![];
            for first in subfolders(&self.root).await? {
                for second in subfolders(&first).await? {
                    let mut dir = tokio::fs::read_dir(&second).await.map_err(unavailable)?;
                    while let Some(entry) = dir.next_entry().await.map_err(unavailable)? {
                        let key = entry.file_name().to_string_lossy().into_owned();
                        if !is_key(&key) {
                            continue;
                        }
                        let modified = entry
                            .metadata()
                            .await
                            .and_then(|m| m.modified())
                            .map_err(unavailable)?;
                        kept.push(Kept { key, modified });
                    }
                }
            }
            kept.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(kept)
        }
        .boxed()
    }

    fn remove_if_older<'a>(
        &'a self,
        key: &'a str,
        age: Duration,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        self.remove_file_if_older(key, age).boxed()
    }

    fn remove_stale_temporaries(
        &self,
        age: Duration,
    ) -> BoxFuture<'_, Result<usize, StorageError>> {
        async move { remove_old_temporaries(&self.temporary(), age).await }.boxed()
    }
}

/// The two-hex-digit folders under a folder (not `tmp/`).
async fn subfolders(dir: &Path) -> Result<Vec<PathBuf>, StorageError> {
    let mut out = vec![];
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(unavailable(e)),
    };
    while let Some(entry) = entries.next_entry().await.map_err(unavailable)? {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.len() == 2
            && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && entry.file_type().await.map_err(unavailable)?.is_dir()
        {
            out.push(entry.path());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{UploadError, upload};
    use futures_util::stream;
    use sha2::{Digest, Sha256};

    fn chunks(
        data: &[u8],
        size: usize,
    ) -> impl futures_util::Stream<Item = Result<Vec<u8>, &'static str>> + Unpin {
        stream::iter(
            data.chunks(size)
                .map(|c| Ok(c.to_vec()))
                .collect::<Vec<_>>(),
        )
    }

    async fn read_all(s: &FileStorage, key: &str, range: Option<Range<u64>>) -> Vec<u8> {
        let content = s.open(key, range).await.unwrap().unwrap();
        let parts: Vec<_> = content.bytes.collect().await;
        parts.into_iter().flat_map(|p| p.unwrap()).collect()
    }

    fn files_under(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| {
                    let p = e.unwrap().path();
                    if p.is_dir() { files_under(&p) } else { 1 }
                })
                .sum()
            })
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn a_file_is_kept_under_its_sha256_and_read_back_whole_or_in_part() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStorage::new(dir.path());
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let stored = upload(&s, chunks(&data, 7_000), 1 << 20, |_| Ok(()))
            .await
            .unwrap();
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!(stored.size, data.len() as u64);
        assert_eq!(stored.head, data[..crate::domain::media::SNIFF_LEN]);
        assert_eq!(read_all(&s, &stored.sha256, None).await, data);
        assert_eq!(
            read_all(&s, &stored.sha256, Some(10..20)).await,
            data[10..20]
        );
        assert_eq!(
            read_all(&s, &stored.sha256, Some(199_990..300_000)).await,
            data[199_990..]
        );
        let listed = s.list().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].key, stored.sha256);
        // Nothing left in tmp/.
        assert_eq!(files_under(&dir.path().join("tmp")), 0);
    }

    #[tokio::test]
    async fn the_same_content_is_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStorage::new(dir.path());
        let a = upload(&s, chunks(b"%PDF-1.7 same", 3), 100, |_| Ok(()))
            .await
            .unwrap();
        let b = upload(&s, chunks(b"%PDF-1.7 same", 5), 100, |_| Ok(()))
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(s.list().await.unwrap().len(), 1);
        assert_eq!(files_under(dir.path()), 1);
    }

    #[tokio::test]
    async fn an_upload_that_stops_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStorage::new(dir.path());
        // Too large.
        let r = upload(&s, chunks(&[1u8; 1000], 100), 999, |_| Ok(())).await;
        assert!(matches!(r, Err(UploadError::TooLarge { limit: 999 })));
        // The client went away mid-upload.
        let broken = stream::iter(vec![Ok(vec![1u8; 10]), Err("gone")]);
        let r = upload(&s, broken, 100, |_| Ok(())).await;
        assert!(matches!(r, Err(UploadError::Refused("gone"))));
        // Refused by its first bytes.
        let r = upload(&s, chunks(b"GIF89a", 2), 100, |head| {
            if head.starts_with(b"GIF") {
                Err("not kept")
            } else {
                Ok(())
            }
        })
        .await;
        assert!(matches!(r, Err(UploadError::Refused("not kept"))));
        assert_eq!(files_under(dir.path()), 0);
        assert!(s.list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn only_keys_name_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStorage::new(dir.path());
        assert!(s.open("../../etc/passwd", None).await.unwrap().is_none());
        assert!(s.open(&"A".repeat(64), None).await.unwrap().is_none());
        assert!(s.open(&"a".repeat(64), None).await.unwrap().is_none());
        s.remove("../x").await.unwrap();
    }

    #[tokio::test]
    async fn removing_a_file_and_stale_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStorage::new(dir.path());
        let stored = upload(&s, chunks(b"content", 3), 100, |_| Ok(()))
            .await
            .unwrap();
        s.remove(&stored.sha256).await.unwrap();
        s.remove(&stored.sha256).await.unwrap();
        assert!(s.open(&stored.sha256, None).await.unwrap().is_none());
        // A temporary file a crash left behind.
        std::fs::write(dir.path().join("tmp").join("crashed.part"), b"half").unwrap();
        assert_eq!(
            s.remove_stale_temporaries(Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        assert_eq!(s.remove_stale_temporaries(Duration::ZERO).await.unwrap(), 1);
        assert_eq!(files_under(dir.path()), 0);
    }
}
