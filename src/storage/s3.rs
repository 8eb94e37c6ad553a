//! The S3 backend: objects in an S3-compatible bucket, named by their SHA-256, that every
//! replica shares. An upload is staged in a local temporary file (its SHA-256 is its key, so
//! it must be known before the object is written), then sent: in one request up to
//! [`MULTIPART_FROM`] bytes, in parts above. The write is a conditional create, so that the
//! same content is written once; an object that is there already is only written again when
//! it is old enough for the sweeper to be about to take it.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode,
    PutOptions, PutPayload, RetryConfig, WriteMultipart,
};
use secrecy::ExposeSecret;
use tokio::io::AsyncReadExt;

use super::fs::{Temporary, older_than, remove_old_temporaries};
use super::{Content, Kept, PendingFile, Storage, StorageError, is_key};
use crate::config::S3Settings;

/// Files larger than this are sent in parts of this size (S3's smallest part is 5 MiB).
pub const MULTIPART_FROM: usize = 5 * 1024 * 1024;
/// More of the file is read only while at most this many parts are being sent (filling the
/// next part may start one more): what bounds an upload's memory to about two parts.
const PARTS_IN_FLIGHT: usize = 1;
/// How many bytes are read from the staged file at a time.
const CHUNK: usize = 64 * 1024;

fn unavailable(e: impl std::fmt::Display) -> StorageError {
    StorageError(e.to_string())
}

/// Objects in a bucket, with their uploads staged under a local folder. No `Debug`: the
/// client holds the secret key.
#[derive(Clone)]
pub struct S3Storage {
    store: Arc<AmazonS3>,
    /// The local folder where uploads are staged.
    staging: PathBuf,
    /// An object already there is written again when it is older than this, renewing its
    /// modification time before the row that refers to it is written (the sweeper removes
    /// only objects older than the orphan age).
    renew_after: Duration,
}

impl S3Storage {
    /// The bucket of `settings`, uploads staged in `staging`. Connects to nothing yet.
    pub fn new(
        settings: &S3Settings,
        staging: impl Into<PathBuf>,
        renew_after: Duration,
    ) -> Result<S3Storage, StorageError> {
        let timeout = Duration::from_secs(settings.request_timeout_secs.max(1));
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(2).min(timeout))
                    .with_timeout(timeout),
            )
            // An unreachable bucket fails the request soon (503), instead of retrying for
            // minutes while the client waits.
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 2,
                retry_timeout: timeout,
            });
        if !settings.endpoint.is_empty() {
            builder = builder
                .with_endpoint(&settings.endpoint)
                .with_allow_http(settings.endpoint.starts_with("http://"));
        }
        if !settings.access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(&settings.access_key_id)
                .with_secret_access_key(settings.secret_access_key.expose_secret());
        }
        // The builder's errors name the setting, never the secret.
        let store = builder.build().map_err(unavailable)?;
        Ok(S3Storage {
            store: Arc::new(store),
            staging: staging.into(),
            renew_after,
        })
    }

    fn path_of(key: &str) -> Option<Path> {
        is_key(key).then(|| Path::from(key))
    }

    async fn remove_object_if_older(&self, key: &str, age: Duration) -> Result<bool, StorageError> {
        let Some(path) = S3Storage::path_of(key) else {
            return Ok(false);
        };
        let meta = match self.store.head(&path).await {
            Ok(m) => m,
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(unavailable(e)),
        };
        if !older_than(meta.last_modified.into(), age) {
            return Ok(false);
        }
        self.store.delete(&path).await.map_err(unavailable)?;
        Ok(true)
    }

    async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<Option<Content>, StorageError> {
        let Some(path) = S3Storage::path_of(key) else {
            return Ok(None);
        };
        let not_found = |e: &object_store::Error| matches!(e, object_store::Error::NotFound { .. });
        // An empty range: S3 has no such request, and there is nothing to send.
        if range.as_ref().is_some_and(|r| r.start >= r.end) {
            return match self.store.head(&path).await {
                Ok(meta) => Ok(Some(Content {
                    size: meta.size,
                    bytes: futures_util::stream::empty().boxed(),
                })),
                Err(e) if not_found(&e) => Ok(None),
                Err(e) => Err(unavailable(e)),
            };
        }
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let got = match self.store.get_opts(&path, options).await {
            Ok(got) => got,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let size = got.meta.size;
        let bytes = got
            .into_stream()
            .map_ok(|b| b.to_vec())
            .map_err(unavailable)
            .boxed();
        Ok(Some(Content { size, bytes }))
    }

    async fn keys(&self) -> Result<Vec<Kept>, StorageError> {
        let mut kept: Vec<Kept> = self
            .store
            .list(None)
            .map_err(unavailable)
            .try_filter_map(|meta| async move {
                let key = meta.location.as_ref();
                Ok(is_key(key).then(|| Kept {
                    key: key.to_owned(),
                    modified: SystemTime::from(meta.last_modified),
                }))
            })
            .try_collect()
            .await?;
        kept.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(kept)
    }
}

