//! The annexes' files: uploaded as a form and streamed into storage, checked from their bytes,
//! read back exactly (whole, by range, or not at all when the client has them), kept once, and
//! removed by the sweeper only when no annex refers to them.

use std::time::Duration;

use futures_util::stream;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use welfare_grants::storage::{Storage, upload as keep_bytes};

use crate::applications::{complete_application, members, partnership, submit};
use crate::helpers::*;
use crate::{both, both_storages};

const DEMO: &str = "RLD-DEMO-CONCILIAZIONE";

async fn keep(storage: &dyn Storage, bytes: &[u8]) -> String {
    let chunks = stream::iter(vec![Ok::<_, ()>(bytes.to_vec())]);
    keep_bytes(storage, chunks, 1 << 20, |_| Ok(()))
        .await
        .unwrap()
        .sha256
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The keys of the files kept, and whether an upload left a temporary file behind (every
/// backend stages its uploads in the folder's `tmp/`).
async fn kept(app: &TestApp) -> (Vec<String>, usize) {
    let storage = app.storage();
    let mut keys: Vec<String> = storage
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.key)
        .collect();
    keys.sort();
    let tmp = std::path::Path::new(&app.settings.storage.path).join("tmp");
    let temporaries = std::fs::read_dir(tmp).map(|d| d.count()).unwrap_or(0);
    (keys, temporaries)
}

/// A draft of the demo edition with its members, not yet carrying any annex.
pub(crate) async fn bare_draft(
    app: &TestApp,
    token: &str,
    base: u32,
) -> (String, crate::applications::Members) {
    let demo = app.call_id(DEMO).await;
    let m = members(app, token, base).await;
    let pid = partnership(app, token, &demo, &m).await;
    let res = app
        .post(
            "/api/v1/applications",
            Some(token),
            &json!({"partnership_id": pid}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    (body["id"].as_str().unwrap().to_owned(), m)
}

both_storages!(async fn an_applicant_uploads_the_agreement_and_an_evaluator_downloads_exactly_those_bytes(app) {
    let token = app.login(APPLICANT).await;
    let demo = app.call_id(DEMO).await;
    let m = members(&app, &token, 1).await;
    let id = complete_application(&app, &token, &demo, &m).await;
    let docs: Value = app.get(&format!("/api/v1/applications/{id}/documents"), Some(&token)).await.json().await.unwrap();
    assert_eq!(docs.as_array().unwrap().len(), 1, "{docs}");
    // The agreement is replaced by the one the lead signs today.
    let bytes = pdf("Accordo di partenariato, firmato il 4 dicembre");
    let old = docs[0]["id"].as_str().unwrap();
    let res = app.request(reqwest::Method::DELETE, &format!("/api/v1/applications/{id}/documents/{old}"), Some(&token), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = upload_raw(&app, &token, &id, &json!({"kind": "partnership_agreement"}), "Accordo di partenariato – firmato.pdf", bytes.clone()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let tag = res.headers()["etag"].to_str().unwrap().to_owned();
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["sha256"], sha256(&bytes));
    assert_eq!(tag, format!("\"{}\"", sha256(&bytes)));
    assert_eq!(doc["size_bytes"], bytes.len());
    assert_eq!(doc["media_type"], "application/pdf");
    assert_eq!(doc["kind"], "partnership_agreement");
    assert_eq!(doc["file_name"], "Accordo di partenariato – firmato.pdf");
    assert_eq!(location, format!("/api/v1/applications/{id}/documents/{}", doc["id"].as_str().unwrap()));
    // The metadata at its Location.
    let res = app.get(&location, Some(&token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), tag);
    assert_eq!(res.json::<Value>().await.unwrap(), doc);

    assert_eq!(submit(&app, &token, &id, None).await.status(), StatusCode::OK);
    let receipt: Value = app.get(&format!("/api/v1/applications/{id}/receipt"), Some(&token)).await.json().await.unwrap();
    assert!(receipt.to_string().contains(&sha256(&bytes)), "the receipt names the annex by its SHA-256: {receipt}");

    // The agency's evaluator, once declared free of conflicts, downloads exactly those bytes.
    let evaluator = app.login(EVALUATOR_MONTAGNA).await;
    let content = format!("{location}/content");
    let p = problem(app.get(&content, Some(&evaluator)).await, StatusCode::FORBIDDEN).await;
    assert_eq!(p["code"], "conflict_declaration_required");
    let res = app.post(&format!("/api/v1/applications/{id}/conflict-of-interest"), Some(&evaluator), &json!({"has_conflict": false})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.get(&content, Some(&evaluator)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.headers()["etag"].to_str().unwrap(), tag);
    assert_eq!(res.headers()["accept-ranges"], "bytes");
    assert_eq!(res.headers()["content-length"].to_str().unwrap(), bytes.len().to_string());
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(disposition.contains("filename=\"Accordo di partenariato _ firmato.pdf\""), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''Accordo%20di%20partenariato%20%E2%80%93%20firmato.pdf"), "{disposition}");
    let body = res.bytes().await.unwrap();
    assert_eq!(body.as_ref(), bytes.as_slice());
    assert_eq!(sha256(&body), receipt_sha(&receipt));
    // Another agency's evaluator and another applicant: not there.
    let brescia = app.login(EVALUATOR_BRESCIA).await;
    assert_eq!(problem(app.get(&content, Some(&brescia)).await, StatusCode::NOT_FOUND).await["code"], "application_not_found");
    // An administrator reads it too.
    let admin = app.login(ADMIN).await;
    assert_eq!(app.get(&content, Some(&admin)).await.status(), StatusCode::OK);
    // Never public.
    assert_eq!(app.get(&content, None).await.status(), StatusCode::UNAUTHORIZED);
});

/// The SHA-256 of the receipt's partnership agreement.
fn receipt_sha(receipt: &Value) -> String {
    fn find(v: &Value) -> Option<String> {
        match v {
            Value::Object(o) => {
                if o.get("kind").and_then(Value::as_str) == Some("partnership_agreement")
                    && let Some(s) = o.get("sha256").and_then(Value::as_str)
                {
                    return Some(s.to_owned());
                }
                o.values().find_map(find)
            }
            Value::Array(a) => a.iter().find_map(find),
            Value::String(s) => serde_json::from_str::<Value>(s)
                .ok()
                .as_ref()
                .and_then(find),
            _ => None,
        }
    }
    find(receipt).unwrap_or_else(|| panic!("no agreement in the receipt: {receipt}"))
}

both_storages!(async fn a_download_answers_304_to_a_current_copy_and_206_to_a_range(app) {
    let token = app.login(APPLICANT).await;
    let (id, _) = bare_draft(&app, &token, 1).await;
    let bytes = pdf("ranges");
    let doc = upload(&app, &token, &id, "other", None, "allegato.pdf", bytes.clone()).await;
    let content = app.url(&format!("/api/v1/applications/{id}/documents/{}/content", doc["id"].as_str().unwrap()));
    let tag = format!("\"{}\"", doc["sha256"].as_str().unwrap());
    let get = |headers: Vec<(&'static str, String)>| {
        let mut req = app.client.get(&content).bearer_auth(&token);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let res = get(vec![("if-none-match", tag.clone())]).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), tag);
    assert!(res.bytes().await.unwrap().is_empty());
    let res = get(vec![("if-none-match", "\"another\"".into())]).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let res = get(vec![("range", "bytes=0-7".into())]).await.unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-range"].to_str().unwrap(), format!("bytes 0-7/{}", bytes.len()));
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[..8]);
    let res = get(vec![("range", "bytes=-6".into())]).await.unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[bytes.len() - 6..]);
    let res = get(vec![("range", "bytes=10-".into())]).await.unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[10..]);
    // A range of an older version: the whole current file.
    let res = get(vec![("range", "bytes=0-7".into()), ("if-range", "\"older\"".into())]).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().len(), bytes.len());
    // Outside the file.
    let res = get(vec![("range", format!("bytes={}-", bytes.len() + 10))]).await.unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(res.headers()["content-range"].to_str().unwrap(), format!("bytes */{}", bytes.len()));
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["code"], "range_not_satisfiable");
});

