//! TLS to MySQL/MariaDB with Debezium's settings, for every connection the source opens
//! (catalog, snapshot, binlog stream: they all go through [`crate::preflight::connect`]).
//!
//! `database.ssl.mode` (Debezium's default `preferred`):
//!
//! | mode | encrypted | server certificate checked | host name checked |
//! |---|---|---|---|
//! | `disabled` | no | — | — |
//! | `preferred` | if the server offers TLS, else plain | no | no |
//! | `required` | always (else an error) | no | no |
//! | `verify_ca` | always | against the truststore | no |
//! | `verify_identity` | always | against the truststore | yes |
//!
//! Stores. Debezium reads Java key stores; sluice reads PEM: `database.ssl.truststore` is a
//! file of CA certificates, `database.ssl.keystore` a file holding the client certificate
//! chain and its RSA private key (`-----BEGIN RSA PRIVATE KEY-----`). A JKS or PKCS#12 store is
//! refused with the command that converts it. Without a truststore, `verify_*` trust the public
//! CAs (as a JVM's default truststore does).
//!
//! Invariant: a connection is never silently downgraded: only `preferred` falls back to plain,
//! and only when the server says it has no TLS at all.

use std::path::{Path, PathBuf};

use mysql_async::{ClientIdentity, SslOpts};

use crate::error::MySqlError;

/// `database.ssl.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

/// What `database.ssl.*` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// PEM CA certificates (`database.ssl.truststore`).
    pub truststore: Option<PathBuf>,
    /// PEM client certificate chain and RSA key (`database.ssl.keystore`).
    pub keystore: Option<PathBuf>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            mode: SslMode::Preferred,
            truststore: None,
            keystore: None,
        }
    }
}

impl TlsSettings {
    /// Reads `database.ssl.*`; checks the stores now, so a wrong path or format is reported
    /// before connecting.
    pub fn from_props(
        props: &std::collections::BTreeMap<String, String>,
    ) -> Result<TlsSettings, MySqlError> {
        let mode = sluice_core::props::choice(
            props,
            "database.ssl.mode",
            SslMode::Preferred,
            &[
                ("disabled", SslMode::Disabled),
                ("preferred", SslMode::Preferred),
                ("required", SslMode::Required),
                ("verify_ca", SslMode::VerifyCa),
                ("verify_identity", SslMode::VerifyIdentity),
            ],
        )
        .map_err(MySqlError::Config)?;
        let path = |key: &str| {
            props
                .get(key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let settings = TlsSettings {
            mode,
            truststore: path("database.ssl.truststore"),
            keystore: path("database.ssl.keystore"),
        };
        if let Some(t) = &settings.truststore {
            let pem = read_pem(t, "database.ssl.truststore")?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(MySqlError::Config(format!(
                    "database.ssl.truststore={}: no PEM certificate in it",
                    t.display()
                )));
            }
        }
        if let Some(k) = &settings.keystore {
            let pem = read_pem(k, "database.ssl.keystore")?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(MySqlError::Config(format!(
                    "database.ssl.keystore={}: no PEM client certificate in it",
                    k.display()
                )));
            }
            if !pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
                return Err(MySqlError::Config(format!(
                    "database.ssl.keystore={}: no RSA private key in PKCS#1 PEM form (-----BEGIN RSA PRIVATE KEY-----); convert a PKCS#8 key with: openssl rsa -in key.pem -traditional -out key-rsa.pem, and put it after the certificate",
                    k.display()
                )));
            }
        }
        Ok(settings)
    }

    /// The driver's TLS options for this mode (`None`: plain).
    pub fn ssl_opts(&self) -> Option<SslOpts> {
        let checks_ca = matches!(self.mode, SslMode::VerifyCa | SslMode::VerifyIdentity);
        let mut opts = match self.mode {
            SslMode::Disabled => return None,
            SslMode::Preferred | SslMode::Required => SslOpts::default()
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
            SslMode::VerifyCa => SslOpts::default().with_danger_skip_domain_validation(true),
            SslMode::VerifyIdentity => SslOpts::default(),
        };
        if let (true, Some(t)) = (checks_ca, &self.truststore) {
            opts = opts
                .with_root_certs(vec![t.clone().into()])
                .with_disable_built_in_roots(true);
        }
        if let Some(k) = &self.keystore {
            opts = opts.with_client_identity(Some(ClientIdentity::new(
                k.clone().into(),
                k.clone().into(),
            )));
        }
        Some(opts)
    }

    /// The `database.ssl.mode` value, as written.
    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify_ca",
            SslMode::VerifyIdentity => "verify_identity",
        }
    }

    /// Whether a connection without TLS may be tried when the server offers none.
    pub fn may_fall_back_to_plain(&self) -> bool {
        self.mode == SslMode::Preferred
    }
}

/// A name a server certificate is valid for, read from the TLS library's "not valid for name"
/// error (`… certificate is only valid for DnsName("db.example") or IpAddress(10.0.0.5)`), for
/// `verify_ca`, which does not check the name. The driver's own switch for that
/// (`skip_domain_validation`) no longer recognizes this error of newer rustls versions.
pub fn name_the_certificate_has(error: &str) -> Option<String> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    if !error.contains("not valid for name") {
        return None;
    }
    let re = RE.get_or_init(|| {
        regex::Regex::new(r#"DnsName\("([^"]+)"\)|IpAddress\(([0-9a-fA-F.:]+)\)"#).expect("valid")
    });
    let c = re.captures(error)?;
    c.get(1).or(c.get(2)).map(|m| m.as_str().to_string())
}

