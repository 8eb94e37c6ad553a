//! The files the service keeps, apart from the rows that refer to them: the sweeper.

use std::time::{Duration, SystemTime};

use sea_orm::DatabaseConnection;

use crate::error::ApiError;
use crate::storage::Storage;
use crate::store;

/// What a sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Kept files that nothing referred to.
    pub files: usize,
    /// Temporary files of uploads that a crash interrupted.
    pub temporaries: usize,
}

/// Remove the kept files that no annex refers to and that are older than `age`, and the
/// temporary files older than `age` that a crash left. A file is written before the row that
/// refers to it, so a younger one may be an upload in progress; a file that the rows refer to
/// is never removed, whatever its age.
pub async fn sweep(
    db: &DatabaseConnection,
    storage: &dyn Storage,
    age: Duration,
) -> Result<Swept, ApiError> {
    let now = SystemTime::now();
    let old: Vec<String> = storage
        .list()
        .await
        .map_err(anyhow::Error::from)?
        .into_iter()
        .filter(|k| now.duration_since(k.modified).is_ok_and(|d| d >= age))
        .map(|k| k.key)
        .collect();
    let referenced = store::applications::referenced_files(db, &old).await?;
    let mut swept = Swept::default();
    for key in old.iter().filter(|k| !referenced.contains(*k)) {
        // Checked again at the last moment: an upload of the same content renews the file
        // before it writes its row.
        if storage
            .remove_if_older(key, age)
            .await
            .map_err(anyhow::Error::from)?
        {
            swept.files += 1;
        }
    }
    swept.temporaries = storage
        .remove_stale_temporaries(age)
        .await
        .map_err(anyhow::Error::from)?;
    Ok(swept)
}
