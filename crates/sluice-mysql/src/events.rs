//! Raw binlog event bodies that sluice parses itself.
//!
//! mysql_common frames events, verifies checksums and parses table maps; it does not know the
//! MariaDB event types (GTID 162, GTID_LIST 163, BINLOG_CHECKPOINT 161, ANNOTATE_ROWS 160,
//! compressed query/rows events 165–171). Rows events are parsed here for every variant (v1, v2,
//! MariaDB compressed) so one code path serves them all: a compressed rows event has the same
//! header and column bitmaps, and only its row images are zlib-compressed behind a small header
//! (`0x80 | len_bytes`, then the uncompressed length big-endian, then the zlib stream).

use std::io::Read;

/// Event type codes used here.
pub mod kind {
    pub const QUERY: u8 = 2;
    pub const ROTATE: u8 = 4;
    pub const FORMAT_DESCRIPTION: u8 = 15;
    pub const XID: u8 = 16;
    pub const TABLE_MAP: u8 = 19;
    pub const WRITE_ROWS_V1: u8 = 23;
    pub const UPDATE_ROWS_V1: u8 = 24;
    pub const DELETE_ROWS_V1: u8 = 25;
    pub const HEARTBEAT: u8 = 27;
    pub const ROWS_QUERY: u8 = 29;
    pub const WRITE_ROWS_V2: u8 = 30;
    pub const UPDATE_ROWS_V2: u8 = 31;
    pub const DELETE_ROWS_V2: u8 = 32;
    pub const MYSQL_GTID: u8 = 33;
    pub const MYSQL_ANONYMOUS_GTID: u8 = 34;
    pub const TRANSACTION_PAYLOAD: u8 = 40;
    pub const PARTIAL_UPDATE_ROWS: u8 = 39;
    pub const MARIADB_ANNOTATE_ROWS: u8 = 160;
    pub const MARIADB_BINLOG_CHECKPOINT: u8 = 161;
    pub const MARIADB_GTID: u8 = 162;
    pub const MARIADB_GTID_LIST: u8 = 163;
    pub const MARIADB_START_ENCRYPTION: u8 = 164;
    pub const MARIADB_QUERY_COMPRESSED: u8 = 165;
    pub const MARIADB_WRITE_ROWS_COMPRESSED_V1: u8 = 166;
    pub const MARIADB_DELETE_ROWS_COMPRESSED: u8 = 171;
}

/// What a rows event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowsKind {
    Write,
    Update,
    Delete,
}

/// Classifies a rows event type: `(kind, is_v2, is_compressed)`.
pub fn rows_kind(event_type: u8) -> Option<(RowsKind, bool, bool)> {
    use kind::*;
    Some(match event_type {
        WRITE_ROWS_V1 => (RowsKind::Write, false, false),
        UPDATE_ROWS_V1 => (RowsKind::Update, false, false),
        DELETE_ROWS_V1 => (RowsKind::Delete, false, false),
        WRITE_ROWS_V2 => (RowsKind::Write, true, false),
        UPDATE_ROWS_V2 => (RowsKind::Update, true, false),
        DELETE_ROWS_V2 => (RowsKind::Delete, true, false),
        166 => (RowsKind::Write, false, true),
        167 => (RowsKind::Update, false, true),
        168 => (RowsKind::Delete, false, true),
        169 => (RowsKind::Write, true, true),
        170 => (RowsKind::Update, true, true),
        171 => (RowsKind::Delete, true, true),
        _ => return None,
    })
}

/// A parsed rows event: header fields, column bitmaps and the (decompressed) row images.
#[derive(Debug)]
pub struct RowsEvent<'a> {
    pub kind: RowsKind,
    pub table_id: u64,
    pub column_count: usize,
    /// Columns present in the before image (delete/update) or the only image (write).
    pub present: Vec<bool>,
    /// Columns present in the after image of an update.
    pub present_after: Vec<bool>,
    pub rows: std::borrow::Cow<'a, [u8]>,
}

/// Reads a length-encoded integer.
pub fn lenenc(buf: &mut &[u8]) -> Result<u64, String> {
    let first = take(buf, 1)?[0];
    Ok(match first {
        0..=250 => u64::from(first),
        0xfc => u64::from(u16::from_le_bytes(
            take(buf, 2)?.try_into().unwrap_or([0; 2]),
        )),
        0xfd => {
            let b = take(buf, 3)?;
            u64::from(b[0]) | u64::from(b[1]) << 8 | u64::from(b[2]) << 16
        }
        0xfe => u64::from_le_bytes(take(buf, 8)?.try_into().unwrap_or([0; 8])),
        _ => return Err(format!("invalid length-encoded integer prefix {first:#x}")),
    })
}

