//! The annexes of an application: uploaded as `multipart/form-data` (a `metadata` part and a
//! `file` part, streamed into storage), listed, described and downloaded (whole, by range, or
//! not at all when the client already has it).

use std::ops::Range;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::extract::{Json, decode_json};
use crate::api::idempotency::{Deferral, Recorded, claim_deferred};
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::domain::signature::SignatureReport;
use crate::error::{ApiError, Problem, Violation};
use crate::service::documents::{
    self as service, Described, Document, METADATA_LIMIT, NewDocument,
};
use crate::state::AppState;

/// The `metadata` part of an upload: what the file is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "partnership_agreement", "organization_id": null}))]
pub struct UploadMetadata {
    /// One of the call's annex kinds (e.g. `partnership_agreement`, `letter_of_adhesion`) or
    /// `other`.
    #[schema(max_length = 40)]
    pub kind: String,
    /// The member an annex is about (e.g. the adhering partner of a letter of adhesion): an
    /// `organization_id` from the partnership's `members` (`GET /api/v1/partnerships/{id}`).
    #[serde(default)]
    pub organization_id: Option<Uuid>,
}

/// An upload: a `multipart/form-data` form with the two parts, in either order.
#[derive(ToSchema)]
#[schema(example = json!({"metadata": {"kind": "partnership_agreement", "organization_id": null}, "file": "accordo-partenariato.pdf"}))]
#[allow(dead_code)]
pub struct DocumentUpload {
    /// JSON, e.g. `{"kind": "partnership_agreement"}`.
    metadata: UploadMetadata,
    /// The file: PDF (signed ones too), CAdES envelope (`.p7m`, DER or base64), PNG or JPEG,
    /// read from its bytes; its name is the part's `filename`. At most the kind's
    /// `max_size_bytes` (20 MiB unless the call says otherwise).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The bytes of a file, exactly as uploaded.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary, example = "%PDF-1.7 ...")]
pub struct FileContent(#[allow(dead_code)] Vec<u8>);

/// An annex registered as a file kept elsewhere: only when the service runs with
/// `storage.external_files`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "partnership_agreement", "file_name": "accordo-partenariato.pdf", "size_bytes": 482113,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "organization_id": null}))]
pub struct DocumentInput {
    /// One of the call's annex kinds (e.g. `partnership_agreement`, `letter_of_adhesion`) or `other`.
    pub kind: String,
    pub file_name: String,
    pub size_bytes: i64,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// The member an annex is about (e.g. the adhering partner of a letter of adhesion): an
    /// `organization_id` from the partnership's `members` (`GET /api/v1/partnerships/{id}`).
    pub organization_id: Option<Uuid>,
}

/// An annex.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a", "kind": "partnership_agreement", "file_name": "accordo-partenariato.pdf.p7m", "size_bytes": 482113,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "media_type": "application/pkcs7-mime", "organization_id": null,
    "signature_report": {"signers": [{"name": "Mario Rossi", "tax_code": "RSSMRA85T10A562S", "signing_time": "2026-11-27T17:45:00.000000Z",
        "signature": "valid", "invalid_reason": null, "trust": "not_checked"}]},
    "created_at": "2026-11-28T09:00:00.000000Z"}))]
pub struct DocumentView {
    pub id: Uuid,
    pub kind: String,
    /// The name the file was uploaded with.
    pub file_name: String,
    pub size_bytes: i64,
    /// Lower-case hex SHA-256 of the file: also its download's `ETag`.
    pub sha256: String,
    /// Read from the file's bytes: `application/pdf`, `application/pkcs7-mime`, `image/png` or
    /// `image/jpeg`; `null` for an annex registered as kept elsewhere, which has no content here.
    pub media_type: Option<String>,
    pub organization_id: Option<Uuid>,
    /// For a CAdES envelope (`.p7m`), what its signatures say: each signer's name and tax code
    /// (from the certificate), signing time, whether the signature verifies over the content,
    /// and `trust: "not_checked"` (the EU trusted lists are not consulted: a plausibility
    /// check only). `null` for any other file. A signer's personal tax code is masked for
    /// applicants who do not represent the organization the annex is about (the lead, for an
    /// annex of the whole application).
    pub signature_report: Option<SignatureReport>,
    #[serde(with = "crate::domain::timestamp")]
    pub created_at: DateTime<Utc>,
}

