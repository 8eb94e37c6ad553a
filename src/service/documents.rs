//! The annexes of an application: files uploaded to a draft (streamed into storage while their
//! SHA-256 and size are computed, their type read from their bytes), listed and read back by
//! whoever may read the application. The same content is kept once; the sweeper
//! (`service::files`) removes what no annex refers to.

use std::collections::BTreeSet;
use std::ops::Range;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use sea_orm::DatabaseConnection;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::applications::{Seen, application_not_found, draft_in, frozen, managed, record, seen};
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::domain::Violations;
use crate::domain::application::{ApplicationStatus, check_annex, check_file_name};
use crate::domain::award::EVIDENCE_KIND;
use crate::domain::call::CallRules;
use crate::domain::event::Actor;
use crate::domain::event::application::ApplicationEvent;
use crate::domain::media::{MediaType, SNIFF_LEN, name_contradicts, sniff};
use crate::domain::signature::{self, Content as Wrapped, EnvelopeError, SignatureReport};
use crate::error::ApiError;
use crate::storage::{Content, Staged, Storage, StorageError, UploadError, stage};
use crate::store::applications as store;
use crate::store::idempotency::{self, Answer};
use crate::store::{self as db_store, organizations, partnerships};

pub use crate::store::applications::{Document, NewDocument};

/// The largest `metadata` part of an upload form.
pub const METADATA_LIMIT: usize = 16 * 1024;

fn storage_unavailable(e: StorageError) -> ApiError {
    tracing::warn!(error = %e, "file storage unavailable");
    ApiError::from(ErrorCode::StorageUnavailable)
}

/// What the form's `metadata` part says of the file.
pub struct Described {
    pub kind: String,
    pub organization_id: Option<Uuid>,
}

/// An upload to a draft, checked part by part as the form arrives: who may upload before a
/// byte is kept, the metadata as soon as it is read, the file while it streams.
pub struct Upload {
    application_id: Uuid,
    /// An annex of a draft, or an evidence file of a project's final report.
    target: Target,
    actor: Actor,
    rules: CallRules,
    members: BTreeSet<Uuid>,
    described: Option<Described>,
    file: Option<Received>,
}

/// Where an upload goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// An annex of a draft application.
    Draft,
    /// An evidence file of the final report of this grant (the project).
    Evidence { grant_id: Uuid },
}

/// The form's file part: its name, the staged file, and its bytes when it is a `.p7m`.
struct Received {
    name: Option<String>,
    staged: Staged,
    envelope: Option<Vec<u8>>,
}

/// The largest `.p7m` the service opens: it is verified whole, in memory, whatever larger
/// limit its kind of annex allows.
pub const MAX_ENVELOPE_BYTES: u64 = 64 * 1024 * 1024;

/// The bytes of a file kept in memory while it streams only when its first bytes say it is a
/// CAdES envelope, which is opened whole; of any other file, at most its first bytes.
struct EnvelopeBytes {
    bytes: Vec<u8>,
    /// Whether it is an envelope, once its first bytes are in.
    cades: Option<bool>,
    /// The most kept: [`MAX_ENVELOPE_BYTES`].
    limit: u64,
    /// An envelope beyond the limit: no longer kept, refused once staged.
    oversized: bool,
}

impl Default for EnvelopeBytes {
    fn default() -> EnvelopeBytes {
        EnvelopeBytes {
            bytes: Vec::new(),
            cades: None,
            limit: MAX_ENVELOPE_BYTES,
            oversized: false,
        }
    }
}

impl EnvelopeBytes {
    fn push(&mut self, chunk: &[u8]) {
        if self.cades == Some(false) || self.oversized {
            return;
        }
        if (self.bytes.len() + chunk.len()) as u64 > self.limit {
            self.oversized = true;
            self.bytes = Vec::new();
            return;
        }
        self.bytes.extend_from_slice(chunk);
        if self.cades.is_none() && self.bytes.len() >= SNIFF_LEN {
            self.decide();
        }
    }

    fn decide(&mut self) {
        let cades = sniff(&self.bytes) == Some(MediaType::Cades);
        if !cades {
            self.bytes = Vec::new();
        }
        self.cades = Some(cades);
    }

    /// The whole file, if it is an envelope.
    fn finish(mut self) -> Option<Vec<u8>> {
        if self.cades.is_none() {
            self.decide();
        }
        (self.cades == Some(true)).then_some(self.bytes)
    }
}