/// Takes `n` bytes from the front of `buf`.
pub fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if buf.len() < n {
        return Err(format!(
            "event truncated: needed {n} bytes, {} left",
            buf.len()
        ));
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn bitmap(buf: &mut &[u8], n: usize) -> Result<Vec<bool>, String> {
    let bytes = take(buf, n.div_ceil(8))?;
    Ok((0..n).map(|i| bytes[i / 8] & (1 << (i % 8)) != 0).collect())
}

impl<'a> RowsEvent<'a> {
    /// Parses the body (after the common header, without checksum) of a rows event of
    /// `event_type`.
    pub fn parse(event_type: u8, body: &'a [u8]) -> Result<RowsEvent<'a>, String> {
        let (kind, v2, compressed) = rows_kind(event_type)
            .ok_or_else(|| format!("event type {event_type} is not a rows event"))?;
        let mut buf = body;
        let id = take(&mut buf, 6)?;
        let table_id = u64::from_le_bytes([id[0], id[1], id[2], id[3], id[4], id[5], 0, 0]);
        take(&mut buf, 2)?; // flags
        if v2 {
            let extra = u16::from_le_bytes(take(&mut buf, 2)?.try_into().unwrap_or([0; 2]));
            take(&mut buf, usize::from(extra.saturating_sub(2)))?;
        }
        let column_count = usize::try_from(lenenc(&mut buf)?).map_err(|e| e.to_string())?;
        let present = bitmap(&mut buf, column_count)?;
        let present_after = if kind == RowsKind::Update {
            bitmap(&mut buf, column_count)?
        } else {
            present.clone()
        };
        let rows = if compressed {
            std::borrow::Cow::Owned(decompress(buf)?)
        } else {
            std::borrow::Cow::Borrowed(buf)
        };
        Ok(RowsEvent {
            kind,
            table_id,
            column_count,
            present,
            present_after,
            rows,
        })
    }
}

/// Decompresses a MariaDB compressed binlog payload.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, String> {
    let head = *data.first().ok_or("empty compressed payload")?;
    if head & 0x80 == 0 || (head >> 4) & 0x07 != 0 {
        return Err(format!(
            "unsupported compressed event header {head:#x} (only zlib is known); disable log_bin_compress or upgrade sluice"
        ));
    }
    let len_bytes = usize::from(head & 0x07);
    if len_bytes == 0 || len_bytes > 4 || data.len() < 1 + len_bytes {
        return Err("corrupt compressed event header".into());
    }
    let len = data[1..=len_bytes]
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    // The header's length is checked, not trusted for memory: zlib expands at most ~1032:1,
    // and the output stops one byte past the length (a stream that inflates further is corrupt).
    let mut out = Vec::with_capacity(len.min(data.len().saturating_mul(1032)));
    flate2::read::ZlibDecoder::new(&data[1 + len_bytes..])
        .take(len as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("zlib: {e}"))?;
    if out.len() != len {
        return Err(format!(
            "decompressed {} bytes, header says {len}",
            out.len()
        ));
    }
    Ok(out)
}

/// A QUERY (or MariaDB QUERY_COMPRESSED) event.
#[derive(Debug, Clone)]
pub struct QueryEvent {
    pub thread_id: u32,
    pub schema: String,
    /// The statement read as UTF-8 (exact for ASCII, the usual case).
    pub query: String,
    /// The statement's bytes when they are not all ASCII: they are in the character set of the
    /// client that ran it (`client_collation`), which may not be UTF-8.
    pub raw: Option<Vec<u8>>,
    /// The collation id of the client's `character_set_client` (status variable
    /// `Q_CHARSET_CODE`), when the event carries it.
    pub client_collation: Option<u16>,
}

impl QueryEvent {
    pub fn parse(event_type: u8, body: &[u8]) -> Result<QueryEvent, String> {
        let mut buf = body;
        let thread_id = u32::from_le_bytes(take(&mut buf, 4)?.try_into().unwrap_or([0; 4]));
        take(&mut buf, 4)?; // exec time
        let db_len = usize::from(take(&mut buf, 1)?[0]);
        take(&mut buf, 2)?; // error code
        let status_len = usize::from(u16::from_le_bytes(
            take(&mut buf, 2)?.try_into().unwrap_or([0; 2]),
        ));
        let status = take(&mut buf, status_len)?;
        let client_collation = client_collation(status);
        let schema = String::from_utf8_lossy(take(&mut buf, db_len)?).into_owned();
        take(&mut buf, 1)?; // NUL
        let bytes = if event_type == kind::MARIADB_QUERY_COMPRESSED {
            std::borrow::Cow::Owned(decompress(buf)?)
        } else {
            std::borrow::Cow::Borrowed(buf)
        };
        Ok(QueryEvent {
            thread_id,
            schema,
            query: String::from_utf8_lossy(&bytes).into_owned(),
            raw: (!bytes.is_ascii()).then(|| bytes.into_owned()),
            client_collation,
        })
    }
}

/// `character_set_client` (as a collation id) from a query event's status variables.
fn client_collation(status: &[u8]) -> Option<u16> {
    use mysql_common::binlog::events::{StatusVarVal, StatusVarsIterator};
    StatusVarsIterator::new(status).find_map(|var| match var.get_value() {
        Ok(StatusVarVal::Charset { charset_client, .. }) => Some(charset_client),
        _ => None,
    })
}

/// A MariaDB GTID event: `domain-server-seq`, and whether it is a standalone (DDL) group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MariaGtid {
    pub domain: u32,
    pub server: u32,
    pub seq: u64,
    pub standalone: bool,
}

