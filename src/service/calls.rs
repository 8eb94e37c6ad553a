//! Calls: drafting, publishing, amending, cloning, and their envelopes.

use crate::error::ApiError;

pub fn call_not_found() -> ApiError {
    ApiError::not_found(
        "call_not_found",
        "There is no such call.",
        "Questo avviso non esiste.",
    )
}
