//! Decoding pgoutput messages (protocol version 1, text values): Relation, Type, Insert,
//! Update, Delete, Truncate, Origin. Begin and Commit are parsed by the transport
//! (`pgwire-replication`). A tuple keeps pgoutput's `u` marker (an unchanged TOASTed value the
//! server did not send) as [`Cell::Unchanged`].

use crate::envelope::Cell;

/// A column of a Relation message.
#[derive(Debug, Clone, PartialEq)]
pub struct RelColumn {
    /// Part of the replica identity key.
    pub key: bool,
    pub name: String,
    pub type_oid: u32,
    pub typmod: i32,
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Relation {
        id: u32,
        namespace: String,
        name: String,
        /// `relreplident`: d(efault), n(othing), f(ull), i(ndex).
        replica_identity: u8,
        columns: Vec<RelColumn>,
    },
    Insert {
        rel: u32,
        new: Vec<Cell>,
    },
    Update {
        rel: u32,
        /// The old key (`K`) or old row (`O`, REPLICA IDENTITY FULL), if sent.
        old: Option<(u8, Vec<Cell>)>,
        new: Vec<Cell>,
    },
    Delete {
        rel: u32,
        old: (u8, Vec<Cell>),
    },
    Truncate {
        rels: Vec<u32>,
    },
    /// Type, Origin, and anything this decoder skips.
    Other(u8),
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| format!("pgoutput message truncated at byte {}", self.at))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().unwrap_or_default(),
        ))
    }
    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    fn cstr(&mut self) -> Result<String, String> {
        let rest = &self.b[self.at..];
        let n = rest
            .iter()
            .position(|&c| c == 0)
            .ok_or("pgoutput string without terminator")?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.at += n + 1;
        Ok(s)
    }
    fn tuple(&mut self) -> Result<Vec<Cell>, String> {
        let n = self.i16()?.max(0) as usize;
        let mut cells = Vec::with_capacity(n);
        for _ in 0..n {
            cells.push(match self.u8()? {
                b'n' => Cell::Null,
                b'u' => Cell::Unchanged,
                b't' => {
                    let len = self.i32()?.max(0) as usize;
                    Cell::Text(String::from_utf8_lossy(self.take(len)?).into_owned())
                }
                b'b' => return Err("binary tuple data is not used by sluice (binary=false)".into()),
                k => return Err(format!("unknown tuple cell kind {:?}", k as char)),
            });
        }
        Ok(cells)
    }
}

/// Decodes one pgoutput message.
pub fn decode(data: &[u8]) -> Result<Message, String> {
    let mut r = Reader { b: data, at: 0 };
    let tag = r.u8()?;
    Ok(match tag {
        b'R' => {
            let id = r.i32()? as u32;
            let namespace = r.cstr()?;
            let name = r.cstr()?;
            let replica_identity = r.u8()?;
            let n = r.i16()?.max(0) as usize;
            let mut columns = Vec::with_capacity(n);
            for _ in 0..n {
                let flags = r.u8()?;
                columns.push(RelColumn {
                    key: flags & 1 == 1,
                    name: r.cstr()?,
                    type_oid: r.i32()? as u32,
                    typmod: r.i32()?,
                });
            }
            Message::Relation {
                id,
                namespace,
                name,
                replica_identity,
                columns,
            }
        }
        b'I' => {
            let rel = r.i32()? as u32;
            if r.u8()? != b'N' {
                return Err("Insert without a new tuple".into());
            }
            Message::Insert {
                rel,
                new: r.tuple()?,
            }
        }
        b'U' => {
            let rel = r.i32()? as u32;
            let mut kind = r.u8()?;
            let mut old = None;
            if kind == b'K' || kind == b'O' {
                old = Some((kind, r.tuple()?));
                kind = r.u8()?;
            }
            if kind != b'N' {
                return Err("Update without a new tuple".into());
            }
            Message::Update {
                rel,
                old,
                new: r.tuple()?,
            }
        }
        b'D' => {
            let rel = r.i32()? as u32;
            let kind = r.u8()?;
            Message::Delete {
                rel,
                old: (kind, r.tuple()?),
            }
        }
        b'T' => {
            let n = r.i32()?.max(0) as usize;
            let _options = r.u8()?;
            // the count is not trusted for memory: each relation id takes 4 bytes of the message
            let mut rels = Vec::with_capacity(n.min(r.b.len().saturating_sub(r.at) / 4));
            for _ in 0..n {
                rels.push(r.i32()? as u32);
            }
            Message::Truncate { rels }
        }
        other => Message::Other(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(cells: &[Option<&str>]) -> Vec<u8> {
        let mut v = (cells.len() as i16).to_be_bytes().to_vec();
        for c in cells {
            match c {
                None => v.push(b'n'),
                Some("\u{0}u") => v.push(b'u'),
                Some(t) => {
                    v.push(b't');
                    v.extend_from_slice(&(t.len() as i32).to_be_bytes());
                    v.extend_from_slice(t.as_bytes());
                }
            }
        }
        v
    }

    #[test]
    fn relation_and_changes_decode() {
        let mut rel = vec![b'R'];
        rel.extend_from_slice(&16384i32.to_be_bytes());
        rel.extend_from_slice(b"public\0t\0d");
        rel.extend_from_slice(&1i16.to_be_bytes());
        rel.push(1);
        rel.extend_from_slice(b"id\0");
        rel.extend_from_slice(&23i32.to_be_bytes());
        rel.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            decode(&rel).unwrap(),
            Message::Relation {
                id: 16384,
                namespace: "public".into(),
                name: "t".into(),
                replica_identity: b'd',
                columns: vec![RelColumn {
                    key: true,
                    name: "id".into(),
                    type_oid: 23,
                    typmod: -1
                }],
            }
        );
        let mut upd = vec![b'U'];
        upd.extend_from_slice(&16384i32.to_be_bytes());
        upd.push(b'K');
        upd.extend(tuple(&[Some("1"), None]));
        upd.push(b'N');
        upd.extend(tuple(&[Some("2"), Some("\u{0}u")]));
        assert_eq!(
            decode(&upd).unwrap(),
            Message::Update {
                rel: 16384,
                old: Some((b'K', vec![Cell::Text("1".into()), Cell::Null])),
                new: vec![Cell::Text("2".into()), Cell::Unchanged],
            }
        );
        assert!(
            decode(&upd[..upd.len() - 3]).is_err(),
            "truncated input is an error"
        );
    }

    #[test]
    fn a_truncate_claiming_two_billion_relations_is_an_error_not_an_allocation() {
        let mut t = vec![b'T'];
        t.extend_from_slice(&i32::MAX.to_be_bytes());
        t.push(0);
        t.extend_from_slice(&16384i32.to_be_bytes());
        let e = decode(&t).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let mut t = vec![b'T'];
        t.extend_from_slice(&2i32.to_be_bytes());
        t.push(0);
        t.extend_from_slice(&16384i32.to_be_bytes());
        t.extend_from_slice(&16385i32.to_be_bytes());
        assert_eq!(
            decode(&t).unwrap(),
            Message::Truncate {
                rels: vec![16384, 16385]
            }
        );
    }
}
