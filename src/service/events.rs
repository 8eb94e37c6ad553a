//! The one recorder of domain events: in the transaction of the change, the audit row, the
//! webhook outbox row (for subscribers of its type) and the inbox notices of the
//! representatives concerned.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;

use crate::domain::event::Actor;
use crate::domain::event::{DomainEvent, Recipients};
use crate::store::audit::{self, Change};
use crate::store::writes::Writes;
use crate::store::{notifications, webhooks};

/// Record an event of a change made in the transaction `conn`: what it needs is read, then
/// its rows go as one unit of work.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    at: DateTime<Utc>,
    event: DomainEvent,
) -> Result<(), DbErr> {
    let audience = audience(conn, &event).await?;
    let mut w = Writes::new();
    plan(&mut w, actor, at, event, &audience)?;
    w.run(conn).await.map(|_| ())
}

/// Who an event reaches, read from the database: the webhook subscribers of its type and the
/// users of each of its notices. It depends on the kind of the event and on whom it concerns,
/// not on the rest of its data, so a change that learns its data late (a submission's
/// protocol number) reads it before it takes a lock.
pub struct Audience {
    subscribers: Vec<uuid::Uuid>,
    recipients: Vec<Vec<uuid::Uuid>>,
}

/// Read the audience of an event.
pub async fn audience<C: ConnectionTrait>(
    conn: &C,
    event: &DomainEvent,
) -> Result<Audience, DbErr> {
    let subscribers = match event.webhook() {
        Some(kind) => webhooks::subscribers(conn, kind).await?,
        None => vec![],
    };
    let mut recipients = Vec::new();
    for notice in event.notices() {
        recipients.push(self::recipients(conn, notice.to).await?);
    }
    Ok(Audience {
        subscribers,
        recipients,
    })
}

/// Add the rows of an event to a unit of work, for an audience read before: its outbox row
/// and deliveries, its inbox notices, its audit row.
pub fn plan(
    w: &mut Writes,
    actor: &Actor,
    at: DateTime<Utc>,
    event: DomainEvent,
    audience: &Audience,
) -> Result<(), DbErr> {
    if let Some(kind) = event.webhook() {
        webhooks::enqueue_in(w, at, kind, outbox_data(&event), &audience.subscribers);
    }
    let notices = event.notices();
    if notices.len() != audience.recipients.len() {
        return Err(DbErr::Custom(format!(
            "the audience of {} was read for another event",
            event.action()
        )));
    }
    let outgoing = notices
        .into_iter()
        .zip(&audience.recipients)
        .map(|(n, users)| notifications::Outgoing {
            users,
            kind: n.kind,
            message: n.message,
            data: n.data,
        })
        .collect();
    notifications::notify_all_in(w, outgoing, at);
    keep_in(w, actor, at, event);
    Ok(())
}

/// Record the events of one change made in the transaction `conn`, in their order, with
/// all their notices left in one batch of inserts however many there are (the results
/// of an approved ranking, one notice per lead).
pub async fn record_all<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    at: DateTime<Utc>,
    events: Vec<DomainEvent>,
) -> Result<(), DbErr> {
    let mut audiences = Vec::with_capacity(events.len());
    for event in &events {
        audiences.push(audience(conn, event).await?);
    }
    let mut w = Writes::new();
    for (event, audience) in events.iter().zip(&audiences) {
        if let Some(kind) = event.webhook() {
            webhooks::enqueue_in(&mut w, at, kind, outbox_data(event), &audience.subscribers);
        }
    }
    let mut outgoing = Vec::new();
    for (event, audience) in events.iter().zip(&audiences) {
        for (n, users) in event.notices().into_iter().zip(&audience.recipients) {
            outgoing.push(notifications::Outgoing {
                users,
                kind: n.kind,
                message: n.message,
                data: n.data,
            });
        }
    }
    notifications::notify_all_in(&mut w, outgoing, at);
    for event in events {
        keep_in(&mut w, actor, at, event);
    }
    w.run(conn).await.map(|_| ())
}

/// The `data` of an event's webhook payload.
fn outbox_data(event: &DomainEvent) -> serde_json::Value {
    json!({
        "entity_type": event.entity_type,
        "entity_id": event.entity_key(),
        "change": event.after,
    })
}

async fn recipients<C: ConnectionTrait>(
    conn: &C,
    to: Recipients,
) -> Result<Vec<uuid::Uuid>, DbErr> {
    Ok(match to {
        Recipients::Representatives(organization) => {
            notifications::representatives_of(conn, organization).await?
        }
        Recipients::LeadOf(application) => {
            notifications::lead_representatives(conn, application).await?
        }
        Recipients::Evaluators(agency) => notifications::evaluators_of(conn, agency).await?,
        Recipients::Administrators => notifications::administrators(conn).await?,
        Recipients::Users(users) => users,
    })
}

/// Add the audit row of an event, unless the audit log keeps the change otherwise.
fn keep_in(w: &mut Writes, actor: &Actor, at: DateTime<Utc>, event: DomainEvent) {
    if !event.audited() {
        return;
    }
    audit::insert_in(
        w,
        actor,
        at,
        Change {
            action: event.action(),
            entity_type: event.entity_type,
            entity_id: event.entity_key(),
            before: event.before,
            after: event.after,
        },
    );
}