impl From<&Document> for DocumentView {
    fn from(d: &Document) -> DocumentView {
        DocumentView {
            id: d.id,
            kind: d.kind.clone(),
            file_name: d.file_name.clone(),
            size_bytes: d.size_bytes,
            sha256: d.sha256.clone(),
            media_type: d.media_type.clone(),
            organization_id: d.organization_id,
            signature_report: d.signature_report.clone(),
            created_at: d.created_at,
        }
    }
}

fn location(application_id: Uuid, document_id: Uuid) -> String {
    format!("/api/v1/applications/{application_id}/documents/{document_id}")
}

/// An annex's `ETag`: its file's SHA-256, the same for its metadata and its content.
fn etag(sha256: &str) -> String {
    format!("\"{sha256}\"")
}

fn malformed() -> ApiError {
    ApiError::from(ErrorCode::MalformedMultipart)
}

/// Upload an annex of a draft.
///
/// Only the lead's representatives upload, only to a draft. The body is a `multipart/form-data`
/// form with a `metadata` part (JSON: kind, organization_id) and a `file` part, in either order.
/// The file is streamed into storage while its SHA-256 and size are computed; its type is read
/// from its bytes (PDF, CAdES `.p7m`, PNG, JPEG), its size is limited by its kind
/// (`max_size_bytes` of the call's required annexes, 20 MiB by default). The same content is kept
/// once. Whatever is refused leaves nothing behind.
///
/// A `.p7m` is opened: the file it wraps must be a PDF, PNG or JPEG, and each signature is
/// verified over it (RSA, ECDSA); the answer's `signature_report` names each signer (name and
/// tax code from the certificate) with `valid` or `invalid`. Whether the certificates are
/// trusted is not checked (`trust: "not_checked"`).
///
/// A service run with `storage.external_files` also takes a JSON body registering a file kept
/// elsewhere (kind, file_name, size_bytes, sha256, organization_id), which has no content to
/// download; otherwise such a body answers 415 `external_files_disabled`.
#[utoipa::path(
    operation_id = "addApplicationDocument",
    tag = "applications",
    params(
        ("application_id" = Uuid, Path, description = "The application's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key, e.g. a UUID: a repeat of the same upload (same metadata, file name and content) answers the first result"),
    ),
    request_body(
        description = "The form: a `metadata` part (JSON) and a `file` part.",
        content((DocumentUpload = "multipart/form-data"))
    ),
    responses(
        (status = 201, description = "Kept; `Location` is the annex, `ETag` its SHA-256", body = DocumentView,
            headers(("Location" = String, description = "The annex"), ("ETag" = String, description = "The file's SHA-256, quoted"))),
        (status = 400, description = "Not a readable form", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only applicants upload annexes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the kind's limit", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:file_too_large", "title": "Payload too large", "status": 413, "code": "file_too_large",
                "detail": "The file is larger than 20971520 bytes, the limit of this kind of annex."})),
        (status = 415, description = "A type the service does not keep, a name that says another type, or a JSON body while files are uploaded", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:unsupported_file_type", "title": "Unsupported media type", "status": 415, "code": "unsupported_file_type",
                "detail": "The file is none of the types kept (read from its bytes): PDF, CAdES envelope (.p7m), PNG or JPEG."})),
        (status = 422, description = "A missing or repeated part, an empty file, a bad file name, a kind the call does not know, not a member, a `.p7m` that cannot be opened (`unreadable_envelope`: malformed, or a detached signature without its file)", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422, "code": "validation_failed",
                "detail": "The request breaks 1 rule(s); see violations.",
                "violations": [{"field": "file", "code": "missing_part", "message": "The form has no file part."}]})),
        (status = 503, description = "The file storage is unavailable; nothing was kept", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[post("/applications/{application_id}/documents")]
pub async fn add_document(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    // Who may upload, before a byte of the body is read.
    let upload = service::begin_upload(&state.db, &caller, id).await?;
    if !crate::api::deadline::is_multipart(req.headers()) {
        return register_external(&req, &state, &caller, id, payload).await;
    }
    receive_form(&req, &state, upload, payload, |doc| location(id, doc)).await
}

/// Read an upload's form into `upload` (the `metadata` part, then or before the `file` part,
/// streamed), keep it, and answer 201 with its `Location` (`location` of the document's id)
/// and its `ETag`; a repeat with the same `Idempotency-Key` answers the first result.
pub(crate) async fn receive_form(
    req: &HttpRequest,
    state: &AppState,
    mut upload: service::Upload,
    payload: web::Payload,
    location: impl Fn(Uuid) -> String,
) -> Result<HttpResponse, ApiError> {
    let mut form = Multipart::new(req.headers(), payload.into_inner());
    while let Some(part) = form.next().await {
        let part = part.map_err(|_| malformed())?;
        match part.name().unwrap_or("") {
            "metadata" => {
                let bytes = read_small(part, METADATA_LIMIT).await?;
                let m: UploadMetadata = decode_json(&bytes).map_err(in_metadata)?;
                upload.describe(Described {
                    kind: m.kind,
                    organization_id: m.organization_id,
                })?;
            }
            "file" => {
                let name = part
                    .content_disposition()
                    .and_then(|d| d.get_filename())
                    .map(str::to_owned);
                let chunks = part.map_err(|_| malformed());
                upload.receive(&*state.storage, name, chunks).await?;
            }
            other => {
                return Err(ApiError::invalid(
                    other,
                    ErrorCode::UnexpectedPart.with(&[("part", &other)]),
                ));
            }
        }
    }
    let ready = upload.check().await?;
    let claim = match claim_deferred(req, state, &ready.fingerprint()).await? {
        Deferral::Answered(res) => return Ok(res),
        Deferral::Run(claim) => claim,
    };
    let mut answered = None;
    let doc = ready
        .keep(&state.db, state.now(), |doc| {
            let body =
                serde_json::to_value(DocumentView::from(doc)).map_err(anyhow::Error::from)?;
            let recorded = claim.as_ref().map(|c| {
                c.answer_with(
                    StatusCode::CREATED,
                    &body,
                    Some(&location(doc.id)),
                    Some(&etag(&doc.sha256)),
                )
            });
            answered = Some(body);
            Ok(recorded)
        })
        .await?;
    let mut res = created(&location(doc.id), &doc, answered);
    if claim.is_some() {
        res.extensions_mut().insert(Recorded);
    }
    Ok(res)
}

/// The JSON registration of a file kept elsewhere (`storage.external_files`).
async fn register_external(
    req: &HttpRequest,
    state: &AppState,
    caller: &AuthUser,
    id: Uuid,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !state.settings.storage.external_files {
        return Err(ApiError::from(ErrorCode::ExternalFilesDisabled));
    }
    let body = Json::<DocumentInput>::from_request(req, &mut payload.into_inner()).await?;
    let doc = service::register_external(&state.db, caller, state.now(), id, || {
        let d = body.parse()?;
        Ok(NewDocument {
            kind: d.kind,
            file_name: d.file_name,
            size_bytes: d.size_bytes,
            sha256: d.sha256,
            organization_id: d.organization_id,
            media_type: None,
            signature_report: None,
        })
    })
    .await?;
    Ok(created(
        &location(id, doc.id),
        &doc,
        DocumentView::from(&doc),
    ))
}

/// 201 with the annex's `Location` and `ETag`.
fn created(location: &str, doc: &Document, body: impl Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, etag(&doc.sha256)))
        .json(body)
}

