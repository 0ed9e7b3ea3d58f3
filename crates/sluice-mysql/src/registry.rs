//! The tables a running connector knows: definitions, their Connect schemas, and the codecs of
//! the binlog table ids currently mapped to them.
//!
//! Invariant: every change of a definition is appended to the schema history (fsynced) before any
//! event decoded with it can be acknowledged, so the history is never behind the offsets.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use mysql_async::Conn;
use mysql_common::binlog::events::TableMapEvent;
use sluice_core::Schema;
use tracing::{info, warn};

use crate::catalog;
use crate::charset::{Charset, Defaults};
use crate::config::{MySqlConfig, SnapshotMode};
use crate::ddl::{self, DdlChange};
use crate::decode::{self, ColCodec};
use crate::error::MySqlError;
use crate::events::QueryEvent;
use crate::history::{cmp_position, HistoryRecord, SchemaHistory};
use crate::mapping::{source_schema, TableSchemas};
use crate::table::{TableDef, TableId};

/// Where the table definitions of a start come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// First start without offset: history if it covers the position, else the catalog.
    Fresh,
    /// Resuming from an offset: history; losing it is reported loudly.
    Resume,
    /// A snapshot starts: the catalog, recorded as a new baseline at its position.
    Rebuild,
}

/// What a binlog table id stands for.
#[derive(Debug, Clone)]
pub enum Mapped {
    Ignored,
    Captured {
        id: TableId,
        codecs: Arc<Vec<ColCodec>>,
    },
}

pub struct TableRegistry {
    cfg: MySqlConfig,
    mariadb: bool,
    source: Arc<Schema>,
    tables: BTreeMap<TableId, Arc<TableSchemas>>,
    by_table_id: HashMap<u64, Mapped>,
    history: SchemaHistory,
    /// Database and server default character sets, for CREATE TABLE statements that name none:
    /// read from the catalog at start, then kept current by CREATE/ALTER/DROP DATABASE.
    charsets: Defaults,
    /// Collation id → character set, from the server (`information_schema.COLLATIONS`): the
    /// character set of the client that ran a DDL statement, which the statement's bytes are in.
    collations: HashMap<u16, String>,
    /// Position after the last DDL applied: after a reconnect the stream may read a DDL again
    /// (it resumes from the last position handed over), which must not be applied twice.
    ddl_applied_upto: Option<(String, u64)>,
}

impl TableRegistry {
    /// Builds the registry for a start at (`file`, `pos`): from history when it covers that
    /// position, else from the live catalog (recorded as a new baseline).
    pub async fn open(
        cfg: &MySqlConfig,
        mariadb: bool,
        history: SchemaHistory,
        conn: &mut Conn,
        file: &str,
        pos: u64,
        baseline: Baseline,
    ) -> Result<TableRegistry, MySqlError> {
        let mut reg = TableRegistry {
            cfg: cfg.clone(),
            mariadb,
            source: source_schema(cfg.connector),
            tables: BTreeMap::new(),
            by_table_id: HashMap::new(),
            history,
            charsets: catalog::charset_defaults(conn).await?,
            collations: catalog::collation_charsets(conn).await?,
            ddl_applied_upto: None,
        };
        let state = match baseline {
            Baseline::Rebuild => None,
            Baseline::Fresh | Baseline::Resume => reg.history.state_at(file, pos),
        };
        if state.is_some() {
            reg.charsets_from_history(file, pos);
        }
        match state {
            Some(state) => {
                info!(
                    tables = state.len(),
                    file, pos, "table definitions restored from schema history"
                );
                for def in state
                    .values()
                    .filter(|d| cfg.filters.table(&d.id.db, &d.id.table))
                {
                    reg.define(def)?;
                }
            }
            None => {
                if baseline == Baseline::Resume {
                    if cfg.snapshot_mode != SnapshotMode::Recovery {
                        return Err(MySqlError::History(format!(
                            "the schema history ({}) has no table definitions for the stored offset {file}:{pos}; \
                             sluice will not guess them (rows could be decoded with the wrong columns). Restore the \
                             history, or restart once with snapshot.mode=recovery to rebuild it from the live database \
                             (correct if no DDL ran since that offset), or reset the offsets to take a new snapshot",
                            reg.history.location()
                        )));
                    }
                    warn!(
                        history = %reg.history.location(),
                        "SCHEMA HISTORY REBUILT (snapshot.mode=recovery) from the live database at the stored offset: \
                         rows written before a later DDL would be decoded with today's definitions"
                    );
                }
                let defs = catalog::load(conn, &cfg.filters, None, mariadb).await?;
                info!(
                    tables = defs.len(),
                    "table definitions loaded from information_schema"
                );
                for def in &defs {
                    reg.define(def)?;
                }
                reg.history.append(HistoryRecord {
                    file: file.to_string(),
                    pos,
                    baseline: true,
                    ddl: None,
                    tables: defs,
                    dropped: Vec::new(),
                    db: None,
                    charsets: Some(reg.charsets.clone()),
                })?;
            }
        }
        Ok(reg)
    }

