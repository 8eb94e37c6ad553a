//! Builders of registry bodies for the tests: valid tax codes, seats, organizations.

use serde_json::{Value, json};

use crate::helpers::*;
use reqwest::StatusCode;

/// A valid 11-digit tax code (and VAT number) from a serial number.
pub fn tax_code(n: u32) -> String {
    let first10 = format!("{:010}", 700_000_000 + n);
    let digits: Vec<u32> = first10.bytes().map(|b| u32::from(b - b'0')).collect();
    let x: u32 = digits.iter().step_by(2).sum();
    let y: u32 = digits
        .iter()
        .skip(1)
        .step_by(2)
        .map(|d| if 2 * d > 9 { 2 * d - 9 } else { 2 * d })
        .sum();
    format!("{first10}{}", (10 - (x + y) % 10) % 10)
}

pub fn seat(kind: &str, province: &str) -> Value {
    json!({"kind": kind, "address": "Via Roma 1", "municipality": "Comune", "province": province})
}

pub fn public_body(n: u32, registered: &str, operating: &[&str]) -> Value {
    body(n, "public_body", "municipality", registered, operating)
}

pub fn body(n: u32, category: &str, subtype: &str, registered: &str, operating: &[&str]) -> Value {
    let mut seats = vec![seat("registered", registered)];
    seats.extend(operating.iter().map(|p| seat("operating", p)));
    json!({"tax_code": tax_code(n), "legal_name": format!("Ente {n}"), "category": category, "subtype": subtype, "seats": seats})
}

pub fn enterprise(
    n: u32,
    registered: &str,
    operating: &[&str],
    staff: &str,
    turnover: Option<&str>,
    balance: Option<&str>,
) -> Value {
    let mut b = body(n, "enterprise", "company", registered, operating);
    b["vat_number"] = json!(tax_code(n));
    b["chamber_registration"] = json!(format!("{registered}-{n}"));
    b["staff"] = json!(staff);
    b["turnover"] = json!(turnover);
    b["balance_sheet_total"] = json!(balance);
    b["reference_year"] = json!(2021);
    b
}

/// Register an organization and return its id.
pub async fn register(app: &TestApp, token: &str, body: &Value) -> String {
    let res = app.post("/api/v1/organizations", Some(token), body).await;
    let status = res.status();
    let answer: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer["id"].as_str().unwrap().to_owned()
}
