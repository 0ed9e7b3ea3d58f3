//! TLS to PostgreSQL with Debezium's (libpq's) settings, on every connection the source opens:
//! the replication connection and every query connection (catalog, snapshot, signals).
//!
//! `database.sslmode` (Debezium's default `prefer`):
//!
//! | mode | encrypted | server certificate checked | host name checked |
//! |---|---|---|---|
//! | `disable` | no | — | — |
//! | `allow`, `prefer` | if the server accepts TLS, else plain | no | no |
//! | `require` | always (else an error) | no | no |
//! | `verify-ca` | always | against `database.sslrootcert` | no |
//! | `verify-full` | always | against `database.sslrootcert` | yes |
//!
//! `database.sslcert` / `database.sslkey` (PEM) give a client certificate. An encrypted key
//! (`database.sslpassword`) is refused with the command that decrypts it. `allow` (libpq: plain
//! first, TLS if refused) is treated as `prefer`: both connect in plain text only when the
//! server offers no TLS. Invariant: no mode stricter than `prefer` ever connects in plain text.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pgwire_replication::{SslMode as WireMode, TlsConfig};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::error::PgError;

/// `database.sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// What `database.ssl*` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTls {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl PgTls {
    pub fn from_props(props: &BTreeMap<String, String>) -> Result<PgTls, PgError> {
        let mode = sluice_core::props::choice(
            props,
            "database.sslmode",
            SslMode::Prefer,
            &[
                ("disable", SslMode::Disable),
                ("allow", SslMode::Prefer),
                ("prefer", SslMode::Prefer),
                ("require", SslMode::Require),
                ("verify-ca", SslMode::VerifyCa),
                ("verify-full", SslMode::VerifyFull),
            ],
        )
        .map_err(PgError::Config)?;
        let path = |key: &str| -> Result<Option<PathBuf>, PgError> {
            match props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(p) => {
                    let p = PathBuf::from(p);
                    std::fs::metadata(&p)
                        .map_err(|e| PgError::Config(format!("{key}={}: {e}", p.display())))?;
                    Ok(Some(p))
                }
            }
        };
        let tls = PgTls {
            mode,
            root_cert: path("database.sslrootcert")?,
            client_cert: path("database.sslcert")?,
            client_key: path("database.sslkey")?,
        };
        if tls.client_cert.is_some() != tls.client_key.is_some() {
            return Err(PgError::Config(
                "database.sslcert and database.sslkey go together (the client certificate and its key)".into(),
            ));
        }
        if let Some(key) = &tls.client_key {
            let text = std::fs::read_to_string(key).unwrap_or_default();
            if text.contains("ENCRYPTED") {
                return Err(PgError::Config(format!(
                    "database.sslkey={} is encrypted; sluice reads unencrypted PEM keys: openssl pkey -in {} -out key.pem (database.sslpassword is not used)",
                    key.display(),
                    key.display()
                )));
            }
        }
        if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) && tls.root_cert.is_none() {
            return Err(PgError::Config(format!(
                "database.sslmode={} needs database.sslrootcert (the CA certificate(s) that signed the server's certificate, PEM)",
                tls.mode_name()
            )));
        }
        Ok(tls)
    }

    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Applies these settings to a query connection's options.
    pub fn query_options(&self, mut o: PgConnectOptions) -> PgConnectOptions {
        o = o.ssl_mode(match self.mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require => PgSslMode::Require,
            SslMode::VerifyCa => PgSslMode::VerifyCa,
            SslMode::VerifyFull => PgSslMode::VerifyFull,
        });
        if let Some(ca) = &self.root_cert {
            o = o.ssl_root_cert(ca);
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            o = o.ssl_client_cert(cert).ssl_client_key(key);
        }
        o
    }

    /// The replication connection's TLS settings for a server reached as `hostname`.
    pub fn replication(&self, hostname: &str) -> TlsConfig {
        let mut t = match self.mode {
            SslMode::Disable => TlsConfig::disabled(),
            SslMode::Prefer => TlsConfig {
                mode: WireMode::Prefer,
                ..TlsConfig::disabled()
            },
            SslMode::Require => TlsConfig::require(),
            SslMode::VerifyCa => TlsConfig::verify_ca(self.root_cert.clone()),
            // named explicitly: the driver otherwise refuses an IP address here, which libpq
            // checks against the certificate's IP subjectAltNames
            SslMode::VerifyFull => {
                TlsConfig::verify_full(self.root_cert.clone()).with_sni_hostname(hostname)
            }
        };
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            t = t.with_client_cert(cert.clone(), key.clone());
        }
        t
    }
}

/// A failed connection attempt, classified: a certificate that fails the checks and a server
/// that accepts only encrypted connections are definite (retrying changes nothing), anything
/// else may be transient.
pub fn connect_error(target: String, tls: &PgTls, message: String) -> PgError {
    let certificate = [
        "invalid peer certificate",
        "UnknownIssuer",
        "NotValidForName",
        "certificate verify failed",
    ]
    .iter()
    .any(|m| message.contains(m));
    if certificate {
        return PgError::Config(format!(
            "TLS connection to PostgreSQL at {target} failed: {message}; check database.sslrootcert (the CA that signed the server's certificate){}",
            if tls.mode == SslMode::VerifyFull {
                " and that the certificate names database.hostname (or use verify-ca)"
            } else {
                ""
            }
        ));
    }
    if message.contains("no encryption") && tls.mode == SslMode::Disable {
        return PgError::Config(format!(
            "PostgreSQL at {target} refused a plain connection ({message}): it accepts only TLS (hostssl); set database.sslmode=require, verify-ca or verify-full"
        ));
    }
    PgError::Connect { target, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::props::from_pairs;

    #[test]
    fn the_default_is_prefer_and_allow_reads_as_prefer() {
        assert_eq!(
            PgTls::from_props(&from_pairs(&[])).unwrap().mode,
            SslMode::Prefer
        );
        let allow = PgTls::from_props(&from_pairs(&[("database.sslmode", "allow")])).unwrap();
        assert_eq!(allow.mode, SslMode::Prefer);
    }

    #[test]
    fn verifying_modes_need_the_ca_and_a_bad_mode_or_path_is_named() {
        let e = PgTls::from_props(&from_pairs(&[("database.sslmode", "verify-full")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("database.sslrootcert"), "{e}");
        let e = PgTls::from_props(&from_pairs(&[("database.sslmode", "sometimes")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("database.sslmode"), "{e}");
        let e = PgTls::from_props(&from_pairs(&[
            ("database.sslmode", "verify-ca"),
            ("database.sslrootcert", "/nonexistent/ca.pem"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn a_certificate_without_its_key_and_an_encrypted_key_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").unwrap();
        std::fs::write(&key, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n").unwrap();
        let (c, k) = (cert.display().to_string(), key.display().to_string());
        let e = PgTls::from_props(&from_pairs(&[("database.sslcert", &c)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("go together"), "{e}");
        let e = PgTls::from_props(&from_pairs(&[
            ("database.sslcert", &c),
            ("database.sslkey", &k),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("encrypted") && e.contains("openssl pkey"), "{e}");
    }
}