both_storages!(async fn a_file_larger_than_an_upload_part_is_kept_and_read_back_exactly(app) {
    let token = app.login(APPLICANT).await;
    let (id, _) = bare_draft(&app, &token, 1).await;
    // Two parts and a bit in S3 (parts of 5 MiB), with no run of equal bytes across them.
    let part = welfare_grants::storage::s3::MULTIPART_FROM;
    let mut bytes = pdf("large");
    bytes.extend((0..2 * part + 1000).map(|i| (i % 251) as u8));
    let doc = upload(&app, &token, &id, "other", None, "grande.pdf", bytes.clone()).await;
    assert_eq!(doc["sha256"], sha256(&bytes));
    assert_eq!(kept(&app).await, (vec![sha256(&bytes)], 0));
    let content = format!("/api/v1/applications/{id}/documents/{}/content", doc["id"].as_str().unwrap());
    let res = app.get(&content, Some(&token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(sha256(&res.bytes().await.unwrap()), sha256(&bytes));
    // A range across the first two parts.
    let (from, to) = (part - 10, part + 9);
    let res = app.client.get(app.url(&content)).bearer_auth(&token)
        .header("range", format!("bytes={from}-{to}")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[from..=to]);
});

both_storages!(async fn bad_uploads_are_refused_each_with_its_problem_and_nothing_is_kept(app) {
    let token = app.login(APPLICANT).await;
    let (id, m) = bare_draft(&app, &token, 1).await;
    let agreement = json!({"kind": "partnership_agreement"});
    let check = |res: reqwest::Response, status: StatusCode| async move { problem(res, status).await };

    // Not a type the service keeps, whatever the name says.
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04".to_vec();
    let p = check(upload_raw(&app, &token, &id, &agreement, "accordo.pdf", gif.clone()).await, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(p["code"], "unsupported_file_type");
    let p = check(upload_raw(&app, &token, &id, &agreement, "accordo.gif", gif).await, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(p["code"], "unsupported_file_type");
    // A name that lies about the type.
    let p = check(upload_raw(&app, &token, &id, &agreement, "accordo.png", pdf("a PDF")).await, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(p["code"], "file_name_contradicts_type");
    assert!(p["detail"].as_str().unwrap().contains("accordo.png"), "{p}");
    // Empty.
    let p = check(upload_raw(&app, &token, &id, &agreement, "accordo.pdf", vec![]).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "file", "empty_file"), "{p}");
    // A kind the call does not know and an organization outside the partnership: both said.
    let outsider = uuid::Uuid::new_v4();
    let p = check(upload_raw(&app, &token, &id, &json!({"kind": "business_plan", "organization_id": outsider}), "bp.pdf", pdf("bp")).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "metadata.kind", "unknown_kind"), "{p}");
    assert!(has_violation(&p, "metadata.organization_id", "not_a_member"), "{p}");
    // Metadata that is not JSON, or not the metadata's fields.
    let res = app.client.post(app.url(&format!("/api/v1/applications/{id}/documents"))).bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().text("metadata", "kind=partnership_agreement")
            .part("file", reqwest::multipart::Part::bytes(pdf("x")).file_name("a.pdf"))).send().await.unwrap();
    let p = check(res, StatusCode::BAD_REQUEST).await;
    assert_eq!(p["code"], "malformed_json");
    let p = check(upload_raw(&app, &token, &id, &json!({"kind": "other", "colour": "red"}), "a.pdf", pdf("x")).await, StatusCode::BAD_REQUEST).await;
    assert!(has_violation(&p, "metadata.colour", "unknown_field"), "{p}");
    // Missing parts, each said; a part the operation does not read.
    let res = app.client.post(app.url(&format!("/api/v1/applications/{id}/documents"))).bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().text("metadata", agreement.to_string())).send().await.unwrap();
    let p = check(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "file", "missing_part"), "{p}");
    let res = app.client.post(app.url(&format!("/api/v1/applications/{id}/documents"))).bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(pdf("x")).file_name("a.pdf"))).send().await.unwrap();
    let p = check(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "metadata", "missing_part"), "{p}");
    // A form without any part is no form (RFC 2046 wants one part at least).
    let res = app.client.post(app.url(&format!("/api/v1/applications/{id}/documents"))).bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new()).send().await.unwrap();
    assert_eq!(check(res, StatusCode::BAD_REQUEST).await["code"], "malformed_multipart");
    let res = app.client.post(app.url(&format!("/api/v1/applications/{id}/documents"))).bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().text("metadata", agreement.to_string()).text("note", "hello")
            .part("file", reqwest::multipart::Part::bytes(pdf("x")).file_name("a.pdf"))).send().await.unwrap();
    let p = check(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "note", "unexpected_part"), "{p}");
    // A file without a name.
    let res = app.client.post(app.url(&format!("/api/v1/applications/{id}/documents"))).bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().text("metadata", agreement.to_string())
            .part("file", reqwest::multipart::Part::bytes(pdf("x")))).send().await.unwrap();
    let p = check(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "file.filename", "invalid_file_name"), "{p}");
    // Larger than the kind allows (20 MiB by default).
    let big = { let mut b = pdf("big"); b.resize(20 * 1024 * 1024 + 1, b' '); b };
    let p = check(upload_raw(&app, &token, &id, &agreement, "big.pdf", big).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(p["code"], "file_too_large");
    // The JSON registration of a file kept elsewhere is off.
    let res = app.post(&format!("/api/v1/applications/{id}/documents"), Some(&token),
        &json!({"kind": "other", "file_name": "x.pdf", "size_bytes": 10, "sha256": sha256(b"x")})).await;
    assert_eq!(check(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await["code"], "external_files_disabled");

    // Nothing of all that is kept, not even a temporary file, and no annex was recorded.
    assert_eq!(kept(&app).await, (vec![], 0));
    let docs: Value = app.get(&format!("/api/v1/applications/{id}/documents"), Some(&token)).await.json().await.unwrap();
    assert_eq!(docs, json!([]));

    // The same upload, right, is kept: a letter of adhesion about a member.
    let member = &m.others[0];
    let doc = upload(&app, &token, &id, "letter_of_adhesion", Some(member), "lettera.pdf", pdf("lettera")).await;
    assert_eq!(doc["organization_id"], json!(member));
    assert_eq!(kept(&app).await.0, vec![doc["sha256"].as_str().unwrap().to_owned()]);
});