    /// The database default character sets in force at (`file`, `pos`): the baseline's, then
    /// the database statements recorded after it (the live server's when the baseline predates
    /// sluice keeping them).
    fn charsets_from_history(&mut self, file: &str, pos: u64) {
        let Some((base, statements)) = self.history.charsets_at(file, pos) else {
            return;
        };
        let mut defaults = base.cloned().unwrap_or_else(|| self.charsets.clone());
        for (db, sql) in statements {
            for change in ddl::interpret(db, sql, self.mariadb, &|_| None, &defaults) {
                if let DdlChange::DatabaseCharset(name, charset) = change {
                    defaults.set_database(&name, charset);
                }
            }
        }
        self.charsets = defaults;
    }

    pub fn source_schema(&self) -> &Arc<Schema> {
        &self.source
    }

    /// Captured tables, in name order (the snapshot order).
    pub fn captured(&self) -> Vec<Arc<TableSchemas>> {
        self.tables
            .values()
            .filter(|t| self.cfg.filters.table(&t.def.id.db, &t.def.id.table))
            .cloned()
            .collect()
    }

    /// Is this the connector's signal table (`signal.data.collection`)?
    pub fn is_signal(&self, id: &TableId) -> bool {
        self.cfg.signal_table.as_ref() == Some(id)
    }

    /// A captured table by its `db.table` name.
    pub fn captured_by_name(&self, name: &str) -> Option<Arc<TableSchemas>> {
        self.tables
            .values()
            .find(|t| {
                t.def.id.to_string() == name
                    && self.cfg.filters.table(&t.def.id.db, &t.def.id.table)
            })
            .cloned()
    }

    fn define(&mut self, def: &TableDef) -> Result<(), MySqlError> {
        let schemas = TableSchemas::build(def, &self.cfg, &self.source)?;
        self.tables.insert(def.id.clone(), Arc::new(schemas));
        self.by_table_id
            .retain(|_, m| !matches!(m, Mapped::Captured { id, .. } if id == &def.id));
        Ok(())
    }

    fn drop_table(&mut self, id: &TableId) {
        self.tables.remove(id);
        self.by_table_id
            .retain(|_, m| !matches!(m, Mapped::Captured { id: t, .. } if t == id));
    }

    pub fn schemas(&self, id: &TableId) -> Option<&Arc<TableSchemas>> {
        self.tables.get(id)
    }

    /// Resolves a table map; loads an unknown captured table from the catalog (recorded in
    /// history at `at`), and re-reads a table whose column count disagrees with the binlog.
    pub async fn map(
        &mut self,
        tme: &TableMapEvent<'_>,
        conn: &mut Conn,
        at: (&str, u64),
    ) -> Result<Mapped, MySqlError> {
        let table_id = tme.table_id();
        if let Some(m) = self.by_table_id.get(&table_id) {
            return Ok(m.clone());
        }
        let id = TableId::new(
            tme.database_name().into_owned(),
            tme.table_name().into_owned(),
        );
        if !self.cfg.filters.table(&id.db, &id.table) && !self.is_signal(&id) {
            self.by_table_id.insert(table_id, Mapped::Ignored);
            return Ok(Mapped::Ignored);
        }
        for attempt in 0..2 {
            if attempt == 1 || !self.tables.contains_key(&id) {
                if !self.is_signal(&id) || attempt == 1 {
                    warn!(table = %id, "table definition re-read from information_schema (not in history or disagrees with the binlog)");
                }
                match catalog::load_one(conn, &id, self.mariadb).await? {
                    Some(def) => {
                        self.define(&def)?;
                        self.record(at, "", None, vec![def], Vec::new())?;
                    }
                    None => {
                        return Err(MySqlError::Decode {
                            file: at.0.to_string(),
                            pos: at.1,
                            message: format!("table {id} is in the binlog but no longer exists and is not in the schema history"),
                        })
                    }
                }
            }
            let Some(schemas) = self.tables.get(&id) else {
                continue;
            };
            match decode::codecs(tme, schemas) {
                Ok(codecs) => {
                    let m = Mapped::Captured {
                        id: id.clone(),
                        codecs: Arc::new(codecs),
                    };
                    self.by_table_id.insert(table_id, m.clone());
                    return Ok(m);
                }
                Err(e) if attempt == 0 => {
                    warn!(table = %id, error = %e, "binlog and tracked definition disagree")
                }
                Err(e) => {
                    return Err(MySqlError::Decode {
                        file: at.0.to_string(),
                        pos: at.1,
                        message: e,
                    })
                }
            }
        }
        Err(MySqlError::Decode {
            file: at.0.to_string(),
            pos: at.1,
            message: format!("no definition for {id}"),
        })
    }