/// Makes aws-lc the process's TLS crypto provider, once. rustls cannot pick one by itself when
/// its dependents enable more than one (as they do in this workspace).
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // an error only says a provider is installed already: that one is kept
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// The text of a PEM store; a Java key store or a PKCS#12 file is refused with the command that
/// converts it.
fn read_pem(path: &Path, key: &str) -> Result<String, MySqlError> {
    let bytes = std::fs::read(path)
        .map_err(|e| MySqlError::Config(format!("{key}={}: {e}", path.display())))?;
    let convert = match bytes.get(..4) {
        Some([0xFE, 0xED, 0xFE, 0xED]) | Some([0xCE, 0xCE, 0xCE, 0xCE]) => Some(
            "a Java key store (JKS/JCEKS); sluice reads PEM: keytool -importkeystore -srckeystore STORE.jks -destkeystore STORE.p12 -deststoretype pkcs12, then openssl pkcs12 -in STORE.p12 -out STORE.pem -nodes",
        ),
        _ if !bytes.is_empty() && bytes[0] == 0x30 => Some(
            "a PKCS#12 (or DER) file; sluice reads PEM: openssl pkcs12 -in STORE.p12 -out STORE.pem -nodes (for a key store, also openssl rsa -traditional on its key)",
        ),
        _ => None,
    };
    if let Some(how) = convert {
        return Err(MySqlError::Config(format!(
            "{key}={} is {how}",
            path.display()
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| MySqlError::Config(format!("{key}={}: not a PEM text file", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::props::from_pairs;

    #[test]
    fn the_default_is_debeziums_preferred_and_only_it_falls_back_to_plain() {
        let s = TlsSettings::from_props(&from_pairs(&[])).unwrap();
        assert_eq!(s.mode, SslMode::Preferred);
        assert!(s.may_fall_back_to_plain());
        assert!(s.ssl_opts().unwrap().accept_invalid_certs());
        for mode in ["required", "verify_ca", "verify_identity"] {
            let s = TlsSettings::from_props(&from_pairs(&[("database.ssl.mode", mode)])).unwrap();
            assert!(!s.may_fall_back_to_plain(), "{mode}");
        }
        let s = TlsSettings::from_props(&from_pairs(&[("database.ssl.mode", "disabled")])).unwrap();
        assert!(s.ssl_opts().is_none());
    }

    #[test]
    fn each_mode_checks_what_its_name_says() {
        let opts = |mode: &str| {
            TlsSettings::from_props(&from_pairs(&[("database.ssl.mode", mode)]))
                .unwrap()
                .ssl_opts()
                .unwrap()
        };
        let r = opts("required");
        assert!(r.accept_invalid_certs() && r.skip_domain_validation());
        let ca = opts("verify_ca");
        assert!(!ca.accept_invalid_certs() && ca.skip_domain_validation());
        let id = opts("verify_identity");
        assert!(!id.accept_invalid_certs() && !id.skip_domain_validation());
    }

    #[test]
    fn a_truststore_replaces_the_public_roots_for_the_verifying_modes() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let ca_path = ca.display().to_string();
        let s = TlsSettings::from_props(&from_pairs(&[
            ("database.ssl.mode", "verify_ca"),
            ("database.ssl.truststore", &ca_path),
        ]))
        .unwrap();
        let o = s.ssl_opts().unwrap();
        assert_eq!(o.root_certs().len(), 1);
        assert!(o.disable_built_in_roots());
    }

    #[test]
    fn verify_ca_learns_a_name_the_certificate_has_from_the_name_mismatch() {
        let e = r#"invalid peer certificate: certificate not valid for name "localhost"; certificate is only valid for IpAddress(127.0.0.1)"#;
        assert_eq!(name_the_certificate_has(e).as_deref(), Some("127.0.0.1"));
        let e = r#"invalid peer certificate: certificate not valid for name "10.0.0.5"; certificate is only valid for DnsName("db1.example") or DnsName("db.example")"#;
        assert_eq!(name_the_certificate_has(e).as_deref(), Some("db1.example"));
        assert_eq!(
            name_the_certificate_has("invalid peer certificate: UnknownIssuer"),
            None
        );
    }

    #[test]
    fn java_and_pkcs12_stores_and_pkcs8_keys_are_refused_with_the_conversion_command() {
        let dir = tempfile::tempdir().unwrap();
        let jks = dir.path().join("truststore.jks");
        std::fs::write(&jks, [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]).unwrap();
        let p12 = dir.path().join("keystore.p12");
        std::fs::write(&p12, [0x30, 0x82, 0x0A, 0x01]).unwrap();
        let pkcs8 = dir.path().join("client.pem");
        std::fs::write(
            &pkcs8,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = |k: &str, p: &Path| {
            TlsSettings::from_props(&from_pairs(&[(k, &p.display().to_string())]))
                .unwrap_err()
                .to_string()
        };
        let e = err("database.ssl.truststore", &jks);
        assert!(
            e.contains("Java key store") && e.contains("keytool -importkeystore"),
            "{e}"
        );
        let e = err("database.ssl.keystore", &p12);
        assert!(e.contains("PKCS#12") && e.contains("openssl pkcs12"), "{e}");
        let e = err("database.ssl.keystore", &pkcs8);
        assert!(
            e.contains("openssl rsa") && e.contains("-traditional"),
            "{e}"
        );
        let e = err("database.ssl.truststore", &dir.path().join("missing.pem"));
        assert!(
            e.contains("database.ssl.truststore") && e.contains("missing.pem"),
            "{e}"
        );
    }
}