/// Start an upload to an application: only its lead's representatives upload, only to a draft.
pub async fn begin_upload(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
) -> Result<Upload, ApiError> {
    let s = managed(db, caller, id).await?;
    if s.app.status != ApplicationStatus::Draft {
        return Err(frozen());
    }
    let partnership = partnerships::get(db, s.app.partnership_id)
        .await?
        .ok_or_else(application_not_found)?;
    Ok(Upload {
        application_id: s.app.id,
        target: Target::Draft,
        actor: caller.actor(),
        rules: s.call.rules,
        members: partnership.member_ids(),
        described: None,
        file: None,
    })
}

/// Start an upload of an evidence file to a project's final report: only the lead's
/// representatives, while the report is a draft or asked for integration. Its kind is
/// `report_evidence`; the largest annex size of the call is its limit.
pub async fn begin_evidence_upload(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    grant_id: Uuid,
) -> Result<Upload, ApiError> {
    let t = super::reports::evidence_target(db, caller, now, grant_id).await?;
    let partnership = {
        let app = store::get(db, t.application_id)
            .await?
            .ok_or_else(application_not_found)?;
        partnerships::get(db, app.partnership_id)
            .await?
            .ok_or_else(application_not_found)?
    };
    Ok(Upload {
        application_id: t.application_id,
        target: Target::Evidence {
            grant_id: t.grant_id,
        },
        actor: caller.actor(),
        rules: t.call.rules,
        members: partnership.member_ids(),
        described: None,
        file: None,
    })
}

impl Upload {
    /// The largest size of a file of `kind`, if the upload takes that kind.
    fn kind_limit(&self, kind: &str) -> Option<u64> {
        match self.target {
            Target::Draft => self.rules.annex_max_size(kind),
            Target::Evidence { .. } => {
                (kind == EVIDENCE_KIND).then(|| self.rules.largest_annex_size())
            }
        }
    }

    /// The most bytes the file may have as far as the form has told: its kind's limit once the
    /// metadata is read, the largest of the call's before.
    pub fn limit(&self) -> u64 {
        self.described
            .as_ref()
            .and_then(|d| self.kind_limit(&d.kind))
            .unwrap_or_else(|| self.rules.largest_annex_size())
    }

    /// The form's metadata: a kind the call knows, about a member of the partnership.
    pub fn describe(&mut self, d: Described) -> Result<(), ApiError> {
        if self.described.is_some() {
            return Err(ApiError::invalid(
                "metadata",
                ErrorCode::DuplicatePart.with(&[("part", &"metadata")]),
            ));
        }
        let mut v = Violations::new();
        if self.kind_limit(&d.kind).is_none() {
            let kinds: BTreeSet<&str> = match self.target {
                Target::Draft => self
                    .rules
                    .required_annexes
                    .iter()
                    .map(|a| a.kind.as_str())
                    .chain(["other"])
                    .collect(),
                Target::Evidence { .. } => BTreeSet::from([EVIDENCE_KIND]),
            };
            let list = kinds.into_iter().collect::<Vec<_>>().join(", ");
            v.add(
                "metadata.kind",
                ErrorCode::UnknownKind.with(&[("list", &list)]),
            );
        }
        if d.organization_id
            .is_some_and(|o| !self.members.contains(&o))
        {
            v.add("metadata.organization_id", not_a_member());
        }
        ApiError::check(v.into_vec())?;
        self.described = Some(d);
        Ok(())
    }

    /// The form's file, streamed into storage under a temporary name (kept only by
    /// [`Ready::keep`]). Over the limit, or when the client goes away, nothing is left.
    pub async fn receive<S, B>(
        &mut self,
        storage: &dyn Storage,
        file_name: Option<String>,
        chunks: S,
    ) -> Result<(), ApiError>
    where
        S: futures_util::Stream<Item = Result<B, ApiError>> + Unpin,
        B: AsRef<[u8]>,
    {
        if self.file.is_some() {
            return Err(ApiError::invalid(
                "file",
                ErrorCode::DuplicatePart.with(&[("part", &"file")]),
            ));
        }
        let limit = self.limit();
        let mut envelope = EnvelopeBytes::default();
        let chunks = chunks.inspect(|chunk| {
            if let Ok(bytes) = chunk {
                envelope.push(bytes.as_ref());
            }
        });
        let staged = stage(storage, chunks, limit).await.map_err(|e| match e {
            UploadError::Refused(e) => e,
            UploadError::TooLarge { limit } => too_large(limit),
            UploadError::Storage(e) => storage_unavailable(e),
        })?;
        if envelope.oversized {
            // The staged file goes with `staged`, never committed.
            return Err(ApiError::from(ErrorCode::FileTooLarge.worded(
                format!("The signed file (.p7m) is larger than {MAX_ENVELOPE_BYTES} bytes, the most the service verifies."),
                format!("Il file firmato (.p7m) supera i {MAX_ENVELOPE_BYTES} byte, il massimo che il servizio verifica."),
            )));
        }
        self.file = Some(Received {
            name: file_name,
            staged,
            envelope: envelope.finish(),
        });
        Ok(())
    }

