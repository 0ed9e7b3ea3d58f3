//! Connecting, and checking the server is set up for binlog CDC before anything is streamed.
//!
//! Each failed check is a fatal error telling the operator the exact setting or grant to fix:
//! binlog disabled, `binlog_format` not ROW, `binlog_row_image` not FULL, missing REPLICATION
//! SLAVE / REPLICATION CLIENT grants, a `database.server.id` equal to the server's own id or to
//! another replica's, a start position whose binlog file was purged.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};

use crate::config::MySqlConfig;
use crate::error::MySqlError;
use tracing::warn;

/// What sluice needs to know about the server.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub version: String,
    pub mariadb: bool,
    pub server_id: u32,
}

/// Opens a regular client connection, over TLS as `database.ssl.mode` says ([`crate::tls`]).
pub async fn connect(cfg: &MySqlConfig) -> Result<Conn, MySqlError> {
    crate::tls::install_crypto_provider();
    match open(cfg, cfg.tls.ssl_opts()).await {
        Err(Fallback::NoTls) if cfg.tls.may_fall_back_to_plain() => {
            open(cfg, None).await.map_err(|f| match f {
                Fallback::Other(e) => e,
                // not expected: a plain connection asks for no TLS
                Fallback::NoTls => MySqlError::Tls {
                    addr: cfg.addr(),
                    message: "the server refused a plain connection".into(),
                },
            })
        }
        Err(Fallback::NoTls) => Err(MySqlError::Tls {
            addr: cfg.addr(),
            message: format!(
                "the server does not offer TLS (its have_ssl is not YES) and database.ssl.mode={} requires it; configure the server's ssl_cert/ssl_key, or set database.ssl.mode=preferred or disabled",
                cfg.tls.mode_name()
            ),
        }),
        Err(Fallback::Other(MySqlError::Tls { message, .. }))
            if cfg.tls.mode == crate::tls::SslMode::VerifyCa
                && crate::tls::name_the_certificate_has(&message).is_some() =>
        {
            // verify_ca checks the certificate's CA, not the name: the chain passed (the name
            // is checked last), so connect again expecting a name the certificate has
            let name = crate::tls::name_the_certificate_has(&message).unwrap_or_default();
            let opts = cfg.tls.ssl_opts().map(|o| o.with_danger_tls_hostname_override(Some(name)));
            open(cfg, opts).await.map_err(|f| match f {
                Fallback::Other(e) => e,
                Fallback::NoTls => MySqlError::Tls {
                    addr: cfg.addr(),
                    message: "the server stopped offering TLS".into(),
                },
            })
        }
        Err(Fallback::Other(e)) => Err(e),
        Ok(c) => Ok(c),
    }
}

enum Fallback {
    /// The server offers no TLS.
    NoTls,
    Other(MySqlError),
}

async fn open(cfg: &MySqlConfig, ssl: Option<mysql_async::SslOpts>) -> Result<Conn, Fallback> {
    let encrypted = ssl.is_some();
    let opts = OptsBuilder::default()
        .ip_or_hostname(cfg.hostname.clone())
        .tcp_port(cfg.port)
        .user(Some(cfg.user.clone()))
        .pass(Some(cfg.password.clone()))
        .prefer_socket(false)
        .stmt_cache_size(0)
        .ssl_opts(ssl)
        // results in utf8mb4 whatever the server's defaults (skip-character-set-client-handshake
        // would ignore the handshake's collation): snapshot text is then always UTF-8
        .init(vec!["SET NAMES utf8mb4"]);
    let fut = Conn::new(opts);
    let conn = tokio::time::timeout(cfg.connect_timeout, fut)
        .await
        .map_err(|_| {
            Fallback::Other(MySqlError::Connect {
                addr: cfg.addr(),
                message: format!(
                    "timed out after {} ms (connect.timeout.ms); check database.hostname/database.port and that the server is up",
                    cfg.connect_timeout.as_millis()
                ),
            })
        })?;
    conn.map_err(|e| match e {
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => {
            Fallback::NoTls
        }
        e => Fallback::Other(classify_connect_error(cfg, e, encrypted)),
    })
}

