//! Accepting connections with limits: a connection must send its request head within a time (which also
//! ends keep-alive connections left idle), a node holds at most so many connections, one client address at
//! most so many, and the live channel's long-lived streams are counted apart under a cap of their own — so
//! slow or idle clients cannot use up the server's file descriptors and lock everyone out.
//!
//! A connection over a limit is closed at once, before a byte is read from it. A client is counted by its
//! address group (an IPv6 client by its /64, see [`crate::client_addr::group`]); a trusted proxy, which
//! speaks for many clients, only in the node's counts.
//!
//! Stopping (SIGTERM): the node is no longer ready at once (`/readyz` answers 503, so a load balancer sends
//! nothing new), serves the connections already queued and then closes its listener (so later ones are
//! refused and a proxy sends them elsewhere), tells its connected apps to reconnect (they land on another
//! node), lets the requests in flight finish within `shutdown_grace_secs`, then closes what is left.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use ipnet::IpNet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// How long a stopping node goes on taking connections the kernel has already completed: until none has come
/// for this long.
const QUEUE_QUIET: Duration = Duration::from_millis(50);

/// The limits of one node.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections at once (live-channel streams not counted).
    pub connections: usize,
    /// Connections at once from one client address, streams included.
    pub per_address: usize,
    /// Live-channel streams at once.
    pub live: usize,
    /// Time a connection has to send a request head, and the longest a kept-alive connection may idle.
    pub header_timeout: Duration,
    /// How long a stopping node waits for the requests in flight before it closes what is left.
    pub shutdown_grace: Duration,
    /// Peers not held to `per_address` (the trusted proxies, which speak for many clients).
    pub exempt: Vec<IpNet>,
    /// The bits of an IPv6 address that name one client.
    pub ipv6_prefix: u8,
}

/// The counters the limits are kept with, shared by the accept loop and the live channel.
#[derive(Debug)]
pub struct Gate {
    connections: Arc<Semaphore>,
    live: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpNet, usize>>,
    limits: Limits,
    draining: tokio::sync::watch::Sender<bool>,
}