    /// Everything about the form, once it is read: both parts, a file name, a file that is not
    /// empty, of a type the service keeps, not larger than its kind allows. A `.p7m` is opened
    /// (on a blocking thread): its signatures are verified and what it wraps must be of a type
    /// the service keeps.
    pub async fn check(mut self) -> Result<Ready, ApiError> {
        let mut missing = Violations::new();
        if self.described.is_none() {
            missing.add(
                "metadata",
                ErrorCode::MissingPart.with(&[("part", &"metadata")]),
            );
        }
        if self.file.is_none() {
            missing.add("file", ErrorCode::MissingPart.with(&[("part", &"file")]));
        }
        ApiError::check(missing.into_vec())?;
        let (
            Some(described),
            Some(Received {
                name: file_name,
                staged,
                envelope,
            }),
        ) = (self.described.take(), self.file.take())
        else {
            unreachable!("both parts are there");
        };
        let limit = self.kind_limit(&described.kind).unwrap_or_default();
        let mut v = Violations::new();
        let file_name = file_name.unwrap_or_default();
        v.extend(check_file_name("file.filename", &file_name));
        if staged.stored.size == 0 {
            v.add("file", ErrorCode::EmptyFile);
        }
        ApiError::check(v.into_vec())?;
        if staged.stored.size > limit {
            return Err(too_large(limit));
        }
        let Some(media) = sniff(&staged.stored.head) else {
            return Err(ApiError::from(ErrorCode::UnsupportedFileType));
        };
        let file_name = file_name.trim().to_owned();
        if name_contradicts(&file_name, media) {
            return Err(ApiError::from(ErrorCode::FileNameContradictsType.with(&[
                ("file_name", &file_name),
                ("media_type", &media.as_str()),
            ])));
        }
        let signature_report = match (media, envelope) {
            (MediaType::Cades, Some(bytes)) => Some(open_envelope(bytes).await?),
            _ => None,
        };
        Ok(Ready {
            application_id: self.application_id,
            target: self.target,
            actor: self.actor,
            described,
            file_name,
            media,
            staged,
            signature_report,
        })
    }
}

/// Open a `.p7m` off the async workers (verifying signatures is CPU work): its signatures'
/// report, once what it wraps is known to be a file the service keeps (not another envelope).
async fn open_envelope(bytes: Vec<u8>) -> Result<SignatureReport, ApiError> {
    let opened = tokio::task::spawn_blocking(move || {
        signature::open(bytes).map(|envelope| {
            let inner = match envelope.content() {
                Wrapped::Attached(content) => Some(sniff(content)),
                Wrapped::Detached => None,
            };
            (envelope.into_report(), inner)
        })
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("opening an envelope: {e}")))?;
    let unreadable = |en: &str, it: &str| {
        ApiError::invalid(
            "file",
            ErrorCode::UnreadableEnvelope.with(&[("reason_en", &en), ("reason_it", &it)]),
        )
    };
    match opened {
        Err(EnvelopeError::NotCms | EnvelopeError::Malformed(_)) => Err(unreadable(
            "it is not a well-formed CMS SignedData",
            "non è una CMS SignedData ben formata",
        )),
        Err(EnvelopeError::Unsupported(_)) => Err(unreadable(
            "it uses an algorithm or a signer identifier the service does not read",
            "usa un algoritmo o un identificativo del firmatario che il servizio non legge",
        )),
        Ok((_, None)) => Err(unreadable(
            "it does not carry the signed file (a detached signature): sign with the file inside",
            "non contiene il file firmato (firma staccata): firmare includendo il file",
        )),
        Ok((_, Some(None | Some(MediaType::Cades)))) => {
            Err(ApiError::from(ErrorCode::UnsupportedFileType.worded(
                "The envelope wraps a file of none of the types kept (read from its bytes): PDF, PNG or JPEG.",
                "La busta contiene un file di nessuno dei tipi ammessi (letto dal suo contenuto): PDF, PNG o JPEG.",
            )))
        }
        Ok((report, Some(Some(_)))) => Ok(report),
    }
}

