//! The notices of the projects' deadlines already sent: one row per grant and kind, so that
//! the periodic job sends each once, whatever the replicas and the restarts.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set};
use uuid::Uuid;

use super::rows::corrupt;
use crate::domain::award::DeadlineNotice;
use crate::entity::deadline_notice;

/// The notices already sent of these grants.
pub async fn sent<C: ConnectionTrait>(
    conn: &C,
    grants: &[Uuid],
) -> Result<BTreeSet<(Uuid, DeadlineNotice)>, DbErr> {
    let mut found = BTreeSet::new();
    // A thousand at a time: well under the databases' bind limits.
    for chunk in grants.chunks(1000) {
        let rows: Vec<(Uuid, String)> = deadline_notice::Entity::find()
            .select_only()
            .column(deadline_notice::Column::GrantId)
            .column(deadline_notice::Column::Kind)
            .filter(deadline_notice::Column::GrantId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        for (grant_id, kind) in rows {
            let notice = DeadlineNotice::parse(&kind)
                .ok_or_else(|| corrupt("deadline notice kind", grant_id))?;
            found.insert((grant_id, notice));
        }
    }
    Ok(found)
}

/// Record that a notice is sent, unless it already was (by another run or replica): whether
/// this insert created the row. A conflict on the key is no error: it does nothing.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    grant_id: Uuid,
    notice: DeadlineNotice,
    deadline: NaiveDate,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let inserted = deadline_notice::Entity::insert(deadline_notice::ActiveModel {
        grant_id: Set(grant_id),
        kind: Set(notice.as_str().to_owned()),
        deadline: Set(deadline),
        sent_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            deadline_notice::Column::GrantId,
            deadline_notice::Column::Kind,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(inserted == 1)
}

/// Forget these notices of a grant (its deadline moved: they are due again for the new one).
pub async fn forget<C: ConnectionTrait>(
    conn: &C,
    grant_id: Uuid,
    kinds: &[DeadlineNotice],
) -> Result<(), DbErr> {
    deadline_notice::Entity::delete_many()
        .filter(deadline_notice::Column::GrantId.eq(grant_id))
        .filter(deadline_notice::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())))
        .exec(conn)
        .await
        .map(|_| ())
}