/// A violation of the metadata part names its field under `metadata`.
fn in_metadata(e: ApiError) -> ApiError {
    let prefix = |v: &Violation| Violation {
        field: if v.field.is_empty() {
            "metadata".to_owned()
        } else {
            format!("metadata.{}", v.field)
        },
        ..v.clone()
    };
    match e {
        ApiError::Validation(v) => ApiError::Validation(v.iter().map(prefix).collect()),
        ApiError::BadRequest {
            code,
            message,
            violations,
        } => ApiError::BadRequest {
            code,
            message,
            violations: violations.iter().map(prefix).collect(),
        },
        other => other,
    }
}

/// A small part, whole: at most `limit` bytes.
async fn read_small(mut part: actix_multipart::Field, limit: usize) -> Result<Bytes, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = part.next().await {
        let chunk = chunk.map_err(|_| malformed())?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// List the annexes of an application.
///
/// For whoever may read the application: its members, the evaluators of its agency once they
/// have declared on their conflict of interest, administrators. Oldest first.
#[utoipa::path(
    operation_id = "listApplicationDocuments",
    tag = "applications",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "The annexes", body = Vec<DocumentView>),
        (status = 403, description = "An evaluator who has not declared on its conflict of interest, or declared one", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:conflict_declaration_required", "title": "Forbidden", "status": 403, "code": "conflict_declaration_required",
                "detail": "Declare whether you have a conflict of interest with the partnership's members first (POST .../conflict-of-interest)."})),
        (status = 404, description = "No such application that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/applications/{application_id}/documents")]
