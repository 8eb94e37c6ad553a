//! CAdES envelopes (`.p7m`) made by the openssl CLI with keys and self-signed certificates made
//! here: nothing is downloaded. Shared by the unit tests of `domain::signature` (which include
//! this file) and the HTTP tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// A temporary directory where the openssl CLI makes keys, certificates and envelopes.
pub struct Openssl {
    dir: tempfile::TempDir,
}

#[derive(Clone, Copy)]
pub enum Key {
    Rsa,
    P256,
}

/// A signer's key and self-signed certificate, as files.
pub struct Identity {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Openssl {
    /// `None`, with a message, when the openssl CLI is not installed.
    pub fn new() -> Option<Openssl> {
        let found = Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            eprintln!("the openssl CLI is not installed: no envelope can be made");
            return None;
        }
        Some(Openssl {
            dir: tempfile::tempdir().expect("a temporary directory"),
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A key and a certificate whose subject is `subject` (openssl's `/K=V/...` form).
    pub fn identity(&self, name: &str, key: Key, subject: &str) -> Identity {
        let cert = self.path(&format!("{name}.crt"));
        let key_file = self.path(&format!("{name}.key"));
        let key_args: &[&str] = match key {
            Key::Rsa => &["-newkey", "rsa:2048"],
            Key::P256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        };
        run(Command::new("openssl")
            .args(["req", "-x509", "-nodes", "-days", "2", "-subj", subject])
            .args(key_args)
            .arg("-keyout")
            .arg(&key_file)
            .arg("-out")
            .arg(&cert));
        Identity {
            cert,
            key: key_file,
        }
    }

    /// A person's key and certificate, named as Italian signature certificates name them: the
    /// common name, and the tax code in `serialNumber` as `TINIT-<tax code>`.
    pub fn person(&self, name: &str, key: Key, full_name: &str, tax_code: &str) -> Identity {
        self.identity(
            name,
            key,
            &format!("/C=IT/CN={full_name}/serialNumber=TINIT-{tax_code}"),
        )
    }

    /// `content` signed by `signers` (DER); `extra` are more `openssl cms -sign` options
    /// (`-nodetach` to carry the content, `-cades` to bind the certificates).
    pub fn sign(&self, content: &[u8], signers: &[&Identity], extra: &[&str]) -> Vec<u8> {
        let input = self.path("content");
        std::fs::write(&input, content).unwrap();
        let out = self.path("signed.p7m");
        let mut cmd = Command::new("openssl");
        cmd.args(["cms", "-sign", "-binary", "-outform", "DER"])
            .args(extra)
            .arg("-in")
            .arg(&input)
            .arg("-out")
            .arg(&out);
        for s in signers {
            cmd.arg("-signer").arg(&s.cert).arg("-inkey").arg(&s.key);
        }
        run(&mut cmd);
        std::fs::read(&out).unwrap()
    }
}

pub fn run(cmd: &mut Command) {
    let out = cmd.output().expect("openssl runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
