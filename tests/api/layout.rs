//! The shape of the code, checked on its source: handlers reach the database only through the
//! service layer, and the store has no cycles (a repository never calls another store
//! module; leaf helpers call none; unit-of-work modules are called by no repository).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Store modules that use no other store module and that any store module may use.
const LEAVES: &[&str] = &["mod", "rows", "scopes", "writes"];

/// Store modules that combine several aggregates in one statement or one read (for speed),
/// and which no repository uses.
const UNITS_OF_WORK: &[&str] = &["submission"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments, so that a doc comment naming a module is no dependency.
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn store_modules() -> BTreeMap<String, String> {
    let mut files = vec![];
    rust_files(&Path::new(SRC).join("store"), &mut files);
    files
        .iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, code(p))
        })
        .collect()
}

/// The other store modules a store module's code names (`super::x`, `crate::store::x`, or
/// `x::` after `use super::{.., x, ..}`).
fn uses(name: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for other in modules {
        if other == name || other == "mod" {
            continue;
        }
        let named = [
            format!("super::{other}"),
            format!("crate::store::{other}"),
            format!("store::{other}::"),
        ]
        .iter()
        .any(|p| text.contains(p.as_str()));
        let grouped = text.match_indices("use super::{").any(|(i, _)| {
            let group = &text[i..i + text[i..].find('}').unwrap_or(0)];
            group
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|w| w == other)
        });
        if named || grouped {
            found.insert(other.clone());
        }
    }
    found
}

#[test]
fn handlers_reach_the_database_only_through_the_service_layer() {
    let mut files = vec![];
    rust_files(&Path::new(SRC).join("api"), &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|p| code(p).contains("crate::store"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "handlers using crate::store: {offenders:?}"
    );
}

#[test]
fn the_store_answers_no_http_problems_and_calls_no_workflow() {
    let offenders: Vec<String> = store_modules()
        .into_iter()
        .filter(|(_, text)| {
            text.contains("ApiError")
                || text.contains("crate::service")
                || text.contains("crate::api")
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        offenders.is_empty(),
        "store modules with ApiError or calling up: {offenders:?}"
    );
}

#[test]
fn the_store_has_no_cycles() {
    let modules = store_modules();
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut problems = vec![];
    for (name, text) in &modules {
        let used = uses(name, text, &names);
        let is_leaf = LEAVES.contains(&name.as_str());
        let is_unit = UNITS_OF_WORK.contains(&name.as_str());
        for other in used {
            let other_is_leaf = LEAVES.contains(&other.as_str());
            let other_is_unit = UNITS_OF_WORK.contains(&other.as_str());
            if is_leaf && name != "mod" {
                problems.push(format!("leaf {name} uses {other}"));
            } else if other_is_unit {
                problems.push(format!("{name} uses the unit of work {other}"));
            } else if !is_unit && !other_is_leaf {
                problems.push(format!("repository {name} uses repository {other}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