pub async fn list_documents(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let docs: Vec<DocumentView> = service::documents(&state.db, &caller, path.into_inner())
        .await?
        .iter()
        .map(DocumentView::from)
        .collect();
    Ok(HttpResponse::Ok().json(docs))
}

/// Describe one annex.
///
/// What it is, its name, size, SHA-256 and the type read from its bytes, for whoever may read
/// the application; `ETag` is the file's SHA-256.
#[utoipa::path(
    operation_id = "getApplicationDocument",
    tag = "applications",
    params(
        ("application_id" = Uuid, Path, description = "The application's id"),
        ("document_id" = Uuid, Path, description = "The annex's id"),
    ),
    responses(
        (status = 200, description = "The annex", body = DocumentView,
            headers(("ETag" = String, description = "The file's SHA-256, quoted"))),
        (status = 403, description = "An evaluator who has not declared on its conflict of interest, or declared one", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller may see, or no such annex", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/applications/{application_id}/documents/{document_id}")]
pub async fn get_document(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, document_id) = path.into_inner();
    let doc = service::document(&state.db, &caller, id, document_id).await?;
    Ok(describe(&doc))
}

/// An annex's metadata, with its `ETag`.
pub(crate) fn describe(doc: &Document) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(&doc.sha256)))
        .json(DocumentView::from(doc))
}

/// Whether `If-None-Match` names this `ETag` (or is `*`), compared as the public reads do.
fn none_match(req: &HttpRequest, tag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| crate::api::caching::none_match_hits(v, tag))
}

/// The bytes a `Range` header asks for, of a file of `size` bytes: `None` for the whole file
/// (no header, one that is not a single byte range, or an `If-Range` that is not the current
/// `ETag`), 416 when no byte of it is in the file.
fn requested_range(
    req: &HttpRequest,
    tag: &str,
    size: u64,
) -> Result<Option<Range<u64>>, ApiError> {
    let Some(spec) = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    if let Some(if_range) = req.headers().get(header::IF_RANGE)
        && if_range.to_str().ok().map(str::trim) != Some(tag)
    {
        return Ok(None);
    }
    let Some(set) = spec.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if set.contains(',') {
        // Several ranges: the whole file, which RFC 9110 allows.
        return Ok(None);
    }
    let Some((first, last)) = set.trim().split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let unsatisfiable = || ApiError::from(ErrorCode::RangeNotSatisfiable.with(&[("size", &size)]));
    let range = if first.is_empty() {
        // The last n bytes.
        let Ok(n) = last.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(unsatisfiable());
        }
        size.saturating_sub(n)..size
    } else {
        let Ok(start) = first.parse::<u64>() else {
            return Ok(None);
        };
        let end = if last.is_empty() {
            size
        } else {
            match last.parse::<u64>() {
                Ok(l) if l >= start => l.saturating_add(1).min(size),
                _ => return Ok(None),
            }
        };
        if start >= size {
            return Err(unsatisfiable());
        }
        start..end
    };
    Ok(Some(range))
}

/// `attachment`, with the original name: an ASCII fallback in `filename` and the exact name,
/// percent-encoded UTF-8, in `filename*` (RFC 6266).
fn disposition(file_name: &str) -> ContentDisposition {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(fallback),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".to_owned()),
                language_tag: None,
                value: file_name.as_bytes().to_vec(),
            }),
        ],
    }
}