impl MariaGtid {
    pub fn parse(body: &[u8], server_id: u32) -> Result<MariaGtid, String> {
        let mut buf = body;
        let seq = u64::from_le_bytes(take(&mut buf, 8)?.try_into().unwrap_or([0; 8]));
        let domain = u32::from_le_bytes(take(&mut buf, 4)?.try_into().unwrap_or([0; 4]));
        let flags = take(&mut buf, 1)?[0];
        Ok(MariaGtid {
            domain,
            server: server_id,
            seq,
            standalone: flags & 0x01 != 0,
        })
    }
}

impl std::fmt::Display for MariaGtid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

/// A MariaDB GTID_LIST event: the binlog state at the start of a file.
pub fn parse_gtid_list(body: &[u8]) -> Result<Vec<MariaGtid>, String> {
    let mut buf = body;
    let count = u32::from_le_bytes(take(&mut buf, 4)?.try_into().unwrap_or([0; 4])) & 0x0fff_ffff;
    (0..count)
        .map(|_| {
            let domain = u32::from_le_bytes(take(&mut buf, 4)?.try_into().unwrap_or([0; 4]));
            let server = u32::from_le_bytes(take(&mut buf, 4)?.try_into().unwrap_or([0; 4]));
            let seq = u64::from_le_bytes(take(&mut buf, 8)?.try_into().unwrap_or([0; 8]));
            Ok(MariaGtid {
                domain,
                server,
                seq,
                standalone: false,
            })
        })
        .collect()
}

/// A MySQL GTID event as `uuid:gno`.
pub fn parse_mysql_gtid(body: &[u8]) -> Result<(String, u64), String> {
    let mut buf = body;
    take(&mut buf, 1)?; // flags
    let sid = take(&mut buf, 16)?;
    let gno = u64::from_le_bytes(take(&mut buf, 8)?.try_into().unwrap_or([0; 8]));
    let h: Vec<String> = sid.iter().map(|b| format!("{b:02x}")).collect();
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    );
    Ok((uuid, gno))
}

/// Header flag of events the server makes up for the dump (the first ROTATE, a repeated
/// FORMAT_DESCRIPTION): they are not in the binlog at their position.
pub const LOG_EVENT_ARTIFICIAL: u16 = 0x20;

/// The target of a ROTATE event as the stream delivers it (header rebuilt for the CRC check).
pub fn rotate_target(ev: &mysql_common::binlog::events::Event) -> Result<(String, u64), String> {
    let h = ev.header();
    let mut raw = [0u8; 19];
    raw[0..4].copy_from_slice(&h.timestamp().to_le_bytes());
    raw[4] = h.event_type_raw();
    raw[5..9].copy_from_slice(&h.server_id().to_le_bytes());
    raw[9..13].copy_from_slice(&h.event_size().to_le_bytes());
    raw[13..17].copy_from_slice(&h.log_pos().to_le_bytes());
    raw[17..19].copy_from_slice(&h.flags_raw().to_le_bytes());
    parse_rotate(&raw, ev.data())
}

