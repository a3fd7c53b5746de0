//! A userspace stand-in for `tc netem` where the kernel lacks it: a TCP
//! relay that forwards each chunk after a one-way delay (plus up to
//! `jitter`, never reordering), in each direction, makes a new connection
//! pay one round trip before its first byte (the TCP handshake the real
//! network would cost), and can reset a connection after a number of
//! responses. It listens here and connects to the mock across the veth
//! pair, so it sits on the namespace boundary.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// The network the relay plays.
#[derive(Debug, Clone, Copy)]
pub struct RelayConfig {
    /// Added to every chunk in each direction.
    pub one_way: Duration,
    /// Up to this much more, uniformly (chunks keep their order).
    pub jitter: Duration,
    /// Reset the connection (RST to the client) once this many chunks of
    /// response have been forwarded on it.
    pub reset_after: Option<u64>,
}

/// A running relay; dropping it stops it and every connection through it.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Listens on 127.0.0.1:0 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr, config: RelayConfig) -> std::io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(accept_loop(listener, upstream, config, accepted.clone()));
        Ok(Relay {
            addr,
            accepted,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Client connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    config: RelayConfig,
    accepted: Arc<AtomicU64>,
) {
    // Owned here: aborting this task drops the set, which aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            conn = listener.accept() => {
                let Ok((client, _)) = conn else { continue };
                let seed = accepted.fetch_add(1, Ordering::Relaxed);
                connections.spawn(relay(client, upstream, config, seed));
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

/// One connection: a handshake's round trip, then both directions delayed.
async fn relay(client: TcpStream, upstream: SocketAddr, config: RelayConfig, seed: u64) {
    let _ = client.set_nodelay(true);
    tokio::time::sleep(config.one_way * 2).await;
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pipe(client_read, server_write, config, seed, None);
    let down = pipe(server_read, client_write, config, !seed, config.reset_after);
    tokio::pin!(up, down);
    // A direction that ends cleanly (EOF) lets the other finish; a reset or
    // an error ends both (dropping the other direction closes its sockets).
    tokio::select! {
        ended = &mut up => if ended.is_ok() { let _ = down.await; },
        ended = &mut down => if ended.is_ok() { let _ = up.await; },
    }
}

/// Why a direction stopped early.
#[derive(Debug)]
struct Stopped;

/// Copies `from` to `to`, each chunk `one_way` (+ jitter) after it was read.
async fn pipe(
    mut from: OwnedReadHalf,
    to: OwnedWriteHalf,
    config: RelayConfig,
    seed: u64,
    reset_after: Option<u64>,
) -> Result<(), Stopped> {
    let (tx, rx) = mpsc::unbounded_channel::<(Instant, Bytes)>();
    let writer = deliver(rx, to, reset_after);
    let reader = async move {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut last_due = Instant::now();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = from.read(&mut buf).await.map_err(|_| Stopped)?;
            let extra = config.jitter.mul_f64(rng.random::<f64>());
            last_due = last_due.max(Instant::now() + config.one_way + extra);
            // An empty chunk is the end of the stream, delayed like data.
            if tx
                .send((last_due, Bytes::copy_from_slice(&buf[..n])))
                .is_err()
                || n == 0
            {
                return Ok::<(), Stopped>(());
            }
        }
    };
    tokio::pin!(reader, writer);
    // A failed write stops the reading too (no one would deliver its bytes).
    tokio::select! {
        read = &mut reader => { read?; writer.await }
        written = &mut writer => { written?; reader.await }
    }
}

/// Writes each chunk at its due time; an empty chunk shuts the write side.
async fn deliver(
    mut rx: mpsc::UnboundedReceiver<(Instant, Bytes)>,
    mut to: OwnedWriteHalf,
    reset_after: Option<u64>,
) -> Result<(), Stopped> {
    let mut chunks = 0u64;
    while let Some((due, chunk)) = rx.recv().await {
        tokio::time::sleep_until(due).await;
        if chunk.is_empty() {
            let _ = to.shutdown().await;
            return Ok(());
        }
        to.write_all(&chunk).await.map_err(|_| Stopped)?;
        chunks += 1;
        if reset_after.is_some_and(|limit| chunks >= limit) {
            // SO_LINGER 0: closing sends RST, not FIN; `forget` keeps the
            // write half from sending a FIN first.
            let _ = to.as_ref().set_zero_linger();
            to.forget();
            return Err(Stopped);
        }
    }
    Ok(())
}
