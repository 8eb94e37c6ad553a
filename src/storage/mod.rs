//! Where the files of the service are kept: one trait for the backends (the filesystem, an
//! S3-compatible bucket), and the streaming upload every backend shares, which
//! computes a file's SHA-256 and size while it is written, keeps its first bytes for the
//! media-type check and enforces the size limit. Files are content-addressed: the key of a
//! file is its SHA-256, so the same content is stored once.

pub mod fs;
pub mod s3;

use std::ops::Range;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sha2::{Digest, Sha256};

use crate::config::{StorageBackend, StorageSettings};
use crate::domain::media::SNIFF_LEN;

/// The backend that `settings` name (`storage.backend`). Connects to nothing yet: an
/// unreachable bucket is found by the first request that needs it (503).
pub fn from_settings(settings: &StorageSettings) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match settings.backend {
        StorageBackend::Filesystem => Arc::new(fs::FileStorage::new(&settings.path)),
        StorageBackend::S3 => Arc::new(s3::S3Storage::new(
            &settings.s3,
            std::path::Path::new(&settings.path).join("tmp"),
            // Half the orphan age: an upload that finds its content written longer ago than
            // that writes it again, well before the sweeper may take it.
            std::time::Duration::from_secs(settings.orphan_age_secs / 2),
        )?),
    })
}

/// Why storage failed: it cannot be reached or is full. Try again later; nothing is kept.
#[derive(Debug, thiserror::Error)]
#[error("the storage is unavailable: {0}")]
pub struct StorageError(pub String);

/// Why an upload kept nothing.
#[derive(Debug, thiserror::Error)]
pub enum UploadError<E> {
    /// The source failed (the client went away) or `check` refused the file's first bytes.
    #[error("the upload was refused")]
    Refused(E),
    /// The file is larger than the limit.
    #[error("the file exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A file being written under a temporary name. Dropped without `commit`, it leaves nothing
/// behind (a client that disconnects mid-upload).
pub trait PendingFile: Send {
    /// Append the next bytes.
    fn write<'a>(&'a mut self, chunk: &'a [u8]) -> BoxFuture<'a, Result<(), StorageError>>;
    /// Keep the file under its key (its SHA-256). A file already kept under that key has the
    /// same content: it is replaced, and counts as just written.
    fn commit(self: Box<Self>, key: String) -> BoxFuture<'static, Result<(), StorageError>>;
}

/// The bytes of a kept file, or of a range of them.
pub struct Content {
    /// The file's whole size.
    pub size: u64,
    /// The bytes asked for, in chunks.
    pub bytes: BoxStream<'static, Result<Vec<u8>, StorageError>>,
}

/// A kept file, as the sweeper sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub key: String,
    /// When it was written.
    pub modified: std::time::SystemTime,
}

/// A place to keep files.
pub trait Storage: Send + Sync {
    /// Start writing a new file.
    fn create(&self) -> BoxFuture<'_, Result<Box<dyn PendingFile>, StorageError>>;
    /// Read a kept file, or `range` of its bytes (clamped to its size); `None` when no file
    /// has that key.
    fn open(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'_, Result<Option<Content>, StorageError>>;
    /// Remove a kept file; removing one that is not there is no error.
    fn remove(&self, key: &str) -> BoxFuture<'_, Result<(), StorageError>>;
    /// Every kept file, for the sweeper.
    fn list(&self) -> BoxFuture<'_, Result<Vec<Kept>, StorageError>>;
    /// Remove a kept file unless it was written less than `age` ago (an upload of the same
    /// content has just renewed it). Whether it was removed.
    fn remove_if_older<'a>(
        &'a self,
        key: &'a str,
        age: std::time::Duration,
    ) -> BoxFuture<'a, Result<bool, StorageError>>;
    /// Remove the temporary files older than `age` that a crash left behind (a pending file
    /// that is dropped removes its own); how many.
    fn remove_stale_temporaries(
        &self,
        age: std::time::Duration,
    ) -> BoxFuture<'_, Result<usize, StorageError>>;
}

/// A file kept by `upload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its SHA-256 in lower-case hex: its key.
    pub sha256: String,
    pub size: u64,
    /// Its first bytes (at most `SNIFF_LEN`), for the media-type check.
    pub head: Vec<u8>,
}

/// Whether a key is a SHA-256 in lower-case hex: no other key is ever read or written, so a
/// key never names a path outside the storage.
pub fn is_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A file streamed into storage under a temporary name, with what it is: kept under its key by
/// `commit`, or dropped, which leaves nothing behind.
pub struct Staged {
    pub stored: Stored,
    file: Box<dyn PendingFile>,
}

impl Staged {
    /// Keep the file under its key (its SHA-256).
    pub async fn commit(self) -> Result<Stored, StorageError> {
        self.file.commit(self.stored.sha256.clone()).await?;
        Ok(self.stored)
    }
}

/// Stream a file into storage while its SHA-256 and size are computed: the whole file is never
/// held in memory. Over `limit` bytes the upload stops; `check` sees the file's first bytes (at
/// most `SNIFF_LEN`) before it is kept and may refuse it. Whatever stops it, nothing is kept.
pub async fn upload<S, E>(
    storage: &dyn Storage,
    chunks: S,
    limit: u64,
    check: impl FnOnce(&[u8]) -> Result<(), E>,
) -> Result<Stored, UploadError<E>>
where
    S: futures_util::Stream<Item = Result<Vec<u8>, E>> + Unpin,
{
    let staged = stage(storage, chunks, limit).await?;
    check(&staged.stored.head).map_err(UploadError::Refused)?;
    Ok(staged.commit().await?)
}

/// [`upload`] without the check and the commit: the caller decides, once it knows the rest of
/// the request, whether the file is kept.
pub async fn stage<S, E, B>(
    storage: &dyn Storage,
    mut chunks: S,
    limit: u64,
) -> Result<Staged, UploadError<E>>
where
    S: futures_util::Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    use futures_util::StreamExt;
    let mut file = storage.create().await?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    while let Some(chunk) = chunks.next().await {
        // On any error the pending file is dropped, which removes it.
        let chunk = chunk.map_err(UploadError::Refused)?;
        let chunk = chunk.as_ref();
        size += chunk.len() as u64;
        if size > limit {
            return Err(UploadError::TooLarge { limit });
        }
        if head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(chunk);
        file.write(chunk).await?;
    }
    let sha256 = hex::encode(hasher.finalize());
    Ok(Staged {
        stored: Stored { sha256, size, head },
        file,
    })
}