/// An annex about an organization outside the partnership.
fn not_a_member() -> crate::domain::error_code::Coded {
    ErrorCode::NotAMember.worded(
        "The annex is about a member of the partnership.",
        "L'allegato riguarda un membro del partenariato.",
    )
}

fn too_large(limit: u64) -> ApiError {
    ApiError::from(ErrorCode::FileTooLarge.with(&[("limit", &limit)]))
}

/// An upload whose form is in order, its file still under a temporary name.
pub struct Ready {
    application_id: Uuid,
    target: Target,
    actor: Actor,
    described: Described,
    file_name: String,
    media: MediaType,
    staged: Staged,
    signature_report: Option<SignatureReport>,
}

impl Ready {
    /// What identifies this upload for a repeat with the same `Idempotency-Key`: its metadata,
    /// its file name and its file's SHA-256.
    pub fn fingerprint(&self) -> String {
        let facts = json!({
            "kind": self.described.kind,
            "organization_id": self.described.organization_id,
            "file_name": self.file_name,
            "sha256": self.staged.stored.sha256,
        });
        hex::encode(Sha256::digest(facts.to_string().as_bytes()))
    }

    /// Keep the file under its SHA-256, then record the annex (and, with a key, its answer:
    /// `answer` is called with the row inside the transaction). The file is kept first: a
    /// failure after it leaves a file that nothing refers to, which the sweeper removes.
    pub async fn keep(
        self,
        db: &DatabaseConnection,
        now: DateTime<Utc>,
        answer: impl FnOnce(&Document) -> Result<Option<Answer>, ApiError>,
    ) -> Result<Document, ApiError> {
        // The answer shows the signers as a read would: masked, for an annex about a member
        // the uploader does not represent.
        let reveal = match (&self.signature_report, self.described.organization_id) {
            (Some(_), Some(about)) => match self.actor.user_id {
                Some(user) => organizations::represented_by(db, user)
                    .await?
                    .contains(&about),
                None => false,
            },
            _ => true,
        };
        let shown = |doc: &Document| {
            let mut doc = doc.clone();
            super::signers::mask_unless(reveal, &mut doc);
            doc
        };
        let stored = self.staged.commit().await.map_err(storage_unavailable)?;
        let d = NewDocument {
            kind: self.described.kind,
            file_name: self.file_name,
            size_bytes: i64::try_from(stored.size).unwrap_or(i64::MAX),
            sha256: stored.sha256,
            organization_id: self.described.organization_id,
            media_type: Some(self.media.as_str().to_owned()),
            signature_report: self.signature_report,
        };
        let doc = add_to_draft(
            db,
            &self.actor,
            now,
            (self.application_id, self.target),
            d,
            |doc| answer(&shown(doc)),
        )
        .await?;
        Ok(shown(&doc))
    }
}

/// Record an annex of a draft, with its event (and its idempotent answer, if any), in one
/// transaction that finds the application still a draft (for an evidence file, the project's
/// report still taking evidence).
async fn add_to_draft(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    (id, target): (Uuid, Target),
    d: NewDocument,
    answer: impl FnOnce(&Document) -> Result<Option<Answer>, ApiError>,
) -> Result<Document, ApiError> {
    let tx = db_store::begin_write(db).await?;
    match target {
        Target::Draft => {
            draft_in(&tx, id).await?;
        }
        Target::Evidence { grant_id } => {
            super::reports::lock_for_evidence(&tx, grant_id, now).await?;
        }
    }
    let doc = store::insert_document(&tx, id, d, actor.user_id, now).await?;
    store::touch(&tx, id, now).await?;
    record(
        &tx,
        actor,
        now,
        ApplicationEvent::DocumentAdded,
        id,
        None,
        Some(document_facts(&doc)),
    )
    .await?;
    if let Some(a) = answer(&doc)? {
        idempotency::record(&tx, &a).await?;
    }
    tx.commit().await?;
    Ok(doc)
}

fn document_facts(doc: &Document) -> serde_json::Value {
    json!({"document_id": doc.id, "kind": doc.kind, "file_name": doc.file_name, "sha256": doc.sha256,
        "size_bytes": doc.size_bytes, "media_type": doc.media_type, "organization_id": doc.organization_id})
}