/// An upload staged in a local temporary file.
struct Pending {
    file: Temporary,
    storage: S3Storage,
}

impl Pending {
    async fn send(mut self: Box<Self>, key: String) -> Result<(), StorageError> {
        let path =
            S3Storage::path_of(&key).ok_or_else(|| StorageError(format!("not a key: {key}")))?;
        let store = &self.storage.store;
        let mode = match store.head(&path).await {
            // The same content, written lately: not written again.
            Ok(meta) if !older_than(meta.last_modified.into(), self.storage.renew_after) => {
                return Ok(());
            }
            // The same content, old: written again, which renews it (see `renew_after`).
            Ok(_) => PutMode::Overwrite,
            Err(object_store::Error::NotFound { .. }) => PutMode::Create,
            Err(e) => return Err(unavailable(e)),
        };
        let mut file = self.file.finish().await?;
        let size = file.metadata().await.map_err(unavailable)?.len();
        if size <= MULTIPART_FROM as u64 {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(MULTIPART_FROM));
            file.read_to_end(&mut bytes).await.map_err(unavailable)?;
            let options = PutOptions {
                mode,
                ..PutOptions::default()
            };
            return match store
                .put_opts(&path, PutPayload::from(bytes), options)
                .await
            {
                // Another upload of the same content got there first.
                Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
                Err(e) => Err(unavailable(e)),
            };
        }
        // A multipart upload cannot be conditional: two uploads of the same content at once
        // both write it, with the same bytes.
        let upload = store.put_multipart(&path).await.map_err(unavailable)?;
        let mut parts = WriteMultipart::new_with_chunk_size(upload, MULTIPART_FROM);
        let mut buf = vec![0; CHUNK];
        let sent: Result<(), StorageError> = async {
            loop {
                let n = file.read(&mut buf).await.map_err(unavailable)?;
                if n == 0 {
                    return Ok(());
                }
                parts
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(unavailable)?;
                parts.write(&buf[..n]);
            }
        }
        .await;
        match sent {
            Ok(()) => parts.finish().await.map(drop).map_err(unavailable),
            Err(e) => {
                // The parts sent so far are dropped by the store (or, if it cannot be
                // reached, by the bucket's rule for incomplete uploads: see the README).
                let _ = parts.abort().await;
                Err(e)
            }
        }
    }
}

impl PendingFile for Pending {
    fn write<'a>(&'a mut self, chunk: &'a [u8]) -> BoxFuture<'a, Result<(), StorageError>> {
        self.file.write(chunk).boxed()
    }

    /// Send the staged file to the bucket; the staged file is removed either way.
    fn commit(self: Box<Self>, key: String) -> BoxFuture<'static, Result<(), StorageError>> {
        self.send(key).boxed()
    }
}

impl Storage for S3Storage {
    fn create(&self) -> BoxFuture<'_, Result<Box<dyn PendingFile>, StorageError>> {
        async move {
            let file = Temporary::create(&self.staging).await?;
            Ok(Box::new(Pending {
                file,
                storage: self.clone(),
            }) as Box<dyn PendingFile>)
        }
        .boxed()
    }

    fn open(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'_, Result<Option<Content>, StorageError>> {
        let key = key.to_owned();
        async move { self.read(&key, range).await }.boxed()
    }

    fn remove(&self, key: &str) -> BoxFuture<'_, Result<(), StorageError>> {
        let path = S3Storage::path_of(key);
        async move {
            let Some(path) = path else { return Ok(()) };
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(unavailable(e)),
            }
        }
        .boxed()
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<Kept>, StorageError>> {
        self.keys().boxed()
    }

    fn remove_if_older<'a>(
        &'a self,
        key: &'a str,
        age: Duration,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        self.remove_object_if_older(key, age).boxed()
    }

    /// The staged files a crash left. Parts of a multipart upload that was never completed
    /// are the bucket's to expire (a lifecycle rule: see the README).
    fn remove_stale_temporaries(
        &self,
        age: Duration,
    ) -> BoxFuture<'_, Result<usize, StorageError>> {
        async move { remove_old_temporaries(&self.staging, age).await }.boxed()
    }
}