/// A connection's place in the node's count, handed to its requests: a request that becomes a live-channel
/// stream moves the connection from the general count to the live one ([`Gate::to_live`]).
#[derive(Clone, Debug)]
pub struct Slot(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

/// A live-channel stream's place in the live count; dropping it frees the place.
#[derive(Debug)]
pub struct LivePermit(#[allow(dead_code)] OwnedSemaphorePermit);

/// A connection admitted from an address group (`None`: a trusted proxy, not counted per address);
/// dropping it counts the group down.
struct Admitted {
    gate: Arc<Gate>,
    group: Option<IpNet>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(group) = &self.group
            && let Ok(mut counts) = self.gate.per_address.lock()
            && let Some(n) = counts.get_mut(group)
        {
            *n -= 1;
            if *n == 0 {
                counts.remove(group);
            }
        }
    }
}

impl Gate {
    /// Counters for `limits`.
    pub fn new(limits: Limits) -> Arc<Gate> {
        Arc::new(Gate {
            connections: Arc::new(Semaphore::new(limits.connections)),
            live: Arc::new(Semaphore::new(limits.live)),
            per_address: Mutex::default(),
            limits,
            draining: tokio::sync::watch::Sender::new(false),
        })
    }

    /// The node is stopping: not ready any more, and its live streams end (their apps reconnect elsewhere).
    pub fn drain(&self) {
        self.draining.send_replace(true);
    }

    /// Whether the node is stopping.
    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// A watch that turns `true` when the node starts stopping.
    pub fn draining(&self) -> tokio::sync::watch::Receiver<bool> {
        self.draining.subscribe()
    }

    /// Admits a connection from `ip`, or `None` when a limit is reached.
    fn admit(self: &Arc<Gate>, ip: IpAddr) -> Option<(Admitted, OwnedSemaphorePermit)> {
        let exempt = self.limits.exempt.iter().any(|net| net.contains(&crate::client_addr::ClientAddr::from(ip).ip()));
        let group = (!exempt).then(|| crate::client_addr::group(ip, self.limits.ipv6_prefix));
        if let Some(group) = group {
            let mut counts = self.per_address.lock().ok()?;
            let n = counts.entry(group).or_insert(0);
            if *n >= self.limits.per_address {
                return None;
            }
            *n += 1;
        }
        let admitted = Admitted { gate: self.clone(), group };
        let permit = self.connections.clone().try_acquire_owned().ok()?;
        Some((admitted, permit))
    }

    /// Moves the connection of `slot` to the live channel's count; `None` when the live channel is full
    /// (the connection then stays as it was).
    pub fn to_live(&self, slot: Option<&Slot>) -> Option<LivePermit> {
        let live = self.live.clone().try_acquire_owned().ok()?;
        if let Some(slot) = slot
            && let Ok(mut held) = slot.0.lock()
        {
            held.take();
        }
        metrics::gauge!("noegle_live_connections").set((self.limits.live - self.live.available_permits()) as f64);
        Some(LivePermit(live))
    }
}

/// Serves `app` on `listener` (over TLS when `tls` is given) within `gate`'s limits until `shutdown`
/// resolves; then drains (see the module's words) and waits up to `shutdown_grace` for the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    gate: Arc<Gate>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut stopping = false;
    loop {
        let (stream, peer) = if stopping {
            // Stopping: the connections the kernel has already completed are still taken and served (closing
            // the listener would reset them under a proxy that has sent its request); once none has come for
            // a moment, the listener closes and later ones are refused (a proxy sends those elsewhere).
            match tokio::time::timeout(QUEUE_QUIET, listener.accept()).await {
                Ok(Ok(a)) => a,
                _ => break,
            }
        } else {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors or a connection reset before accept: wait a moment, go on.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => {
                    gate.drain();
                    stopping = true;
                    continue;
                }
            }
        };
        let Some((admitted, permit)) = gate.admit(peer.ip()) else {
            metrics::counter!("noegle_connections_refused_total").increment(1);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let slot = Slot(Arc::new(Mutex::new(Some(permit))));
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(slot.clone());
            let app = app.clone();
            async move {
                Ok::<_, Infallible>(app.oneshot(req.map(axum::body::Body::new)).await.unwrap_or_else(|e| match e {}))
            }
        });
        let (watcher, timeout, tls) = (graceful.watcher(), gate.limits.header_timeout, tls.clone());
        tokio::spawn(async move {
            let http = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout)
                .to_owned();
            let ended = match tls {
                None => watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await,
                // The handshake too must be over within the head's time.
                Some(tls) => match tokio::time::timeout(timeout, tls.accept(stream)).await {
                    Ok(Ok(stream)) => watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        Ok(())
                    }
                    Err(_) => Ok(()),
                },
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(admitted);
        });
    }
    drop(listener);
    let grace = gate.limits.shutdown_grace;
    tracing::info!(grace_secs = grace.as_secs(), "stopping: no new connections; finishing the requests in flight");
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("stopping: connections still open after {grace:?} are closed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits() -> Limits {
        Limits {
            connections: 3,
            per_address: 2,
            live: 1,
            header_timeout: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(1),
            exempt: vec!["10.9.0.0/16".parse().unwrap()],
            ipv6_prefix: 64,
        }
    }

    #[test]
    fn admission_counts_per_address_and_per_node_and_frees_on_drop() {
        let gate = Gate::new(limits());
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let a1 = gate.admit(a).unwrap();
        let a2 = gate.admit(a).unwrap();
        assert!(gate.admit(a).is_none(), "two per address");
        let b1 = gate.admit(b).unwrap();
        assert!(gate.admit(b).is_none(), "three per node");
        drop(a1);
        let b2 = gate.admit(b).unwrap();
        drop((a2, b1, b2));
        assert!(gate.per_address.lock().unwrap().is_empty(), "counts go back to nothing");
    }

    /// SEC-RATE: one IPv6 client holds a /64, so its connections count as one address; a
    /// trusted proxy, which speaks for many clients, is held to the node's count only.
    #[test]
    fn ipv6_addresses_of_one_prefix_count_as_one_and_a_trusted_proxy_only_in_the_node_count() {
        let gate = Gate::new(limits());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let first = gate.admit(ip("2001:db8:1:2::1")).unwrap();
        let second = gate.admit(ip("2001:db8:1:2:ffff::9")).unwrap();
        assert!(gate.admit(ip("2001:db8:1:2::77")).is_none(), "the same /64: two at most");
        let other = gate.admit(ip("2001:db8:1:3::1")).unwrap();
        assert!(gate.admit(ip("10.9.0.1")).is_none(), "the node's three are taken");
        drop((first, second, other));
        let proxied: Vec<_> = (0..3).map(|_| gate.admit(ip("10.9.0.1")).unwrap()).collect();
        assert!(gate.per_address.lock().unwrap().is_empty(), "a trusted proxy is not counted per address");
        drop(proxied);
    }

    #[test]
    fn a_live_stream_moves_its_connection_out_of_the_general_count() {
        let gate = Gate::new(limits());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let (_admitted, permit) = gate.admit(ip).unwrap();
        let slot = Slot(Arc::new(Mutex::new(Some(permit))));
        assert_eq!(gate.connections.available_permits(), 2);
        let live = gate.to_live(Some(&slot)).unwrap();
        assert_eq!(gate.connections.available_permits(), 3, "no longer counted as a connection");
        assert!(gate.to_live(None).is_none(), "one live stream at most");
        drop(live);
        assert!(gate.to_live(None).is_some());
    }

    /// Serves a one-route app with a one-second head timeout on a free port.
    async fn tiny_server() -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", axum::routing::get(|| async { "hej" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, Gate::new(limits()), None, async move {
            let _ = stopped.await;
        }));
        (addr, stop)
    }

    async fn closed_within(stream: &mut tokio::net::TcpStream, wait: Duration) -> bool {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(wait, stream.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    #[tokio::test]
    async fn a_kept_alive_connection_left_idle_is_closed_and_a_busy_one_is_not() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (addr, _stop) = tiny_server().await;
        let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 1024];
        let n = idle.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("hej"), "answered and kept alive");
        assert!(closed_within(&mut idle, Duration::from_secs(4)).await, "idle past the timeout: closed");

        // A connection that keeps asking within the timeout stays open.
        let mut busy = tokio::net::TcpStream::connect(addr).await.unwrap();
        for _ in 0..3 {
            busy.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
            let n = busy.read(&mut buf).await.unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).ends_with("hej"));
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
    }

    #[tokio::test]
    async fn a_connection_over_the_per_address_limit_is_closed_before_it_is_read() {
        let (addr, _stop) = tiny_server().await;
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(closed_within(&mut third, Duration::from_millis(500)).await, "two per address");
        drop(held);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut again = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(!closed_within(&mut again, Duration::from_millis(300)).await, "places freed when they close");
    }
}