/// Register an annex as "a file kept elsewhere" (its metadata and SHA-256, no bytes): only
/// when the service runs with `storage.external_files`. The request is read (`parse`) once
/// the caller is known to lead the application.
pub async fn register_external(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<NewDocument, ApiError>,
) -> Result<Document, ApiError> {
    let s = managed(db, caller, id).await?;
    let d = parse()?;
    let partnership = partnerships::get(db, s.app.partnership_id)
        .await?
        .ok_or_else(application_not_found)?;
    let mut v = Violations::new();
    v.extend(check_annex(
        "",
        &s.call.rules,
        &d.kind,
        &d.file_name,
        d.size_bytes,
        &d.sha256,
    ));
    if d.organization_id
        .is_some_and(|o| !partnership.member_ids().contains(&o))
    {
        v.add("organization_id", not_a_member());
    }
    ApiError::check(v.into_vec())?;
    let d = NewDocument {
        file_name: d.file_name.trim().to_owned(),
        media_type: None,
        signature_report: None,
        ..d
    };
    add_to_draft(
        db,
        &caller.actor(),
        now,
        (s.app.id, Target::Draft),
        d,
        |_| Ok(None),
    )
    .await
}

/// The annexes of an application the caller may see.
pub async fn documents(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
) -> Result<Vec<Document>, ApiError> {
    let s = seen(db, caller, id).await?;
    let mut docs = store::documents(db, s.app.id).await?;
    mask_signers(db, caller, &s, &mut docs).await?;
    Ok(docs)
}

/// Masks the signers' personal tax codes the caller may not see in full (`signers::mask`).
async fn mask_signers(
    db: &DatabaseConnection,
    caller: &AuthUser,
    s: &Seen,
    docs: &mut [Document],
) -> Result<(), ApiError> {
    super::signers::mask(db, caller, s.access, docs).await
}

/// One annex of an application the caller may see.
pub async fn document(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
    document_id: Uuid,
) -> Result<Document, ApiError> {
    let s = seen(db, caller, id).await?;
    let doc = store::document(db, s.app.id, document_id)
        .await?
        .ok_or_else(|| ApiError::from(ErrorCode::DocumentNotFound))?;
    let mut docs = [doc];
    mask_signers(db, caller, &s, &mut docs).await?;
    let [doc] = docs;
    Ok(doc)
}

/// The bytes of an annex, or `range` of them.
pub struct Download {
    pub document: Document,
    /// The bytes sent: `None` for the whole file.
    pub range: Option<Range<u64>>,
    pub content: Content,
}

/// Read the file of an annex the caller may see, whole or a range of its bytes (`range` is
/// asked with the file's size: it answers the bytes to send, or a 416).
pub async fn download(
    storage: &dyn Storage,
    document: Document,
    range: impl FnOnce(u64) -> Result<Option<Range<u64>>, ApiError>,
) -> Result<Download, ApiError> {
    if document.media_type.is_none() {
        return Err(ApiError::from(ErrorCode::DocumentContentNotKept));
    }
    let size = u64::try_from(document.size_bytes).unwrap_or(0);
    let range = range(size)?;
    let content = storage
        .open(&document.sha256, range.clone())
        .await
        .map_err(storage_unavailable)?
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "the file of annex {} ({}) is missing from storage",
                document.id,
                document.sha256
            ))
        })?;
    Ok(Download {
        document,
        range,
        content,
    })
}

/// Delete an annex of a draft. Its file stays while another annex refers to it; the sweeper
/// removes it once none does.
pub async fn delete_document(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    document_id: Uuid,
) -> Result<(), ApiError> {
    let s = managed(db, caller, id).await?;
    let id = s.app.id;
    let tx = db_store::begin_write(db).await?;
    draft_in(&tx, id).await?;
    if !store::delete_document(&tx, id, document_id).await? {
        return Err(ApiError::from(ErrorCode::DocumentNotFound));
    }
    store::touch(&tx, id, now).await?;
    record(
        &tx,
        &caller.actor(),
        now,
        ApplicationEvent::DocumentDeleted,
        id,
        Some(json!({"document_id": document_id})),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_beyond_the_limit_is_no_longer_kept_and_other_files_never_are() {
        // A DER SignedData's first bytes: a SEQUENCE, then the content type's OID.
        let mut head = vec![0x30, 0x82, 0x10, 0x00];
        head.extend_from_slice(&[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
        ]);
        head.resize(SNIFF_LEN, 0);
        assert_eq!(sniff(&head), Some(MediaType::Cades));
        let mut other = EnvelopeBytes::default();
        other.push(&[b'%'; 4096]);
        assert_eq!(other.finish(), None);
        let limit = (head.len() + 10) as u64;
        let mut envelope = EnvelopeBytes {
            limit,
            ..EnvelopeBytes::default()
        };
        envelope.push(&head);
        envelope.push(&[0; 10]);
        assert!(!envelope.oversized);
        envelope.push(&[0; 1]);
        assert!(envelope.oversized);
        assert!(envelope.bytes.is_empty());
    }
}
