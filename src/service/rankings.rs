//! Rankings: computing, approving, scorrimento, and the offers that follow.

use sea_orm::ConnectionTrait;

use crate::error::ApiError;
use crate::store::applications::Application;
use crate::store::rankings::approved;

/// Refuse a change of an application once its agency's ranking is approved: from then on
/// it changes only through new ranking versions.
pub async fn ensure_not_approved<C: ConnectionTrait>(
    conn: &C,
    app: &Application,
) -> Result<(), ApiError> {
    if let Some(agency) = app.content.agency_code
        && approved(conn, app.call_id, agency).await?
    {
        return Err(ApiError::conflict(
            "ranking_approved",
            "The agency's ranking is approved: the application and its scores are frozen.",
            "La graduatoria dell'ATS è approvata: la domanda e i suoi punteggi sono congelati.",
        ));
    }
    Ok(())
}
