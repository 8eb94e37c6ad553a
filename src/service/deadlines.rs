//! The periodic job of the projects' deadlines (§5.1, §5.4): a week before a live project's
//! start or final report is due, its lead is reminded; once the day has passed without it, its
//! ATS's evaluators hear of it (and a webhook says so), and the grant is flagged `overdue` /
//! `report_overdue`. Each notice is sent once per grant, whatever the replicas and restarts:
//! its row in `deadline_notices` is inserted in the transaction that records the event, under
//! the grant's lock. Nothing is ever revoked here.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use super::events;
use super::grants::grant_not_found;
use crate::domain::award::{self, Deadline, DeadlineNotice, PostAwardRules};
use crate::domain::call::rome_day;
use crate::domain::event::Actor;
use crate::domain::event::grant as event;
use crate::domain::grant::GrantStatus;
use crate::error::ApiError;
use crate::store::{begin_write, calls, deadlines, grants, reports};

use crate::store::grants::Grant;

/// Send the deadline notices due at `now` that no run has sent yet: how many this run sent.
pub async fn notify_due(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let mut rules = BTreeMap::new();
    let mut due = Vec::new();
    for deadline in [Deadline::Start, Deadline::Report] {
        let candidates = grants::awaiting(db, deadline).await?;
        let ids: Vec<Uuid> = candidates.iter().map(|g| g.id).collect();
        let sent = deadlines::sent(db, &ids).await?;
        for g in candidates {
            let r = rules_of(db, &mut rules, g.call_id).await?;
            if let Some((notice, _)) = owed(&g, deadline, r, now)
                && !sent.contains(&(g.id, notice))
            {
                due.push((g.id, g.call_id, deadline));
            }
        }
    }
    let mut count = 0;
    for (id, call_id, deadline) in due {
        let r = rules_of(db, &mut rules, call_id).await?;
        if send(db, actor, id, deadline, r, now).await? {
            count += 1;
        }
    }
    Ok(count)
}

/// A call's post-award rules, read once per run.
async fn rules_of<'a>(
    db: &DatabaseConnection,
    rules: &'a mut BTreeMap<Uuid, PostAwardRules>,
    call_id: Uuid,
) -> Result<&'a PostAwardRules, ApiError> {
    Ok(match rules.entry(call_id) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(e) => {
            let call = calls::get(db, call_id).await?.ok_or_else(grant_not_found)?;
            e.insert(call.rules.post_award)
        }
    })
}

/// The notice a live grant is owed at `now` about `deadline`, with the deadline's last day,
/// while what the deadline awaits has not come (that the report is not submitted is the
/// caller's check).
fn owed(
    g: &Grant,
    deadline: Deadline,
    rules: &PostAwardRules,
    now: DateTime<Utc>,
) -> Option<(DeadlineNotice, NaiveDate)> {
    if g.status != GrantStatus::Accepted {
        return None;
    }
    let last_day = match (deadline, g.start_date, g.end_date) {
        (Deadline::Start, None, _) => {
            let accepted_at = g.answered_at.unwrap_or(g.offered_at);
            rome_day(award::start_deadline(rules, accepted_at))
        }
        (Deadline::Report, Some(_), Some(end)) => award::report_deadline(rules, end),
        _ => return None,
    };
    award::notice_due(deadline, last_day, now).map(|n| (n, last_day))
}

/// Send the notice a grant is owed about `deadline`, in one transaction under the grant's
/// lock: checked again there, its row inserted, and its event recorded only when this insert
/// created the row. Whether it was sent.
async fn send(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    deadline: Deadline,
    rules: &PostAwardRules,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let tx = begin_write(db).await?;
    let Some(g) = grants::get_for_update(&tx, id).await? else {
        return Ok(false);
    };
    let Some((notice, last_day)) = owed(&g, deadline, rules, now) else {
        return Ok(false);
    };
    if deadline == Deadline::Report && submitted(&tx, id).await? {
        return Ok(false);
    }
    if !deadlines::record(&tx, id, notice, last_day, now).await? {
        return Ok(false);
    }
    let e = event::deadline_notice(id, g.agency, g.application_id, notice, last_day);
    events::record(&tx, actor, now, e).await?;
    tx.commit().await?;
    Ok(true)
}

/// Whether the project's final report is submitted.
async fn submitted<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<bool, ApiError> {
    let found = reports::submissions(conn, &[id]).await?;
    Ok(found.get(&id).is_some_and(|s| s.submitted_at.is_some()))
}
