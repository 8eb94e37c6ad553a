//! Signed annexes: a `.p7m` uploaded is opened and its signers reported in the annex's
//! metadata; a call may require the partnership agreement to carry a valid signature of the
//! lead's legal representative, and a letter of adhesion its partner's. The envelopes are made
//! here with the openssl CLI, with keys and certificates made here.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::applications::{
    APPLICANT2, Members, accept_invitation, draft_of, etag, members, partnership, submit,
};
use crate::both;
use crate::cades::{Identity, Key, Openssl};
use crate::helpers::*;
use crate::registry::*;

const DEMO: &str = "RLD-DEMO-CONCILIAZIONE";
const REP_NAME: &str = "Laura Bianchi";
const REP_TAX_CODE: &str = "BNCLRA70A41I829F";
const OTHER_TAX_CODE: &str = "VRDGPP75C15I829T";

fn openssl() -> Openssl {
    Openssl::new().expect("the openssl CLI makes the test envelopes")
}

/// The lead's legal representative, with a key of `key`.
fn representative(ssl: &Openssl, key: Key) -> Identity {
    ssl.person("laura", key, REP_NAME, REP_TAX_CODE)
}

/// Someone else, with a certificate that says so.
fn someone_else(ssl: &Openssl) -> Identity {
    ssl.person("giuseppe", Key::Rsa, "Giuseppe Verdi", OTHER_TAX_CODE)
}

/// A PDF signed as a CAdES envelope that carries it.
fn signed(ssl: &Openssl, text: &str, signers: &[&Identity]) -> Vec<u8> {
    ssl.sign(&pdf(text), signers, &["-cades", "-nodetach"])
}