/// A ROTATE event: next position and file name. `header` is the event's 19-byte common header:
/// the fake ROTATE the server sends before the FORMAT_DESCRIPTION still carries a 4-byte CRC32
/// (the reader does not know the checksum algorithm yet), which is stripped when it verifies.
pub fn parse_rotate(header: &[u8; 19], body: &[u8]) -> Result<(String, u64), String> {
    let mut buf = body;
    let pos = u64::from_le_bytes(take(&mut buf, 8)?.try_into().unwrap_or([0; 8]));
    let mut name = buf;
    if name.len() > 4 {
        let (text, crc) = name.split_at(name.len() - 4);
        let mut h = crc32fast::Hasher::new();
        h.update(header);
        h.update(&body[..body.len() - 4]);
        if h.finalize().to_le_bytes() == crc {
            name = text;
        }
    }
    Ok((String::from_utf8_lossy(name).into_owned(), pos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn mariadb_gtid_and_list() {
        let mut body = 42u64.to_le_bytes().to_vec();
        body.extend_from_slice(&7u32.to_le_bytes());
        body.push(1);
        let g = MariaGtid::parse(&body, 3).unwrap();
        assert_eq!(g.to_string(), "7-3-42");
        assert!(g.standalone);

        let mut list = 2u32.to_le_bytes().to_vec();
        for (d, s, n) in [(0u32, 1u32, 10u64), (1, 2, 5)] {
            list.extend_from_slice(&d.to_le_bytes());
            list.extend_from_slice(&s.to_le_bytes());
            list.extend_from_slice(&n.to_le_bytes());
        }
        let l = parse_gtid_list(&list).unwrap();
        assert_eq!(
            l.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
            ["0-1-10", "1-2-5"]
        );
    }

    #[test]
    fn compressed_payload_round_trip_and_errors() {
        let raw = b"row images row images row images".repeat(10);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&raw).unwrap();
        let mut data = vec![0x82, (raw.len() >> 8) as u8, raw.len() as u8];
        data.extend(z.finish().unwrap());
        assert_eq!(decompress(&data).unwrap(), raw);
        assert!(decompress(&[0x12, 0])
            .unwrap_err()
            .contains("log_bin_compress"));
    }

    #[test]
    fn a_compressed_length_beyond_the_payload_is_an_error_not_an_allocation() {
        let raw = b"row images".repeat(100);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&raw).unwrap();
        let stream = z.finish().unwrap();
        // 4 GiB claimed for a few bytes: no 4 GiB buffer, a length mismatch
        let mut data = vec![0x84, 0xff, 0xff, 0xff, 0xff];
        data.extend(&stream);
        let e = decompress(&data).unwrap_err();
        assert!(e.contains("header says 4294967295"), "{e}");
        // less claimed than the stream holds: inflating stops right past the claim
        let mut data = vec![0x81, 10];
        data.extend(&stream);
        let e = decompress(&data).unwrap_err();
        assert!(e.contains("decompressed 11 bytes, header says 10"), "{e}");
        // and the rows event carrying it says so
        let mut body = vec![1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff];
        body.extend([0x84, 0xff, 0xff, 0xff, 0xff]);
        body.extend(&stream);
        assert!(RowsEvent::parse(166, &body).is_err());
    }

    #[test]
    fn a_query_event_keeps_non_ascii_bytes_and_the_clients_character_set() {
        let query = b"CREATE TABLE t (e ENUM('caf\xe9'))";
        // status: Q_FLAGS2_CODE (4 bytes), Q_CHARSET_CODE (client 8 = latin1_swedish_ci,
        // connection 8, server 45)
        let status = [0u8, 0, 0, 0, 0, 4, 8, 0, 8, 0, 45, 0];
        let mut body = vec![7, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0];
        body.extend((status.len() as u16).to_le_bytes());
        body.extend(status);
        body.extend(b"app\0");
        body.extend(query);
        let q = QueryEvent::parse(kind::QUERY, &body).unwrap();
        assert_eq!((q.thread_id, q.schema.as_str()), (7, "app"));
        assert_eq!(q.client_collation, Some(8));
        assert_eq!(q.raw.as_deref(), Some(&query[..]));
        assert!(q.query.ends_with("'caf\u{fffd}'))"), "{}", q.query);
        // ASCII reads the same in every client character set: no copy kept
        let mut ascii = body[..body.len() - query.len()].to_vec();
        ascii.extend(b"BEGIN");
        let q = QueryEvent::parse(kind::QUERY, &ascii).unwrap();
        assert_eq!((q.query.as_str(), q.raw), ("BEGIN", None));
    }

    #[test]
    fn fake_rotate_checksum_is_stripped_only_when_it_verifies() {
        let header = [0u8; 19];
        let mut body = 4u64.to_le_bytes().to_vec();
        body.extend_from_slice(b"mysql-bin.000001");
        let (name, pos) = parse_rotate(&header, &body).unwrap();
        assert_eq!((name.as_str(), pos), ("mysql-bin.000001", 4));
        let mut h = crc32fast::Hasher::new();
        h.update(&header);
        h.update(&body);
        body.extend_from_slice(&h.finalize().to_le_bytes());
        assert_eq!(parse_rotate(&header, &body).unwrap().0, "mysql-bin.000001");
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        assert!(RowsEvent::parse(kind::WRITE_ROWS_V1, &[1, 2, 3]).is_err());
        assert!(QueryEvent::parse(kind::QUERY, &[0; 5]).is_err());
        assert!(lenenc(&mut &[0xfe, 1][..]).is_err());
    }
}
