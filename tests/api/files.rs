//! The files the service keeps: the sweeper removes only what no annex refers to, once it is
//! old enough.

use std::time::Duration;

use futures_util::stream;
use welfare_grants::storage::fs::FileStorage;
use welfare_grants::storage::{Storage, upload};

use crate::applications::{complete_application, members};
use crate::both;
use crate::helpers::*;

async fn keep(storage: &FileStorage, bytes: &[u8]) -> String {
    let chunks = stream::iter(vec![Ok::<_, ()>(bytes.to_vec())]);
    upload(storage, chunks, 1 << 20, |_| Ok(()))
        .await
        .unwrap()
        .sha256
}

both!(async fn the_sweeper_removes_only_old_files_that_no_annex_refers_to(app) {
    let token = app.login(APPLICANT).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let m = members(&app, &token, 1).await;
    // Its partnership agreement is registered with the SHA-256 of "test".
    complete_application(&app, &token, &demo, &m).await;
    let storage = FileStorage::new(&app.settings.storage.path);
    let agreement = keep(&storage, b"test").await;
    let orphan = keep(&storage, b"%PDF-1.7 nobody refers to this").await;
    let db = welfare_grants::store::connect(&app.settings.database).await.unwrap();

    // Young files stay, whatever refers to them: an upload writes its file first.
    let swept = welfare_grants::service::files::sweep(&db, &storage, Duration::from_secs(3600)).await.unwrap();
    assert_eq!(swept.files, 0);
    assert_eq!(storage.list().await.unwrap().len(), 2);

    // Old enough: the orphan goes, the annex's file stays.
    let swept = welfare_grants::service::files::sweep(&db, &storage, Duration::ZERO).await.unwrap();
    assert_eq!(swept.files, 1);
    let kept: Vec<String> = storage.list().await.unwrap().into_iter().map(|k| k.key).collect();
    assert_eq!(kept, vec![agreement]);
    assert!(storage.open(&orphan, None).await.unwrap().is_none());
});
