//! TLS to MariaDB, as `database.ssl.mode` (Debezium's names and meanings) asks: a server with
//! `require_secure_transport=ON` and certificates signed by a private CA made here with
//! openssl. Snapshot, stream and restart all run over TLS; a plain attempt, a wrong CA and a
//! wrong host name each fail at once with an error that says what to change.

mod common;

use std::path::Path;

use common::pki::Pki;
use common::{ops, Maria, Work};
use serde_json::Value;

fn tls_server(pki: &Pki) -> Maria {
    let args = [
        pki.arg("ssl-ca", "ca.pem"),
        pki.arg("ssl-cert", "server.pem"),
        pki.arg("ssl-key", "server.key"),
        "--require-secure-transport=ON".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let db = Maria::start_with(&args);
    db.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO app.t VALUES (1, 'a'), (2, 'b');");
    db
}

fn connector(db: &Maria, name: &str, extra: &[(&str, &str)]) -> Value {
    let mut pairs = vec![
        ("table.include.list", "app.t"),
        ("snapshot.mode", "initial"),
    ];
    pairs.extend_from_slice(extra);
    db.connector(name, &pairs)
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn every_verifying_mode_snapshots_streams_and_resumes_over_tls() {
    let pki = Pki::make();
    let db = tls_server(&pki);
    let ca = path_str(&pki.path("ca.pem"));
    for (i, mode) in ["required", "verify_ca", "verify_identity"]
        .into_iter()
        .enumerate()
    {
        let id = 10 + i as i64;
        let work = Work::new();
        let doc = connector(
            &db,
            mode,
            &[
                ("database.ssl.mode", mode),
                ("database.ssl.truststore", &ca),
            ],
        );
        let (ok, err) = work.try_catch_up(&doc, "out.jsonl");
        assert!(ok, "{mode}: {err}");
        db.sql(&format!("INSERT INTO app.t VALUES ({id}, '{mode}')"));
        let (ok, err) = work.try_catch_up(&doc, "out.jsonl");
        assert!(ok, "{mode} after a restart: {err}");
        let got = ops(&work.lines("out.jsonl"));
        assert_eq!(
            &got[..2],
            &[("r".to_string(), 1), ("r".to_string(), 2)],
            "{mode}"
        );
        assert_eq!(got.last().unwrap(), &("c".to_string(), id), "{mode}");
    }
}

#[test]
fn a_plain_connection_a_wrong_ca_and_a_wrong_host_name_fail_with_what_to_change() {
    let pki = Pki::make();
    let db = tls_server(&pki);
    let work = Work::new();

    let (ok, err) = work.try_catch_up(
        &connector(&db, "plain", &[("database.ssl.mode", "disabled")]),
        "plain.jsonl",
    );
    assert!(!ok);
    assert!(
        err.contains("not encrypted") && err.contains("database.ssl.mode=required"),
        "{err}"
    );

    let other = path_str(&pki.path("other-ca.pem"));
    let (ok, err) = work.try_catch_up(
        &connector(
            &db,
            "wrongca",
            &[
                ("database.ssl.mode", "verify_ca"),
                ("database.ssl.truststore", &other),
            ],
        ),
        "wrongca.jsonl",
    );
    assert!(!ok);
    assert!(
        err.contains("TLS") && err.contains("database.ssl.truststore"),
        "{err}"
    );

    // the certificate names 127.0.0.1, not localhost: verify_ca accepts it, verify_identity not
    let ca = path_str(&pki.path("ca.pem"));
    let by_name = |mode: &str| {
        let mut doc = connector(
            &db,
            mode,
            &[
                ("database.ssl.mode", mode),
                ("database.ssl.truststore", &ca),
            ],
        );
        doc["config"]["database.hostname"] = "localhost".into();
        doc
    };
    let (ok, err) = work.try_catch_up(&by_name("verify_identity"), "identity.jsonl");
    assert!(!ok);
    assert!(err.contains("names database.hostname"), "{err}");
    let (ok, err) = work.try_catch_up(&by_name("verify_ca"), "ca.jsonl");
    assert!(ok, "{err}");
    assert!(
        work.offsets("verify_identity").is_none(),
        "nothing may be committed on failure"
    );
}

#[test]
fn a_client_certificate_from_the_keystore_logs_in_a_user_that_requires_one() {
    let pki = Pki::make();
    let db = tls_server(&pki);
    db.sql("CREATE USER 'x509'@'%' IDENTIFIED BY 'x509' REQUIRE X509;
            GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'x509'@'%';");
    let work = Work::new();
    let ca = path_str(&pki.path("ca.pem"));
    let keystore = path_str(&pki.path("client-keystore.pem"));
    let as_x509 = |extra: &[(&str, &str)]| {
        let mut doc = connector(&db, "x509", extra);
        doc["config"]["database.user"] = "x509".into();
        doc["config"]["database.password"] = "x509".into();
        doc
    };
    let (ok, err) = work.try_catch_up(
        &as_x509(&[
            ("database.ssl.mode", "verify_ca"),
            ("database.ssl.truststore", &ca),
        ]),
        "nocert.jsonl",
    );
    assert!(
        !ok,
        "a user that requires a certificate logged in without one"
    );
    assert!(err.contains("access denied"), "{err}");
    let (ok, err) = work.try_catch_up(
        &as_x509(&[
            ("database.ssl.mode", "verify_ca"),
            ("database.ssl.truststore", &ca),
            ("database.ssl.keystore", &keystore),
        ]),
        "cert.jsonl",
    );
    assert!(ok, "{err}");
    assert_eq!(ops(&work.lines("cert.jsonl")).len(), 2);
}
