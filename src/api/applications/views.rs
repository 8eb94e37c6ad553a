//! How applications, receipts and their history are shown.

use super::dto::{ApplicationView, HistoryView, Receipt, TotalsView};
use crate::domain::Violation;
use crate::domain::application::{ApplicationContent, totals};
use crate::domain::partnership::Access;
use crate::error::{Lang, ProblemViolation};
use crate::service::applications::{self as service, Application, HistoryEntry, Shown};

/// Violations in the caller's language, as a problem lists them.
pub(crate) fn localise(v: Vec<Violation>, lang: Lang) -> Vec<ProblemViolation> {
    v.into_iter()
        .map(|x| ProblemViolation {
            field: x.field,
            code: x.code.as_str().to_owned(),
            message: x.message.get(lang).to_owned(),
        })
        .collect()
}

/// An application as the caller sees it; what blocks a draft's submission in the caller's
/// language.
pub fn view_of(s: Shown) -> ApplicationView {
    let Shown {
        app,
        call,
        access,
        blocking,
    } = s;
    ApplicationView {
        id: app.id,
        call_id: app.call_id,
        partnership_id: app.partnership_id,
        status: app.status,
        totals: totals(&app.content.budget, &call.rules).map(|t| TotalsView {
            total_cost: t.total_cost,
            max_grant: t.max_grant,
        }),
        content: app.content,
        blocking: localise(blocking, crate::error::current_context().lang),
        protocol_number: app.protocol_number,
        submitted_at: app.submitted_at,
        snapshot_sha256: app.snapshot_sha256,
        can_manage: access == Access::Manage,
        review_status: app.review_status,
        integration_deadline: app.integration_deadline,
        restricted: false,
        created_at: app.created_at,
        updated_at: app.updated_at,
    }
}

/// What an evaluator sees of an application before a declaration of no conflict.
pub fn restricted_view(app: &Application) -> ApplicationView {
    ApplicationView {
        id: app.id,
        call_id: app.call_id,
        partnership_id: app.partnership_id,
        status: app.status,
        content: ApplicationContent {
            title: app.content.title.clone(),
            agency_code: app.content.agency_code,
            ..Default::default()
        },
        totals: None,
        blocking: vec![],
        protocol_number: app.protocol_number.clone(),
        submitted_at: app.submitted_at,
        snapshot_sha256: None,
        can_manage: false,
        review_status: app.review_status,
        integration_deadline: app.integration_deadline,
        restricted: true,
        created_at: app.created_at,
        updated_at: app.updated_at,
    }
}

impl From<&service::Receipt> for Receipt {
    fn from(r: &service::Receipt) -> Receipt {
        Receipt {
            application_id: r.application_id,
            call_code: r.call_code.clone(),
            protocol_number: r.protocol_number.clone(),
            submitted_at: r.submitted_at,
            snapshot_sha256: r.snapshot_sha256.clone(),
            hash_algorithm: "SHA-256 of the RFC 8785 canonical JSON of snapshot".into(),
            snapshot: r.snapshot.clone(),
        }
    }
}

impl From<HistoryEntry> for HistoryView {
    fn from(h: HistoryEntry) -> HistoryView {
        HistoryView {
            from_status: h.from_status,
            to_status: h.to_status,
            at: h.at,
            actor_id: h.actor_id,
            actor_role: h.actor_role,
            reason: h.reason,
        }
    }
}
