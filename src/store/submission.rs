//! The unit of work of a submission: everything it writes once its protocol number is taken,
//! in one statement on PostgreSQL ([`Writes`]). The call's counter row stays locked from the
//! number's taking to `COMMIT`, so this is all that happens in between: the application with
//! its snapshot, its history, the event's rows (audit, outbox, inbox) and the idempotent
//! answer, in one round trip.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use super::applications::{self, Submission};
use super::idempotency::{self, Answer};
use super::writes::Writes;
use crate::domain::application::ApplicationStatus;
use crate::domain::event::Actor;

/// A submission to write: the application, its new version, what it stores, by whom, when.
pub struct Submitted<'a> {
    pub id: Uuid,
    pub version: i32,
    pub submission: Submission<'a>,
    pub actor: &'a Actor,
    pub at: DateTime<Utc>,
}

/// Write a submission in `conn` (the transaction that took its number) with the rows of its
/// event and its idempotent answer: false, and nothing meant to be kept, when the application
/// was no longer a draft.
pub async fn write<C: ConnectionTrait>(
    conn: &C,
    s: &Submitted<'_>,
    events: Writes,
    answer: Option<&Answer>,
) -> Result<bool, DbErr> {
    let mut w = Writes::new();
    applications::mark_submitted_in(&mut w, s.id, s.version, &s.submission);
    applications::record_history_in(
        &mut w,
        s.id,
        Some(ApplicationStatus::Draft.as_str()),
        ApplicationStatus::Submitted.as_str(),
        s.actor,
        s.at,
        Some(format!("protocol {}", s.submission.protocol_number)),
    );
    w.append(events);
    if let Some(answer) = answer {
        idempotency::record_in(&mut w, answer);
    }
    let touched = w.run(conn).await?;
    Ok(touched.first() == Some(&1))
}