/// Server error: connections using insecure transport are prohibited
/// (`require_secure_transport=ON`).
const INSECURE_TRANSPORT_REFUSED: u16 = 3159;

fn classify_connect_error(cfg: &MySqlConfig, e: mysql_async::Error, encrypted: bool) -> MySqlError {
    if let mysql_async::Error::Server(s) = &e {
        if s.code == INSECURE_TRANSPORT_REFUSED {
            return MySqlError::Tls {
                addr: cfg.addr(),
                message: format!(
                    "{} (the server requires TLS: set database.ssl.mode=required, verify_ca or verify_identity)",
                    s.message
                ),
            };
        }
        if s.code == 1045 || s.code == 1044 || s.code == 1698 {
            return MySqlError::AccessDenied {
                user: cfg.user.clone(),
                addr: cfg.addr(),
                message: if encrypted {
                    s.message.clone()
                } else {
                    // MariaDB answers a plain connection under require_secure_transport so
                    format!(
                        "{}; the connection was not encrypted: if the server requires TLS, set database.ssl.mode=required (or verify_ca / verify_identity)",
                        s.message
                    )
                },
            };
        }
    }
    let text = e.to_string();
    if text.contains("invalid peer certificate")
        || text.contains("certificate") && text.contains("TLS")
    {
        // the server's certificate does not pass the checks database.ssl.mode asks for: this
        // does not go away by retrying
        return MySqlError::Tls {
            addr: cfg.addr(),
            message: format!(
                "{text}; check database.ssl.truststore (the CA that signed the server's certificate){} and, if set, database.ssl.keystore (an X.509 v3 client certificate)",
                if cfg.tls.mode == crate::tls::SslMode::VerifyIdentity {
                    " and that the certificate names database.hostname"
                } else {
                    ""
                }
            ),
        };
    }
    MySqlError::Connect {
        addr: cfg.addr(),
        message: format!("{e}; check database.hostname/database.port and that the server is up"),
    }
}

/// Runs every check; returns the server facts.
pub async fn check(conn: &mut Conn, cfg: &MySqlConfig) -> Result<ServerInfo, MySqlError> {
    let version: String = conn
        .query_first("SELECT VERSION()")
        .await
        .map_err(MySqlError::query)?
        .unwrap_or_default();
    let mariadb = version.to_ascii_lowercase().contains("mariadb");
    let var = |name: &str| format!("SHOW GLOBAL VARIABLES LIKE '{name}'");
    let get = |rows: Option<(String, String)>| rows.map(|(_, v)| v).unwrap_or_default();
    let log_bin = get(conn
        .query_first(var("log_bin"))
        .await
        .map_err(MySqlError::query)?);
    if !log_bin.eq_ignore_ascii_case("ON") && log_bin != "1" {
        return Err(MySqlError::Preflight(
            "the binary log is disabled (log_bin=OFF); start the server with --log-bin and --binlog-format=ROW".into(),
        ));
    }
    let format = get(conn
        .query_first(var("binlog_format"))
        .await
        .map_err(MySqlError::query)?);
    if !format.eq_ignore_ascii_case("ROW") {
        return Err(MySqlError::Preflight(format!(
            "binlog_format is {format}, sluice needs ROW: SET GLOBAL binlog_format=ROW (and binlog_format=ROW in the server config) — only changes written after that are captured"
        )));
    }
    let image = get(conn
        .query_first(var("binlog_row_image"))
        .await
        .map_err(MySqlError::query)?);
    if !image.is_empty() && !image.eq_ignore_ascii_case("FULL") {
        return Err(MySqlError::Preflight(format!(
            "binlog_row_image is {image}, sluice needs FULL: SET GLOBAL binlog_row_image=FULL"
        )));
    }
    let server_id: u32 = get(conn
        .query_first(var("server_id"))
        .await
        .map_err(MySqlError::query)?)
    .parse()
    .unwrap_or(0);
    if server_id == cfg.server_id {
        return Err(MySqlError::Preflight(format!(
            "database.server.id={} is the server's own server_id; choose a unique id for sluice",
            cfg.server_id
        )));
    }
    check_grants(conn, cfg).await?;
    check_replica_ids(conn, cfg).await?;
    Ok(ServerInfo {
        version,
        mariadb,
        server_id,
    })
}

