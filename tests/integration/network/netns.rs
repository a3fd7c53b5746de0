//! A throw-away network namespace joined to this one by a veth pair, for
//! the network tests: created with `ip` (root only), deleted by
//! [`NetNs`]'s `Drop` (so also when a test panics), with `tc netem` on both
//! ends when the kernel has it, and a listener bound *inside* the namespace
//! from this process (a short-lived thread `setns`es, binds, and hands the
//! socket back: the socket stays in the namespace, the runtime does not).

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::AsFd as _;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Namespaces made by this process so far (names and subnets stay unique
/// when several tests build one at once).
static MADE: AtomicU32 = AtomicU32::new(0);

/// A network namespace `name` with one veth pair: `host_if`
/// (`host_ip`/30) here, `ns_if` (`ns_ip`/30) in the namespace.
#[derive(Debug)]
pub struct NetNs {
    name: String,
    host_if: String,
    ns_if: String,
    pub host_ip: Ipv4Addr,
    pub ns_ip: Ipv4Addr,
}

/// Why the namespace could not be made: a reason to skip (not root, no
/// `ip`, not allowed) or a real failure of a step that should have worked.
#[derive(Debug)]
pub enum Unavailable {
    Skip(String),
    Failed(String),
}

/// Runs `ip`/`tc` with `args`; the error is the command and its stderr.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{program} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

impl NetNs {
    /// Makes the namespace and the veth pair, both ends up.
    ///
    /// # Errors
    /// `Skip` when not root, without `ip`, or when the kernel refuses
    /// namespaces; `Failed` when a later step fails.
    pub fn create() -> Result<NetNs, Unavailable> {
        if !rustix::process::geteuid().is_root() {
            return Err(Unavailable::Skip(
                "not root: creating a network namespace and a veth pair needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)".to_owned(),
            ));
        }
        if Command::new("ip").arg("-V").output().is_err() {
            return Err(Unavailable::Skip(
                "the `ip` command (iproute2) is not installed".to_owned(),
            ));
        }
        let pid = std::process::id();
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        assert!(n < 16, "at most 16 namespaces per test process");
        let name = format!("chatload-{pid}-{n}");
        run("ip", &["netns", "add", &name]).map_err(Unavailable::Skip)?;
        // From here on, Drop deletes what exists.
        let (b, c) = ((pid % 250) as u8, (((pid / 250) % 4) * 64 + n * 4) as u8);
        let ns = NetNs {
            host_if: format!("clh{}x{n}", pid % 1_000_000),
            ns_if: format!("cln{}x{n}", pid % 1_000_000),
            host_ip: Ipv4Addr::new(10, b, c, 1),
            ns_ip: Ipv4Addr::new(10, b, c, 2),
            name,
        };
        ns.wire().map_err(Unavailable::Failed)?;
        Ok(ns)
    }

    /// The veth pair, its addresses, links up (loopback too, inside).
    fn wire(&self) -> Result<(), String> {
        let (host_addr, ns_addr) = (format!("{}/30", self.host_ip), format!("{}/30", self.ns_ip));
        #[rustfmt::skip]
        let steps: [&[&str]; 6] = [
            &["link", "add", &self.host_if, "type", "veth", "peer", "name", &self.ns_if, "netns", &self.name],
            &["addr", "add", &host_addr, "dev", &self.host_if],
            &["link", "set", &self.host_if, "up"],
            &["-n", &self.name, "addr", "add", &ns_addr, "dev", &self.ns_if],
            &["-n", &self.name, "link", "set", &self.ns_if, "up"],
            &["-n", &self.name, "link", "set", "lo", "up"],
        ];
        steps.iter().try_for_each(|args| run("ip", args))
    }

    /// Adds `tc netem` on both ends: `one_way` ± `jitter` each way and
    /// `loss_percent` loss. `Err` (with tc's words) when the kernel has no
    /// netem (`sch_netem`), which is the caller's cue for the relay.
    pub fn add_netem(
        &self,
        one_way: Duration,
        jitter: Duration,
        loss_percent: f64,
    ) -> Result<(), String> {
        let (delay, jitter) = (
            format!("{}us", one_way.as_micros()),
            format!("{}us", jitter.as_micros()),
        );
        let loss = format!("{loss_percent}%");
        let qdisc = ["root", "netem", "delay", &delay, &jitter, "loss", &loss];
        let mut host = vec!["qdisc", "add", "dev", &self.host_if];
        host.extend(qdisc);
        run("tc", &host)?;
        let mut inside = vec![
            "netns",
            "exec",
            &self.name,
            "tc",
            "qdisc",
            "add",
            "dev",
            &self.ns_if,
        ];
        inside.extend(qdisc);
        run("ip", &inside)
    }

    /// A TCP listener on `ns_ip`, any free port, inside the namespace.
    pub fn bind(&self) -> std::io::Result<std::net::TcpListener> {
        let handle = File::open(format!("/run/netns/{}", self.name))?;
        let ip = self.ns_ip;
        std::thread::spawn(move || {
            // Moves only this thread, which ends right after binding.
            rustix::thread::move_into_link_name_space(
                handle.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )?;
            TcpListener::bind(SocketAddr::from((ip, 0)))
        })
        .join()
        .expect("the binding thread does not panic")
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Deleting the namespace destroys its veth end, and with it the pair.
        if let Err(e) = run("ip", &["netns", "del", &self.name]) {
            eprintln!("network test: cleaning up: {e}");
        }
        let _ = run("ip", &["link", "del", &self.host_if]);
    }
}
