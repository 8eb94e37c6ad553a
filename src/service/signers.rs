//! Who sees the signers' personal tax codes of a signed file in full: administrators and
//! evaluators always; an applicant for a file about an organization it represents, or about
//! the whole application when it leads it. Shared by the annexes and the final report's
//! evidence.

use sea_orm::DatabaseConnection;

use crate::auth::AuthUser;
use crate::domain::partnership::Access;
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::store::applications::Document;
use crate::store::organizations;

/// Mask the signers' tax codes of these files that the caller, with `access` to their
/// application, may not see in full.
pub async fn mask(
    db: &DatabaseConnection,
    caller: &AuthUser,
    access: Access,
    docs: &mut [Document],
) -> Result<(), ApiError> {
    if caller.role != Role::Applicant || docs.iter().all(|d| d.signature_report.is_none()) {
        return Ok(());
    }
    let represented = organizations::represented_by(db, caller.id).await?;
    for d in docs {
        let reveal = match d.organization_id {
            Some(o) => represented.contains(&o),
            None => access == Access::Manage,
        };
        mask_unless(reveal, d);
    }
    Ok(())
}

/// The signers' tax codes of a file masked, unless the caller may see them in full.
pub fn mask_unless(reveal: bool, d: &mut Document) {
    if let (false, Some(report)) = (reveal, &mut d.signature_report) {
        report.mask_tax_codes();
    }
}