/// Download an annex's file.
///
/// Exactly the bytes uploaded (`ETag` is their SHA-256, as in the receipt), as an attachment with
/// its original name, for whoever may read the application. `If-None-Match` answers 304 when the
/// client has them; `Range: bytes=...` (one range, with `If-Range`) answers 206 with those
/// bytes.
#[utoipa::path(
    operation_id = "getApplicationDocumentContent",
    tag = "applications",
    params(
        ("application_id" = Uuid, Path, description = "The application's id"),
        ("document_id" = Uuid, Path, description = "The annex's id"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` the client holds: 304 when it is current"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023` or `bytes=-500`"),
        ("If-Range" = Option<String>, Header, description = "The `ETag` a range is asked of: the whole file when it is not current"),
    ),
    responses(
        (status = 200, description = "The file, of the type read from its bytes",
            content(
                (FileContent = "application/pdf"),
                (FileContent = "application/pkcs7-mime"),
                (FileContent = "image/png"),
                (FileContent = "image/jpeg"),
            ),
            headers(
                ("Content-Disposition" = String, description = "attachment, with the original name"),
                ("ETag" = String, description = "The file's SHA-256, quoted"),
                ("Accept-Ranges" = String, description = "bytes"),
            )),
        (status = 206, description = "The bytes of the range",
            content(
                (FileContent = "application/pdf"),
                (FileContent = "application/pkcs7-mime"),
                (FileContent = "image/png"),
                (FileContent = "image/jpeg"),
            ),
            headers(("Content-Range" = String, description = "e.g. bytes 0-1023/482113"))),
        (status = 304, description = "The client's copy is current"),
        (status = 403, description = "An evaluator who has not declared on its conflict of interest, or declared one", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller may see, no such annex, or an annex registered as kept elsewhere", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range is outside the file", body = Problem, content_type = "application/problem+json",
            headers(("Content-Range" = String, description = "bytes */<size>"))),
        (status = 503, description = "The file storage is unavailable", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[get("/applications/{application_id}/documents/{document_id}/content")]
pub async fn download_document(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, document_id) = path.into_inner();
    let doc = service::document(&state.db, &caller, id, document_id).await?;
    send_file(&req, &state, doc).await
}

/// The file of an annex the caller may see: 304 when the client has it, a range of it, or
/// all of it, as an attachment with its original name.
pub(crate) async fn send_file(
    req: &HttpRequest,
    state: &AppState,
    doc: Document,
) -> Result<HttpResponse, ApiError> {
    let tag = etag(&doc.sha256);
    if doc.media_type.is_some() && none_match(req, &tag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .insert_header((header::CACHE_CONTROL, "private, no-cache"))
            .finish());
    }
    let mut unsatisfiable_size = None;
    let download = service::download(&*state.storage, doc, |size| {
        requested_range(req, &tag, size).inspect_err(|_| unsatisfiable_size = Some(size))
    })
    .await;
    let download = match download {
        Ok(d) => d,
        Err(e) => {
            let mut res = actix_web::ResponseError::error_response(&e);
            if let Some(size) = unsatisfiable_size {
                res.headers_mut().insert(
                    header::CONTENT_RANGE,
                    header::HeaderValue::from_str(&format!("bytes */{size}"))
                        .map_err(anyhow::Error::from)?,
                );
            }
            return Ok(res);
        }
    };
    let doc = download.document;
    let content = download.content;
    let size = u64::try_from(doc.size_bytes).unwrap_or(0);
    let sent = download.range;
    let mut res = match &sent {
        Some(r) => {
            let mut b = HttpResponse::PartialContent();
            b.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{}", r.start, r.end - 1, content.size),
            ));
            b
        }
        None => HttpResponse::Ok(),
    };
    let length = sent.as_ref().map_or(size, |r| r.end - r.start);
    let bytes = content.bytes.map(|chunk| {
        chunk
            .map(Bytes::from)
            .map_err(|e| actix_web::error::ErrorServiceUnavailable(e.to_string()))
    });
    Ok(res
        .insert_header((
            header::CONTENT_TYPE,
            doc.media_type
                .as_deref()
                .unwrap_or("application/octet-stream"),
        ))
        .insert_header(disposition(&doc.file_name))
        .insert_header((header::ETAG, tag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .no_chunking(length)
        .streaming(bytes))
}

/// Delete an annex of a draft.
///
/// Only the lead's representatives, only while the application is a draft. The file stays while
/// another annex refers to it; the sweeper removes it once none does.
#[utoipa::path(
    operation_id = "deleteApplicationDocument",
    tag = "applications",
    params(
        ("application_id" = Uuid, Path, description = "The application's id"),
        ("document_id" = Uuid, Path, description = "The annex's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Only applicants delete annexes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application or annex", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/applications/{application_id}/documents/{document_id}")]
pub async fn delete_document(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, document_id) = path.into_inner();
    service::delete_document(&state.db, &caller, state.now(), id, document_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
