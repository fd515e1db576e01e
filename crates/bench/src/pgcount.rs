//! A TCP relay between the server nodes and PostgreSQL that counts what the nodes ask of the database:
//! statements (the extended protocol's `Execute` and the simple `Query`) and round trips (`Sync` and `Query`,
//! each of which waits for the server's `ReadyForQuery`). The figures that size a database.
//!
//! It reads the frontend's messages as the PostgreSQL protocol (v3) frames them: the start-up message (a
//! length, no type byte), then a type byte and a length for each message. The connection must not use TLS
//! (`sslmode=disable`), or the relay would see only ciphertext.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Counters shared by every relayed connection.
#[derive(Debug, Default)]
pub struct Counts {
    statements: AtomicU64,
    round_trips: AtomicU64,
}

/// A snapshot of [`Counts`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Statements executed.
    pub statements: u64,
    /// Waits for the database's answer.
    pub round_trips: u64,
}

impl std::ops::Sub for Snapshot {
    type Output = Snapshot;
    fn sub(self, rhs: Snapshot) -> Snapshot {
        Snapshot { statements: self.statements - rhs.statements, round_trips: self.round_trips - rhs.round_trips }
    }
}

/// The running relay.
pub struct PgCounter {
    /// `127.0.0.1:PORT` to connect to instead of the database.
    pub addr: std::net::SocketAddr,
    counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

impl PgCounter {
    /// Relays connections on a fresh local port to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> anyhow::Result<PgCounter> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (c, upstream) = (c.clone(), upstream.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        let _ = relay(client, server, &c).await;
                    }
                });
            }
        });
        Ok(PgCounter { addr, counts, task })
    }

    /// The counts so far.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            statements: self.counts.statements.load(Ordering::Relaxed),
            round_trips: self.counts.round_trips.load(Ordering::Relaxed),
        }
    }
}

impl Drop for PgCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, counts: &Counts) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let back = tokio::spawn(async move { tokio::io::copy(&mut server_rx, &mut client_tx).await });
    let mut parser = Frontend::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = client_rx.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        parser.feed(&buf[..n], counts);
        server_tx.write_all(&buf[..n]).await?;
    }
    back.abort();
    Ok(())
}

/// Where the parser is in the frontend's byte stream.
#[derive(Default)]
struct Frontend {
    started: bool,
    /// Bytes of the current message's header read so far (type + length, or the start-up length).
    header: Vec<u8>,
    /// Bytes of the current message's body still to skip.
    skip: usize,
}

impl Frontend {
    fn feed(&mut self, mut bytes: &[u8], counts: &Counts) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let header_len = if self.started { 5 } else { 4 };
            let n = (header_len - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() < header_len {
                return;
            }
            let len_bytes = &self.header[header_len - 4..];
            let len = u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
            if self.started {
                match self.header[0] {
                    b'E' => {
                        counts.statements.fetch_add(1, Ordering::Relaxed);
                    }
                    b'Q' => {
                        counts.statements.fetch_add(1, Ordering::Relaxed);
                        counts.round_trips.fetch_add(1, Ordering::Relaxed);
                    }
                    b'S' => {
                        counts.round_trips.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
            self.started = true;
            self.skip = len.saturating_sub(4);
            self.header.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn counts_statements_and_round_trips_across_any_split() {
        let mut stream = Vec::new();
        let startup = b"\x00\x03\x00\x00user\x00postgres\x00\x00";
        stream.extend_from_slice(&(startup.len() as u32 + 4).to_be_bytes());
        stream.extend_from_slice(startup);
        stream.extend(message(b'Q', b"BEGIN\0"));
        for _ in 0..3 {
            stream.extend(message(b'P', b"\0SELECT 1\0\0\0"));
            stream.extend(message(b'B', b"\0\0\0\0\0\0\0\0"));
            stream.extend(message(b'E', b"\0\0\0\0\0"));
            stream.extend(message(b'S', b""));
        }
        stream.extend(message(b'Q', b"COMMIT\0"));
        for chunk in [1, 3, 7, stream.len()] {
            let counts = Counts::default();
            let mut parser = Frontend::default();
            for piece in stream.chunks(chunk) {
                parser.feed(piece, &counts);
            }
            assert_eq!(counts.statements.load(Ordering::Relaxed), 5, "chunks of {chunk}");
            assert_eq!(counts.round_trips.load(Ordering::Relaxed), 5, "chunks of {chunk}");
        }
    }
}
