//! Applications: drafts, annexes, submission with a receipt, withdrawal, history. Their
//! documents (`dto`), how they are shown (`views`), their handlers (`handlers`), and their
//! annexes as a resource of their own (`documents`).

pub mod documents;
pub mod dto;
pub mod handlers;
pub mod views;

pub use documents::{
    DocumentInput, DocumentUpload, DocumentView, UploadMetadata, add_document, delete_document,
    download_document, get_document, list_documents,
};
pub use dto::{
    ApplicationList, ApplicationQuery, ApplicationView, ExportFormat, HistoryView, NewApplication,
    Receipt, TotalsView, WithdrawRequest,
};
pub use handlers::{
    create_application, delete_application, get_application, get_receipt, history,
    list_applications, patch_application, submit, withdraw,
};
