//! JDBC URLs as Kafka Connect users write them, turned into what sqlx connects with.
//!
//! `jdbc:postgresql://host[:port]/db[?user=…&password=…]`, `jdbc:mysql://…` /
//! `jdbc:mariadb://…` and `jdbc:sqlite:/path/file.db` (or `jdbc:sqlite::memory:`); the native
//! `postgres://`, `mysql://` and `sqlite:` forms work too. `connection.user` /
//! `connection.username` and `connection.password` override credentials in the URL.

/// The database family a URL points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

/// A parsed connection target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub dialect: Dialect,
    /// The sqlx connection URL (credentials included).
    pub url: String,
    /// The URL without credentials, for messages.
    pub display: String,
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses `connection.url` with optional separate credentials.
pub fn parse(url: &str, user: Option<&str>, password: Option<&str>) -> Result<Target, String> {
    let raw = url.trim();
    let rest = raw.strip_prefix("jdbc:").unwrap_or(raw);
    let (dialect, scheme, after) = if let Some(r) = rest
        .strip_prefix("postgresql://")
        .or_else(|| rest.strip_prefix("postgres://"))
    {
        (Dialect::Postgres, "postgres", r)
    } else if let Some(r) = rest
        .strip_prefix("mysql://")
        .or_else(|| rest.strip_prefix("mariadb://"))
    {
        (Dialect::MySql, "mysql", r)
    } else if let Some(r) = rest.strip_prefix("sqlite:") {
        let path = r.trim_start_matches("//");
        let url = if path == ":memory:" {
            "sqlite::memory:".to_string()
        } else {
            format!("sqlite://{path}?mode=rwc")
        };
        return Ok(Target {
            dialect: Dialect::Sqlite,
            display: format!("sqlite:{path}"),
            url,
        });
    } else {
        return Err(format!(
            "connection.url {raw:?} is not a JDBC URL sluice supports: use jdbc:postgresql://host:port/db, jdbc:mysql://host:port/db (or jdbc:mariadb://) or jdbc:sqlite:/path/file.db"
        ));
    };
    let (hostpath, query) = after.split_once('?').unwrap_or((after, ""));
    let (mut url_user, mut url_password, hostpath) = match hostpath.rsplit_once('@') {
        Some((cred, hp)) => match cred.split_once(':') {
            Some((u, p)) => (Some(u.to_string()), Some(p.to_string()), hp),
            None => (Some(cred.to_string()), None, hp),
        },
        None => (None, None, hostpath),
    };
    let mut params = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("user", v)) => url_user = Some(v.to_string()),
            Some(("password", v)) => url_password = Some(v.to_string()),
            _ => params.push(pair.to_string()),
        }
    }
    if !hostpath.contains('/') {
        return Err(format!(
            "connection.url {raw:?} names no database (…/dbname)"
        ));
    }
    let user = user.map(str::to_string).or(url_user);
    let password = password.map(str::to_string).or(url_password);
    let cred = match (&user, &password) {
        (Some(u), Some(p)) => format!("{}:{}@", encode(u), encode(p)),
        (Some(u), None) => format!("{}@", encode(u)),
        _ => String::new(),
    };
    // JDBC-only parameters (sslmode names differ, driver options) are not passed on
    let _ = params;
    Ok(Target {
        dialect,
        url: format!("{scheme}://{cred}{hostpath}"),
        display: format!("{scheme}://{hostpath}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jdbc_urls_become_sqlx_urls() {
        let t = parse(
            "jdbc:postgresql://db:5432/app?user=u&password=p w",
            None,
            None,
        )
        .unwrap();
        assert_eq!(t.dialect, Dialect::Postgres);
        assert_eq!(t.url, "postgres://u:p%20w@db:5432/app");
        assert_eq!(t.display, "postgres://db:5432/app");
        let t = parse("jdbc:mariadb://db/app", Some("cdc"), Some("s3cret")).unwrap();
        assert_eq!(
            (t.dialect, t.url.as_str()),
            (Dialect::MySql, "mysql://cdc:s3cret@db/app")
        );
        let t = parse("jdbc:sqlite:/tmp/x.db", None, None).unwrap();
        assert_eq!(
            (t.dialect, t.url.as_str()),
            (Dialect::Sqlite, "sqlite:///tmp/x.db?mode=rwc")
        );
        assert!(parse("jdbc:oracle:thin:@db:1521/x", None, None).is_err());
        assert!(parse("jdbc:postgresql://db:5432", None, None)
            .unwrap_err()
            .contains("database"));
    }
}
