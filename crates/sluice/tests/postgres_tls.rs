//! TLS to PostgreSQL, as `database.sslmode` (Debezium's and libpq's names) asks: a server with
//! `ssl=on` that accepts TCP connections only over TLS (`hostssl` in its pg_hba.conf), with
//! certificates signed by a private CA made here with openssl. Snapshot, stream and restart run
//! over TLS on the replication and query connections; a plain attempt and a wrong CA fail at
//! once saying what to change.

mod common;

use common::pki::Pki;
use common::postgres::Pg;
use common::Work;

fn tls_server(pki: &Pki) -> Pg {
    let hba = pki.path("pg_hba.conf");
    std::fs::write(
        &hba,
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl replication all 127.0.0.1/32 trust\n",
    )
    .unwrap();
    let opts = [
        "-c ssl=on".to_string(),
        format!("-c ssl_cert_file={}", pki.path("server.pem").display()),
        format!("-c ssl_key_file={}", pki.path("server.key").display()),
        format!("-c ssl_ca_file={}", pki.path("ca.pem").display()),
        format!("-c hba_file={}", hba.display()),
    ];
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let pg = Pg::start_with(&opts);
    pg.sql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b');");
    pg
}

fn ids(work: &Work, out: &str) -> Vec<i64> {
    work.lines(out)
        .iter()
        .filter_map(|l| l["value"]["payload"]["after"]["id"].as_i64())
        .collect()
}

#[test]
fn every_sslmode_behaves_as_libpq_over_the_replication_and_query_connections() {
    let pki = Pki::make();
    let pg = tls_server(&pki);
    let ca = pki.path("ca.pem").display().to_string();
    let other = pki.path("other-ca.pem").display().to_string();
    let work = Work::new();

    // snapshot, stream, restart: verify-full (the certificate names 127.0.0.1)
    let full = pg.connector(
        "full",
        "postgres",
        &[
            ("database.sslmode", "verify-full"),
            ("database.sslrootcert", &ca),
        ],
    );
    let (ok, err) = work.try_catch_up(&full, "full.jsonl");
    assert!(ok, "{err}");
    pg.sql("INSERT INTO t VALUES (3, 'c')");
    let (ok, err) = work.try_catch_up(&full, "full.jsonl");
    assert!(ok, "after a restart: {err}");
    assert_eq!(ids(&work, "full.jsonl"), [1, 2, 3]);

    // require and prefer encrypt without checking; both pass the hostssl-only server
    for mode in ["require", "prefer"] {
        let doc = pg.connector(mode, "postgres", &[("database.sslmode", mode)]);
        let (ok, err) = work.try_catch_up(&doc, &format!("{mode}.jsonl"));
        assert!(ok, "{mode}: {err}");
        assert_eq!(ids(&work, &format!("{mode}.jsonl")), [1, 2, 3], "{mode}");
    }

    // verify-full checks the name: connecting by "localhost" to a certificate for 127.0.0.1
    // fails (verify-ca should pass it, as libpq does, but the query driver checks the name
    // too: docs/postgres.md)
    let mut by_name = pg.connector(
        "byname",
        "postgres",
        &[
            ("database.sslmode", "verify-full"),
            ("database.sslrootcert", &ca),
        ],
    );
    by_name["config"]["database.hostname"] = "localhost".into();
    let (ok, err) = work.try_catch_up(&by_name, "byname.jsonl");
    assert!(!ok, "verify-full accepted a certificate for another name");
    assert!(err.contains("database.hostname"), "{err}");

    // a plain connection and a wrong CA fail at once, saying what to change
    let plain = pg.connector("plain", "postgres", &[("database.sslmode", "disable")]);
    let (ok, err) = work.try_catch_up(&plain, "plain.jsonl");
    assert!(!ok);
    assert!(
        err.contains("accepts only TLS") && err.contains("database.sslmode=require"),
        "{err}"
    );
    let wrong = pg.connector(
        "wrong",
        "postgres",
        &[
            ("database.sslmode", "verify-ca"),
            ("database.sslrootcert", &other),
        ],
    );
    let (ok, err) = work.try_catch_up(&wrong, "wrong.jsonl");
    assert!(!ok);
    assert!(err.contains("database.sslrootcert"), "{err}");
    assert!(work.offsets("plain").is_none() && work.offsets("wrong").is_none());
}