both_storages!(async fn the_same_content_is_kept_once_and_stays_while_an_annex_refers_to_it(app) {
    let token = app.login(APPLICANT).await;
    let (id, _) = bare_draft(&app, &token, 1).await;
    let bytes = pdf("the same");
    let (a, b) = tokio::join!(
        upload(&app, &token, &id, "other", None, "uno.pdf", bytes.clone()),
        upload(&app, &token, &id, "other", None, "due.pdf", bytes.clone()),
    );
    assert_ne!(a["id"], b["id"]);
    assert_eq!(a["sha256"], b["sha256"]);
    assert_eq!(kept(&app).await, (vec![sha256(&bytes)], 0));
    let db = welfare_grants::store::connect(&app.settings.database).await.unwrap();
    let storage = app.storage();
    // One annex goes; the other still refers to the file, which stays, however old.
    let res = app.request(reqwest::Method::DELETE, &format!("/api/v1/applications/{id}/documents/{}", a["id"].as_str().unwrap()), Some(&token), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    welfare_grants::service::files::sweep(&db, &*storage, Duration::ZERO).await.unwrap();
    assert_eq!(kept(&app).await.0, vec![sha256(&bytes)]);
    // The last one goes: the sweeper removes it once it is old enough.
    let res = app.request(reqwest::Method::DELETE, &format!("/api/v1/applications/{id}/documents/{}", b["id"].as_str().unwrap()), Some(&token), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let swept = welfare_grants::service::files::sweep(&db, &*storage, Duration::from_secs(3600)).await.unwrap();
    assert_eq!(swept.files, 0);
    let swept = welfare_grants::service::files::sweep(&db, &*storage, Duration::ZERO).await.unwrap();
    assert_eq!(swept.files, 1);
    assert_eq!(kept(&app).await, (vec![], 0));
});

both_storages!(async fn an_upload_repeated_with_its_idempotency_key_answers_the_first_result(app) {
    let token = app.login(APPLICANT).await;
    let (id, _) = bare_draft(&app, &token, 1).await;
    let send = |bytes: Vec<u8>, key: &'static str| {
        let form = reqwest::multipart::Form::new()
            .text("metadata", json!({"kind": "other"}).to_string())
            .part("file", reqwest::multipart::Part::bytes(bytes).file_name("allegato.pdf"));
        app.client.post(app.url(&format!("/api/v1/applications/{id}/documents"))).bearer_auth(&token)
            .header("idempotency-key", key).multipart(form).send()
    };
    let first = send(pdf("once"), "upload-1").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let location = first.headers()["location"].clone();
    let tag = first.headers()["etag"].clone();
    let first: Value = first.json().await.unwrap();
    let again = send(pdf("once"), "upload-1").await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.headers()["etag"], tag);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    // The same key with another file.
    let p = problem(send(pdf("another"), "upload-1").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "Idempotency-Key", "idempotency_key_reused"), "{p}");
    let docs: Value = app.get(&format!("/api/v1/applications/{id}/documents"), Some(&token)).await.json().await.unwrap();
    assert_eq!(docs.as_array().unwrap().len(), 1, "{docs}");
    // A refused upload under a key does not take it: the right one runs after it.
    let p = problem(send(vec![], "upload-2").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "file", "empty_file"), "{p}");
    assert_eq!(send(pdf("second"), "upload-2").await.unwrap().status(), StatusCode::CREATED);
});