    /// The text of a statement, decoded with the character set of the client that ran it (a
    /// `latin1` client's `ENUM('café')` is not UTF-8); the UTF-8 reading when that is unknown.
    pub fn statement_text<'a>(&self, q: &'a QueryEvent) -> std::borrow::Cow<'a, str> {
        let client = q
            .client_collation
            .and_then(|id| self.collations.get(&id))
            .and_then(|name| Charset::by_name(name).ok());
        match (&q.raw, client) {
            (Some(raw), Some(cs)) if cs != Charset::Utf8 => cs.decode(raw).into_owned().into(),
            _ => q.query.as_str().into(),
        }
    }

    /// Applies a DDL statement found at a binlog position; `after` is the position after it.
    pub async fn apply_ddl(
        &mut self,
        db: &str,
        sql: &str,
        conn: &mut Conn,
        after: (&str, u64),
    ) -> Result<(), MySqlError> {
        if let Some((f, p)) = &self.ddl_applied_upto {
            if cmp_position(after.0, after.1, f, *p).is_le() {
                return Ok(()); // read again after a reconnect; already applied
            }
        }
        self.ddl_applied_upto = Some((after.0.to_string(), after.1));
        let current = |id: &TableId| self.tables.get(id).map(|s| s.def.clone());
        let changes = ddl::interpret(db, sql, self.mariadb, &current, &self.charsets);
        let mut defined = Vec::new();
        let mut dropped = Vec::new();
        let mut database_changed = false;
        for change in changes {
            match change {
                DdlChange::Define(def) if self.cfg.filters.table(&def.id.db, &def.id.table) => {
                    self.define(&def)?;
                    defined.push(def);
                }
                DdlChange::DatabaseCharset(db, charset) => {
                    self.charsets.set_database(&db, charset);
                    database_changed = true;
                }
                DdlChange::Drop(id) if self.tables.contains_key(&id) => {
                    self.drop_table(&id);
                    dropped.push(id);
                }
                DdlChange::Reload(id, why) if self.cfg.filters.table(&id.db, &id.table) => {
                    warn!(table = %id, reason = %why, "DDL not applied by sluice's parser; re-reading the table from information_schema");
                    match catalog::load_one(conn, &id, self.mariadb).await? {
                        Some(def) => {
                            self.define(&def)?;
                            defined.push(def);
                        }
                        None => {
                            self.drop_table(&id);
                            dropped.push(id);
                        }
                    }
                }
                _ => {}
            }
        }
        if !defined.is_empty() || !dropped.is_empty() || database_changed {
            info!(
                changed = defined.len(),
                dropped = dropped.len(),
                file = after.0,
                pos = after.1,
                "schema change recorded"
            );
            self.record(after, db, Some(sql.to_string()), defined, dropped)?;
            sluice_core::failpoint::crash_point("ddl-recorded");
        }
        Ok(())
    }

    fn record(
        &mut self,
        at: (&str, u64),
        db: &str,
        ddl: Option<String>,
        tables: Vec<TableDef>,
        dropped: Vec<TableId>,
    ) -> Result<(), MySqlError> {
        self.history.append(HistoryRecord {
            file: at.0.to_string(),
            pos: at.1,
            baseline: false,
            ddl,
            tables,
            dropped,
            db: (!db.is_empty()).then(|| db.to_string()),
            charsets: None,
        })
    }
}