/// A call open now, with the demo edition's rules and window, whose required annexes must be
/// signed by the legal representative of the organization they belong to.
async fn signing_call(app: &TestApp) -> String {
    let admin = app.login(ADMIN).await;
    let demo_id = app.call_id(DEMO).await;
    let demo: Value = app
        .get(&format!("/api/v1/calls/{demo_id}"), None)
        .await
        .json()
        .await
        .unwrap();
    let mut rules = demo["rules"].clone();
    for annex in rules["required_annexes"].as_array_mut().unwrap() {
        annex["signed_by_legal_representative"] = json!(true);
    }
    let body = json!({
        "code": "RLD-FIRMA", "title": "Avviso con allegati firmati", "total_budget": "1000000.00",
        "opens_at": demo["opens_at"], "closes_at": demo["closes_at"], "rules": rules,
    });
    let res = app.post("/api/v1/calls", Some(&admin), &body).await;
    let status = res.status();
    let call: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{call}");
    let id = call["id"].as_str().unwrap().to_owned();
    let res = app
        .post(
            &format!("/api/v1/calls/{id}/publish"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    id
}

/// Name the legal representative of an organization, as its representative.
async fn name_representative(
    app: &TestApp,
    token: &str,
    organization: &str,
    tax_code: &str,
) -> Value {
    let path = format!("/api/v1/organizations/{organization}");
    let tag = etag(app, &path, token).await;
    let patch = json!({"legal_representative": {"full_name": REP_NAME, "tax_code": tax_code}});
    app.patch(&path, Some(token), Some(&tag), &patch)
        .await
        .json()
        .await
        .unwrap()
}

/// A draft of the signing call, its content complete, without annexes; the lead's legal
/// representative named when `with_representative`.
async fn draft(app: &TestApp, token: &str, with_representative: bool) -> (String, Members) {
    let call = signing_call(app).await;
    let m = members(app, token, 1).await;
    if with_representative {
        name_representative(app, token, &m.lead, REP_TAX_CODE).await;
    }
    let pid = partnership(app, token, &call, &m).await;
    (draft_of(app, token, &pid, &m).await, m)
}

async fn upload_agreement(
    app: &TestApp,
    token: &str,
    id: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> Value {
    upload(
        app,
        token,
        id,
        "partnership_agreement",
        None,
        file_name,
        bytes,
    )
    .await
}

async fn blocking_codes(app: &TestApp, token: &str, id: &str) -> Vec<(String, String)> {
    let view: Value = app
        .get(&format!("/api/v1/applications/{id}"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    violations(&json!({"violations": view["blocking"]}))
}

/// The submission is refused for the agreement's signature alone.
async fn refused_for_the_signature(app: &TestApp, token: &str, id: &str, code: &str) {
    let unmet = ("documents".to_owned(), code.to_owned());
    assert_eq!(blocking_codes(app, token, id).await, vec![unmet.clone()]);
    let p = problem(
        submit(app, token, id, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(violations(&p), vec![unmet], "{p}");
}

async fn delete_document(app: &TestApp, token: &str, id: &str, doc: &Value) {
    let path = format!(
        "/api/v1/applications/{id}/documents/{}",
        doc["id"].as_str().unwrap()
    );
    let res = app
        .request(reqwest::Method::DELETE, &path, Some(token), None)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

/// The one signer of a report: name, tax code, status.
fn only_signer(doc: &Value) -> (&str, &str, &str) {
    let signers = doc["signature_report"]["signers"].as_array().unwrap();
    assert_eq!(signers.len(), 1, "{doc}");
    let s = &signers[0];
    assert_eq!(s["trust"], "not_checked");
    (
        s["name"].as_str().unwrap(),
        s["tax_code"].as_str().unwrap(),
        s["signature"].as_str().unwrap(),
    )
}

both!(async fn a_call_requiring_signatures_refuses_an_agreement_unsigned_tampered_or_signed_by_someone_else(app) {
    let token = app.login(APPLICANT).await;
    let ssl = openssl();
    let (id, m) = draft(&app, &token, false).await;

    // An unsigned PDF: kept, with no report, and not enough.
    let plain = upload_agreement(&app, &token, &id, "accordo.pdf", pdf("Accordo non firmato")).await;
    assert!(plain["signature_report"].is_null(), "{plain}");
    // Without a legal representative named, nobody's signature can meet the rule.
    refused_for_the_signature(&app, &token, &id, "legal_representative_missing").await;
    name_representative(&app, &token, &m.lead, REP_TAX_CODE).await;
    refused_for_the_signature(&app, &token, &id, "annex_not_signed").await;
    delete_document(&app, &token, &id, &plain).await;

    // Signed by the representative, then altered: the signature no longer verifies.
    let mut tampered = signed(&ssl, "Accordo: contributo 24500 euro", &[&representative(&ssl, Key::Rsa)]);
    let at = tampered.windows(5).position(|w| w == b"24500").unwrap();
    tampered[at..at + 5].copy_from_slice(b"94500");
    let doc = upload_agreement(&app, &token, &id, "accordo.pdf.p7m", tampered).await;
    assert_eq!(doc["media_type"], "application/pkcs7-mime");
    assert_eq!(only_signer(&doc), (REP_NAME, REP_TAX_CODE, "invalid"));
    assert_eq!(doc["signature_report"]["signers"][0]["invalid_reason"], "content_altered");
    refused_for_the_signature(&app, &token, &id, "annex_not_signed").await;
    delete_document(&app, &token, &id, &doc).await;

    // Validly signed, by someone else.
    let doc = upload_agreement(&app, &token, &id, "accordo.pdf.p7m", signed(&ssl, "Accordo", &[&someone_else(&ssl)])).await;
    assert_eq!(only_signer(&doc), ("Giuseppe Verdi", OTHER_TAX_CODE, "valid"));
    refused_for_the_signature(&app, &token, &id, "annex_not_signed").await;
});

/// The agreement signed by the lead's legal representative with a key of `key` is accepted,
/// and its metadata shows the signer.
async fn signed_by_the_representative_is_accepted(app: &TestApp, key: Key) {
    let token = app.login(APPLICANT).await;
    let ssl = openssl();
    let (id, _) = draft(app, &token, true).await;
    let doc = upload_agreement(
        app,
        &token,
        &id,
        "accordo.pdf.p7m",
        signed(&ssl, "Accordo firmato", &[&representative(&ssl, key)]),
    )
    .await;
    assert_eq!(only_signer(&doc), (REP_NAME, REP_TAX_CODE, "valid"));
    let signer = &doc["signature_report"]["signers"][0];
    assert!(signer["invalid_reason"].is_null());
    assert!(signer["signing_time"].is_string(), "{signer}");
    // The metadata read back says the same.
    let path = format!(
        "/api/v1/applications/{id}/documents/{}",
        doc["id"].as_str().unwrap()
    );
    let read: Value = app.get(&path, Some(&token)).await.json().await.unwrap();
    assert_eq!(read, doc);
    assert_eq!(blocking_codes(app, &token, &id).await, vec![]);
    let res = submit(app, &token, &id, None).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
}

both!(async fn the_agreement_signed_with_rsa_by_the_lead_legal_representative_is_accepted(app) {
    signed_by_the_representative_is_accepted(&app, Key::Rsa).await;
});

both!(async fn the_agreement_signed_with_ecdsa_by_the_lead_legal_representative_is_accepted(app) {
    signed_by_the_representative_is_accepted(&app, Key::P256).await;
});

both!(async fn two_signers_of_whom_one_is_the_legal_representative_meet_the_rule(app) {
    let token = app.login(APPLICANT).await;
    let ssl = openssl();
    let (id, _) = draft(&app, &token, true).await;
    let both_signed = signed(&ssl, "Accordo", &[&someone_else(&ssl), &representative(&ssl, Key::P256)]);
    let doc = upload_agreement(&app, &token, &id, "accordo.pdf.p7m", both_signed).await;
    let mut signers: Vec<(String, String)> = doc["signature_report"]["signers"].as_array().unwrap().iter()
        .map(|s| (s["tax_code"].as_str().unwrap().to_owned(), s["signature"].as_str().unwrap().to_owned()))
        .collect();
    signers.sort();
    assert_eq!(signers, vec![(REP_TAX_CODE.to_owned(), "valid".to_owned()), (OTHER_TAX_CODE.to_owned(), "valid".to_owned())]);
    assert_eq!(submit(&app, &token, &id, None).await.status(), StatusCode::OK);
});

both!(async fn a_letter_of_adhesion_needs_the_signature_of_its_own_partner_legal_representative(app) {
    let token = app.login(APPLICANT).await;
    let ssl = openssl();
    let (id, _) = draft(&app, &token, true).await;
    let agreement = signed(&ssl, "Accordo", &[&representative(&ssl, Key::Rsa)]);
    upload_agreement(&app, &token, &id, "accordo.pdf.p7m", agreement).await;
    // A public body joins as an adhering partner, its own legal representative named.
    let partner = register(&app, &token, &public_body(20, "SO", &["SO"])).await;
    let pid = app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await.json::<Value>().await.unwrap()["partnership_id"].as_str().unwrap().to_owned();
    let res = app.post(&format!("/api/v1/partnerships/{pid}/members"), Some(&token), &json!({"organization_id": partner, "role": "adhering_partner"})).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    name_representative(&app, &token, &partner, OTHER_TAX_CODE).await;
    // Its letter signed by the lead's representative is not its own.
    let letter = |text: &str, who: &Identity| signed(&ssl, text, &[who]);
    let wrong = upload(&app, &token, &id, "letter_of_adhesion", Some(&partner), "adesione.pdf.p7m", letter("Adesione", &representative(&ssl, Key::Rsa))).await;
    refused_for_the_signature(&app, &token, &id, "annex_not_signed").await;
    delete_document(&app, &token, &id, &wrong).await;
    upload(&app, &token, &id, "letter_of_adhesion", Some(&partner), "adesione.pdf.p7m", letter("Adesione", &someone_else(&ssl))).await;
    assert_eq!(blocking_codes(&app, &token, &id).await, vec![]);
});

both!(async fn a_partner_sees_the_signer_tax_code_masked_and_the_lead_in_full(app) {
    let lead_token = app.login(APPLICANT).await;
    let partner_token = app.login(APPLICANT2).await;
    let ssl = openssl();
    let (id, _) = draft(&app, &lead_token, true).await;
    // The second applicant's organization joins the partnership.
    let mut own = public_body(30, "SO", &["SO"]);
    own["legal_representative"] = json!({"full_name": "Giuseppe Verdi", "tax_code": OTHER_TAX_CODE});
    let org = register(&app, &partner_token, &own).await;
    let view: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&lead_token)).await.json().await.unwrap();
    let pid = view["partnership_id"].as_str().unwrap().to_owned();
    let res = app.post(&format!("/api/v1/partnerships/{pid}/members"), Some(&lead_token), &json!({"tax_code": tax_code(30), "role": "full_partner"})).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    accept_invitation(&app, &partner_token, &pid, &org).await;
    upload_agreement(&app, &lead_token, &id, "accordo.pdf.p7m", signed(&ssl, "Accordo", &[&representative(&ssl, Key::Rsa)])).await;

    let documents = format!("/api/v1/applications/{id}/documents");
    let by_lead: Value = app.get(&documents, Some(&lead_token)).await.json().await.unwrap();
    assert_eq!(by_lead[0]["signature_report"]["signers"][0]["tax_code"], REP_TAX_CODE);
    let by_partner: Value = app.get(&documents, Some(&partner_token)).await.json().await.unwrap();
    assert_eq!(by_partner[0]["signature_report"]["signers"][0]["tax_code"], "BNC************F");
    assert_eq!(by_partner[0]["signature_report"]["signers"][0]["name"], REP_NAME);
    // An annex about the partner's organization, uploaded by the lead: its signer masked to
    // the lead from the first answer, in full to the partner.
    let about = upload(&app, &lead_token, &id, "other", Some(&org), "nota.pdf.p7m", signed(&ssl, "Nota", &[&someone_else(&ssl)])).await;
    assert_eq!(about["signature_report"]["signers"][0]["tax_code"], "VRD************T");
    let path = format!("{documents}/{}", about["id"].as_str().unwrap());
    let read: Value = app.get(&path, Some(&partner_token)).await.json().await.unwrap();
    assert_eq!(read["signature_report"]["signers"][0]["tax_code"], OTHER_TAX_CODE);
    // The organizations, the same way: the partner's representative in full to its own, masked
    // to the lead.
    let seen: Value = app.get(&format!("/api/v1/organizations/{org}"), Some(&lead_token)).await.json().await.unwrap();
    assert_eq!(seen["legal_representative"], json!({"full_name": "Giuseppe Verdi", "tax_code": "VRD************T"}));
    let mine: Value = app.get(&format!("/api/v1/organizations/{org}"), Some(&partner_token)).await.json().await.unwrap();
    assert_eq!(mine["legal_representative"]["tax_code"], OTHER_TAX_CODE);
});

both!(async fn a_legal_representative_has_a_person_tax_code_with_its_check_character(app) {
    let token = app.login(APPLICANT).await;
    let mut org = public_body(1, "SO", &["SO"]);
    org["legal_representative"] = json!({"full_name": " ", "tax_code": "BNCLRA70A41I829A"});
    let p = problem(app.post("/api/v1/organizations", Some(&token), &org).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "legal_representative.tax_code", "tax_code_check"), "{p}");
    assert!(has_violation(&p, "legal_representative.full_name", "invalid_text"), "{p}");
    org["legal_representative"] = json!({"full_name": REP_NAME, "tax_code": tax_code(2)});
    let p = problem(app.post("/api/v1/organizations", Some(&token), &org).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "legal_representative.tax_code", "tax_code_format"), "{p}");
    org["legal_representative"] = json!({"full_name": REP_NAME, "tax_code": "bnclra70a41i829f"});
    let res = app.post("/api/v1/organizations", Some(&token), &org).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["legal_representative"], json!({"full_name": REP_NAME, "tax_code": REP_TAX_CODE}));
});

both!(async fn an_envelope_is_refused_when_it_cannot_be_opened_or_wraps_a_type_not_kept(app) {
    let token = app.login(APPLICANT).await;
    let ssl = openssl();
    let (id, _) = draft(&app, &token, true).await;
    let rep = representative(&ssl, Key::Rsa);
    let metadata = json!({"kind": "partnership_agreement"});
    // What it wraps is checked as a bare file would be.
    let text = ssl.sign(b"just some text, not a PDF", &[&rep], &["-cades", "-nodetach"]);
    let p = problem(upload_raw(&app, &token, &id, &metadata, "accordo.txt.p7m", text).await, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(p["code"], "unsupported_file_type");
    // A signature kept apart from its file.
    let detached = ssl.sign(&pdf("Accordo"), &[&rep], &["-cades"]);
    let p = problem(upload_raw(&app, &token, &id, &metadata, "accordo.pdf.p7m", detached).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "file", "unreadable_envelope"), "{p}");
    // An envelope cut short.
    let mut cut = signed(&ssl, "Accordo", &[&rep]);
    cut.truncate(cut.len() / 2);
    let p = problem(upload_raw(&app, &token, &id, &metadata, "accordo.pdf.p7m", cut).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "file", "unreadable_envelope"), "{p}");
    // Nothing was kept.
    let docs: Value = app.get(&format!("/api/v1/applications/{id}/documents"), Some(&token)).await.json().await.unwrap();
    assert_eq!(docs, json!([]));
});

both!(async fn each_demo_organization_has_a_legal_representative(app) {
    let token = app.login(APPLICANT).await;
    let list: Value = app.get("/api/v1/organizations", Some(&token)).await.json().await.unwrap();
    let demo: Vec<&Value> = list["items"].as_array().unwrap().iter()
        .filter(|o| o["legal_name"].as_str().unwrap().ends_with("(demo)"))
        .collect();
    assert_eq!(demo.len(), 4, "{list}");
    for o in demo {
        let rep = &o["legal_representative"];
        assert!(rep["full_name"].is_string() && rep["tax_code"].as_str().unwrap().len() == 16, "{o}");
    }
});

both!(async fn a_final_report_masks_its_evidence_signers_to_a_partner_as_its_annexes_do(app) {
    let lead_token = app.login(APPLICANT).await;
    let ssl = openssl();
    let call = app.call_id(welfare_grants::seed::STARTED_CALL_CODE).await;
    let grants: Value = app.get(&format!("/api/v1/grants?call_id={call}"), Some(&lead_token)).await.json().await.unwrap();
    let g = grants["items"][0]["id"].as_str().unwrap().to_owned();
    let listed: Value = app.get(&format!("/api/v1/grants/{g}/variations"), Some(&lead_token)).await.json().await.unwrap();
    let member = listed["current"]["members"].as_array().unwrap().iter()
        .find(|m| m["role"] != "lead").unwrap()["organization_id"].as_str().unwrap().to_owned();
    // A representative of a member that does not lead.
    let partner = ("socio.rendiconto@example.org", "a long and private passphrase");
    let res = app.post("/api/v1/auth/register", None, &json!({"username": partner.0, "password": partner.1, "full_name": "Socio Rendiconto"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.post(&format!("/api/v1/organizations/{member}/representatives"), Some(&lead_token), &json!({"username": partner.0})).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    let partner_token = app.login(partner).await;
    // The lead uploads a signed invoice for the whole report.
    let form = reqwest::multipart::Form::new()
        .part("metadata", reqwest::multipart::Part::text(json!({"kind": "report_evidence"}).to_string()).mime_str("application/json").unwrap())
        .part("file", reqwest::multipart::Part::bytes(signed(&ssl, "Fattura", &[&someone_else(&ssl)])).file_name("fattura.pdf.p7m"));
    let res = app.client.post(app.url(&format!("/api/v1/grants/{g}/final-report/documents"))).bearer_auth(&lead_token).multipart(form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["signature_report"]["signers"][0]["tax_code"], OTHER_TAX_CODE);
    let report = format!("/api/v1/grants/{g}/final-report");
    let by_partner: Value = app.get(&report, Some(&partner_token)).await.json().await.unwrap();
    assert_eq!(by_partner["evidence"][0]["signature_report"]["signers"][0]["tax_code"], "VRD************T");
    let one: Value = app.get(&format!("{report}/documents/{}", doc["id"].as_str().unwrap()), Some(&partner_token)).await.json().await.unwrap();
    assert_eq!(one["signature_report"]["signers"][0]["tax_code"], "VRD************T");
    let by_lead: Value = app.get(&report, Some(&lead_token)).await.json().await.unwrap();
    assert_eq!(by_lead["evidence"][0]["signature_report"]["signers"][0]["tax_code"], OTHER_TAX_CODE);
});
