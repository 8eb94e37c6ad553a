//! Idempotency keys: a repeated state-changing request with the same key and body gets the
//! first answer again; the same key with another body is refused; a repeat while the first
//! is still running is a conflict.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::UpdateStatement;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryTrait, Set,
};
use uuid::Uuid;

use super::writes::Writes;
use crate::entity::idempotency_key;

/// What to do with a request that carries a key.
pub enum Begin {
    /// The first time: run it, then `finish`.
    Fresh,
    /// Seen and finished: answer this again.
    Replay { status: u16, body: String },
    /// Seen and still running (or left running by a request that never finished): a retry
    /// may run after `retry_after_secs` (at least 1), when the running request's lease ends.
    InProgress { retry_after_secs: u32 },
    /// The key was used for another request (another method, path or body).
    Reused,
}

/// How long a request holds its key before a repeat may run it again: a request that never
/// finished (its process stopped) leaves its key in progress until then.
pub const LEASE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The whole seconds left, rounded up, of a lease taken at `taken_at` (at least 1).
fn lease_left(taken_at: DateTime<Utc>, now: DateTime<Utc>) -> u32 {
    let left = (taken_at + LEASE - now).num_milliseconds();
    let secs = (left + 999).div_euclid(1000);
    u32::try_from(secs.clamp(1, LEASE.num_seconds())).unwrap_or(1)
}

/// Claim a key for a request (`scope` is method and path, `request_hash` covers the body).
pub async fn begin(
    db: &DatabaseConnection,
    user_id: Uuid,
    key: &str,
    scope: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Begin, DbErr> {
    let inserted = idempotency_key::ActiveModel {
        user_id: Set(user_id),
        key: Set(key.to_owned()),
        scope: Set(scope.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        state: Set("in_progress".into()),
        response_status: Set(None),
        response_body: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => Ok(Begin::Fresh),
        Err(e) if super::is_unique_violation(&e) => {
            let row = idempotency_key::Entity::find_by_id((user_id, key.to_owned()))
                .one(db)
                .await?
                .ok_or_else(|| DbErr::Custom("idempotency key vanished".into()))?;
            // Past its retention a key is forgotten: it starts a new request.
            if now - row.created_at > RETENTION {
                let taken = idempotency_key::Entity::update_many()
                    .set(idempotency_key::ActiveModel {
                        scope: Set(scope.to_owned()),
                        request_hash: Set(request_hash.to_owned()),
                        state: Set("in_progress".into()),
                        response_status: Set(None),
                        response_body: Set(None),
                        created_at: Set(now),
                        ..Default::default()
                    })
                    .filter(idempotency_key::Column::UserId.eq(user_id))
                    .filter(idempotency_key::Column::Key.eq(key))
                    .filter(idempotency_key::Column::CreatedAt.eq(row.created_at))
                    .exec(db)
                    .await?
                    .rows_affected
                    == 1;
                // Not taken: another repeat took it a moment ago, with a fresh lease.
                return Ok(if taken {
                    Begin::Fresh
                } else {
                    Begin::InProgress {
                        retry_after_secs: lease_left(now, now),
                    }
                });
            }
            if row.scope != scope || row.request_hash != request_hash {
                return Ok(Begin::Reused);
            }
            match (row.state.as_str(), row.response_status, row.response_body) {
                ("done", Some(status), Some(body)) => Ok(Begin::Replay {
                    status: u16::try_from(status).unwrap_or(500),
                    body,
                }),
                // A request that never finished (its client went away, the service stopped):
                // after its lease its key may run again, once.
                ("in_progress", _, _) if now - row.created_at > LEASE => {
                    let taken = idempotency_key::Entity::update_many()
                        .col_expr(
                            idempotency_key::Column::CreatedAt,
                            sea_orm::sea_query::Expr::value(now),
                        )
                        .filter(idempotency_key::Column::UserId.eq(user_id))
                        .filter(idempotency_key::Column::Key.eq(key))
                        .filter(idempotency_key::Column::CreatedAt.eq(row.created_at))
                        .exec(db)
                        .await?
                        .rows_affected
                        == 1;
                    // Two repeats at once: the one that moved the lease runs, the other waits.
                    Ok(if taken {
                        Begin::Fresh
                    } else {
                        Begin::InProgress {
                            retry_after_secs: lease_left(now, now),
                        }
                    })
                }
                _ => Ok(Begin::InProgress {
                    retry_after_secs: lease_left(row.created_at, now),
                }),
            }
        }
        Err(e) => Err(e),
    }
}

/// The answer of a request, as kept for its key.
#[derive(Debug, Clone)]
pub struct Answer {
    pub user_id: Uuid,
    pub key: String,
    pub status: u16,
    /// What the replay needs (headers and body), serialised.
    pub stored: String,
}

/// Record an answer inside the transaction of the change it answers.
pub async fn record<C: ConnectionTrait>(conn: &C, answer: &Answer) -> Result<(), DbErr> {
    finish(
        conn,
        answer.user_id,
        &answer.key,
        answer.status,
        &answer.stored,
    )
    .await
}

/// Add the recording of an answer to the unit of work of the change it answers.
pub fn record_in(w: &mut Writes, answer: &Answer) {
    w.update(finish_statement(
        answer.user_id,
        &answer.key,
        answer.status,
        &answer.stored,
    ));
}

/// Record the answer of a finished request; inside the request's own transaction when the
/// operation records it with its change, so that a committed change always has its answer.
pub async fn finish<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    key: &str,
    status: u16,
    body: &str,
) -> Result<(), DbErr> {
    db.execute(&finish_statement(user_id, key, status, body))
        .await
        .map(|_| ())
}

fn finish_statement(user_id: Uuid, key: &str, status: u16, body: &str) -> UpdateStatement {
    idempotency_key::Entity::update_many()
        .set(idempotency_key::ActiveModel {
            state: Set("done".into()),
            response_status: Set(Some(i32::from(status))),
            response_body: Set(Some(body.to_owned())),
            ..Default::default()
        })
        .filter(idempotency_key::Column::UserId.eq(user_id))
        .filter(idempotency_key::Column::Key.eq(key))
        .into_query()
}

/// Forget a key whose request failed for a transient reason, so that a retry runs again. A
/// key whose answer was already recorded (with its change) is kept: the retry replays it.
pub async fn abandon(db: &DatabaseConnection, user_id: Uuid, key: &str) -> Result<(), DbErr> {
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::UserId.eq(user_id))
        .filter(idempotency_key::Column::Key.eq(key))
        .filter(idempotency_key::Column::State.eq("in_progress"))
        .exec(db)
        .await?;
    Ok(())
}

/// How long a key answers its first result again.
pub const RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Forget the keys older than [`RETENTION`]; returns how many.
pub async fn purge(
    db: &DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, DbErr> {
    Ok(idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::CreatedAt.lt(now - RETENTION))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_waits_for_what_is_left_of_the_lease_and_at_least_a_second() {
        let t = DateTime::parse_from_rfc3339("2027-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ms = chrono::TimeDelta::milliseconds;
        assert_eq!(lease_left(t, t), 60);
        assert_eq!(lease_left(t, t + ms(20_000)), 40);
        assert_eq!(lease_left(t, t + ms(20_001)), 40);
        assert_eq!(lease_left(t, t + ms(59_999)), 1);
        assert_eq!(lease_left(t, t + ms(60_000)), 1);
        assert_eq!(lease_left(t, t + ms(90_000)), 1);
        // A clock that went back never asks for more than a lease.
        assert_eq!(lease_left(t, t - ms(5_000)), 60);
    }
}