both_storages!(async fn a_client_that_disconnects_mid_upload_leaves_nothing_behind(app) {
    use tokio::io::AsyncWriteExt;
    let token = app.login(APPLICANT).await;
    let (id, _) = bare_draft(&app, &token, 1).await;
    let boundary = "XyZ0123456789";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{{\"kind\": \"other\"}}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    );
    let mut body = head.into_bytes();
    body.extend_from_slice(&pdf("cut"));
    body.resize(body.len() + 256 * 1024, b' ');
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let request = format!(
        "POST /api/v1/applications/{id}/documents HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len() + 5 * 1024 * 1024
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    stream.flush().await.unwrap();
    // The file is being written; the client goes away.
    let mut waited = 0;
    while kept(&app).await.1 == 0 && waited < 50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(kept(&app).await.1, 1, "the upload streams into a temporary file");
    drop(stream);
    let mut waited = 0;
    while kept(&app).await != (vec![], 0) && waited < 100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(kept(&app).await, (vec![], 0));
    let docs: Value = app.get(&format!("/api/v1/applications/{id}/documents"), Some(&token)).await.json().await.unwrap();
    assert_eq!(docs, json!([]));
});

/// The storage folder cannot be made: a regular file stands where it should be.
fn unusable_storage(s: &mut welfare_grants::config::Settings) {
    let blocker = std::env::temp_dir().join(format!("wg-blocked-{}", uuid::Uuid::new_v4()));
    std::fs::write(&blocker, b"not a folder").unwrap();
    s.storage.path = blocker.join("files").to_string_lossy().into_owned();
}

both!(with unusable_storage, async fn storage_that_fails_answers_503_and_records_nothing(app) {
    let token = app.login(APPLICANT).await;
    let (id, _) = bare_draft(&app, &token, 1).await;
    let res = upload_raw(&app, &token, &id, &json!({"kind": "other"}), "a.pdf", pdf("x")).await;
    assert!(res.headers().contains_key("retry-after"));
    let p = problem(res, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(p["code"], "storage_unavailable");
    let docs: Value = app.get(&format!("/api/v1/applications/{id}/documents"), Some(&token)).await.json().await.unwrap();
    assert_eq!(docs, json!([]));
});

fn external_files(s: &mut welfare_grants::config::Settings) {
    s.storage.external_files = true;
}

both!(with external_files, async fn with_external_files_on_an_annex_may_be_registered_without_its_bytes(app) {
    let token = app.login(APPLICANT).await;
    let (id, _) = bare_draft(&app, &token, 1).await;
    let res = app.post(&format!("/api/v1/applications/{id}/documents"), Some(&token),
        &json!({"kind": "partnership_agreement", "file_name": "accordo.pdf", "size_bytes": 1000, "sha256": sha256(b"elsewhere")})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["media_type"], Value::Null);
    let res = app.get(&format!("/api/v1/applications/{id}/documents/{}/content", doc["id"].as_str().unwrap()), Some(&token)).await;
    assert_eq!(problem(res, StatusCode::NOT_FOUND).await["code"], "document_content_not_kept");
    // Uploads work as ever.
    upload(&app, &token, &id, "other", None, "a.pdf", pdf("x")).await;
});

both_storages!(async fn the_sweeper_removes_only_old_files_that_no_annex_refers_to(app) {
    let token = app.login(APPLICANT).await;
    let demo = app.call_id(DEMO).await;
    let m = members(&app, &token, 1).await;
    let id = complete_application(&app, &token, &demo, &m).await;
    let docs: Value = app.get(&format!("/api/v1/applications/{id}/documents"), Some(&token)).await.json().await.unwrap();
    let agreement = docs[0]["sha256"].as_str().unwrap().to_owned();
    let storage = app.storage();
    let orphan = keep(&*storage, b"%PDF-1.7 nobody refers to this").await;
    let db = welfare_grants::store::connect(&app.settings.database).await.unwrap();

    // Young files stay, whatever refers to them: an upload writes its file first.
    let swept = welfare_grants::service::files::sweep(&db, &*storage, Duration::from_secs(3600)).await.unwrap();
    assert_eq!(swept.files, 0);
    assert_eq!(storage.list().await.unwrap().len(), 2);

    // Old enough: the orphan goes, the annex's file stays.
    let swept = welfare_grants::service::files::sweep(&db, &*storage, Duration::ZERO).await.unwrap();
    assert_eq!(swept.files, 1);
    let kept: Vec<String> = storage.list().await.unwrap().into_iter().map(|k| k.key).collect();
    assert_eq!(kept, vec![agreement]);
    assert!(storage.open(&orphan, None).await.unwrap().is_none());
});

fn portal_origin(s: &mut welfare_grants::config::Settings) {
    s.cors.allowed_origins = vec!["https://portale.example".into()];
}

both!(with portal_origin, async fn a_portal_in_the_browser_reads_a_downloads_name_and_range(app) {
    let token = app.login(APPLICANT).await;
    let (id, _) = bare_draft(&app, &token, 1).await;
    let doc = upload(&app, &token, &id, "other", None, "allegato.pdf", pdf("cors")).await;
    let content = app.url(&format!("/api/v1/applications/{id}/documents/{}/content", doc["id"].as_str().unwrap()));
    // The preflight of a range request.
    let res = app.client.request(reqwest::Method::OPTIONS, &content)
        .header("origin", "https://portale.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization, range, if-range, if-none-match")
        .send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let res = app.client.get(&content).bearer_auth(&token)
        .header("origin", "https://portale.example").header("range", "bytes=0-3")
        .send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let exposed = res.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    for name in ["content-disposition", "content-range", "etag", "accept-ranges"] {
        assert!(exposed.contains(name), "{name} is not exposed: {exposed}");
    }
});

fn short_deadline(s: &mut welfare_grants::config::Settings) {
    s.server.request_timeout_secs = 1;
    s.server.upload_timeout_secs = 30;
}

both!(with short_deadline, async fn an_upload_has_its_own_deadline_longer_than_a_requests(app) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let token = app.login(APPLICANT).await;
    let (id, _) = bare_draft(&app, &token, 1).await;
    let boundary = "SlowLine42";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{{\"kind\": \"other\"}}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lento.pdf\"\r\n\r\n"
    );
    let file = pdf("over a slow line");
    let tail = format!("\r\n--{boundary}--\r\n");
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let request = format!(
        "POST /api/v1/applications/{id}/documents HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        head.len() + file.len() + tail.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = file.split_at(file.len() / 2);
    stream.write_all(first).await.unwrap();
    // Longer than a request's deadline (1 s), well within an upload's (30 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stream.write_all(rest).await.unwrap();
    stream.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    // A JSON request still has the short deadline: the same wait fails it.
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let body = json!({"partnership_id": uuid::Uuid::new_v4()}).to_string();
    let request = format!(
        "POST /api/v1/applications HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..5]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stream.write_all(&body.as_bytes()[5..]).await.ok();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
});
