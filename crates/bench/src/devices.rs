//! Many key apps at once, as cheaply as the bench can hold them: each one a signed `GET /api/app/v1/events`
//! over a raw TCP connection from a chosen local address, read for the events it hears.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use noegle_proto::signing::{HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedRequest};
use p256::ecdsa::Signature;
use p256::ecdsa::signature::Signer;
use rand::RngCore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::seed::BenchDevice;

/// The source address for connection `i`: 127.0.0.2, 127.0.0.3, … 127.0.0.9 in turn, so that the number
/// of connections is not held to one address's ephemeral ports.
pub fn source_address(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % 8) as u8))
}

/// The signature headers of a bodiless signed request by `device`.
pub fn signed_headers(device: &BenchDevice, method: &str, path: &str) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut nonce = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let nonce = B64.encode(nonce);
    let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    let req = SignedRequest {
        method,
        path_and_query: path,
        device_id: &device.device_id,
        timestamp,
        nonce: &nonce,
        body: b"",
    };
    let sig: Signature = device.key.sign(&req.canonical_bytes().map_err(|e| anyhow!("{e}"))?);
    Ok(vec![
        (HEADER_DEVICE, device.device_id.clone()),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (HEADER_NONCE, nonce),
        (HEADER_SIGNATURE, B64.encode(sig.to_bytes())),
    ])
}

/// A live channel held open.
pub struct Channel {
    stream: TcpStream,
    /// Bytes read and not yet searched (kept short).
    tail: Vec<u8>,
}

impl Channel {
    /// Opens `device`'s live channel to `server` from `local`; answers once the server said `connected`.
    pub async fn open(server: SocketAddr, local: IpAddr, device: &BenchDevice) -> anyhow::Result<Channel> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(local, 0))?;
        let mut stream = socket.connect(server).await?;
        stream.set_nodelay(true)?;
        let path = "/api/app/v1/events";
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {server}\r\nAccept: text/event-stream\r\n");
        for (name, value) in signed_headers(device, "GET", path)? {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut channel = Channel { stream, tail: Vec::new() };
        let head = channel.read_until(b"\r\n\r\n").await?;
        if !head.starts_with(b"HTTP/1.1 200") {
            bail!("the live channel was refused: {}", String::from_utf8_lossy(&head).lines().next().unwrap_or(""));
        }
        channel.read_until(b"connected").await?;
        Ok(channel)
    }

    /// Reads until `needle` has come; answers what was read up to and including it.
    async fn read_until(&mut self, needle: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut buf = [0u8; 1024];
        loop {
            if let Some(at) = self.tail.windows(needle.len()).position(|w| w == needle) {
                let rest = self.tail.split_off(at + needle.len());
                return Ok(std::mem::replace(&mut self.tail, rest));
            }
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                bail!("the server closed the live channel");
            }
            self.tail.extend_from_slice(&buf[..n]);
        }
    }

    /// Waits for the next `request` event.
    pub async fn next_request(&mut self) -> anyhow::Result<()> {
        self.read_until(b"event: request").await.map(|_| ())
    }
}