async fn check_grants(conn: &mut Conn, cfg: &MySqlConfig) -> Result<(), MySqlError> {
    let grants: Vec<String> = conn.query("SHOW GRANTS").await.map_err(MySqlError::query)?;
    let global: Vec<String> = grants
        .iter()
        .map(|g| g.to_ascii_uppercase())
        .filter(|g| g.contains(" ON *.* "))
        .collect();
    let has = |p: &str| {
        global
            .iter()
            .any(|g| g.contains("ALL PRIVILEGES") || g.contains(p))
    };
    let mut missing = Vec::new();
    if !has("REPLICATION SLAVE") && !has("REPLICATION REPLICA") {
        missing.push("REPLICATION SLAVE");
    }
    if !has("REPLICATION CLIENT") && !has("BINLOG MONITOR") && !has("SUPER") {
        missing.push("REPLICATION CLIENT");
    }
    if !missing.is_empty() {
        return Err(MySqlError::Preflight(format!(
            "user '{}' lacks {}; run: GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{}'@'%'",
            cfg.user,
            missing.join(" and "),
            cfg.user
        )));
    }
    Ok(())
}

/// Another replica registered with our server id is refused, unless it is most likely this
/// connector's own previous session: a dump thread of the same user that the server has not
/// ended yet (after a stop or a crash it lingers until the server notices the closed socket).
/// The server ends such a thread itself when this session starts its binlog dump with the same
/// server id, so a restart right after a stop proceeds instead of failing.
async fn check_replica_ids(conn: &mut Conn, cfg: &MySqlConfig) -> Result<(), MySqlError> {
    // Only a hint: the statements need privileges some setups do not grant.
    let Ok(rows) = conn.query::<mysql_async::Row, _>("SHOW SLAVE HOSTS").await else {
        return Ok(());
    };
    if !rows
        .iter()
        .any(|r| r.get::<u32, _>(0) == Some(cfg.server_id))
    {
        return Ok(());
    }
    let own: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' AND USER = ?",
            (cfg.user.as_str(),),
        )
        .await
        .unwrap_or(None);
    if own.unwrap_or(0) > 0 {
        warn!(
            server_id = cfg.server_id,
            "a replica with this connector's server id is still registered, by a binlog dump of the same user: taken for this connector's previous session, which the server ends when this one starts"
        );
        return Ok(());
    }
    Err(MySqlError::Preflight(format!(
        "another replica is already connected with server id {}; two replication clients with one id disconnect each other — set a unique database.server.id",
        cfg.server_id
    )))
}

/// Binlog files on the server, in order.
pub async fn binlog_files(conn: &mut Conn) -> Result<Vec<String>, MySqlError> {
    let rows: Vec<mysql_async::Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(MySqlError::query)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.get::<String, _>(0))
        .collect())
}

/// The server's current binlog end: (file, position).
pub async fn current_position(conn: &mut Conn) -> Result<(String, u64), MySqlError> {
    let row: Option<mysql_async::Row> = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .map_err(MySqlError::query)?;
    let row = row.ok_or_else(|| {
        MySqlError::Preflight(
            "SHOW MASTER STATUS returned nothing: is the binary log enabled?".into(),
        )
    })?;
    let file: String = row.get(0).unwrap_or_default();
    let pos: u64 = row.get(1).unwrap_or(4);
    Ok((file, pos))
}
