//! The tokio driver: a task that owns a `UdpSocket` and a [`Node`], moving datagrams between
//! them and answering an async API.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::compact::NodeInfo;
use crate::config::Config;
use crate::event::{Event, LookupId, LookupResult};
use crate::id::NodeId;
use crate::node::Node;
use crate::stats::Stats;

/// A DHT node on a UDP socket, driven by a tokio task.
///
/// The task runs until the `Dht` is dropped. Each step it handles one input (a datagram, a
/// command or the node's timeout, with `Instant::now()`), then sends every datagram the node
/// has queued, then hands out its events, then sleeps until the next input or
/// [`Node::poll_timeout`].
#[derive(Debug)]
pub struct Dht {
    commands: mpsc::UnboundedSender<Command>,
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

enum Command {
    Lookup {
        start: Start,
        reply: oneshot::Sender<LookupResult>,
    },
    Announce {
        info_hash: NodeId,
        port: u16,
        implied_port: bool,
        reply: oneshot::Sender<usize>,
    },
    AddNode(SocketAddr),
    Stats(oneshot::Sender<Stats>),
    Nodes(oneshot::Sender<Vec<NodeInfo>>),
}

enum Start {
    Bootstrap(Vec<SocketAddr>),
    FindNode(NodeId),
    GetPeers(NodeId),
}

enum Waiter {
    Lookup(oneshot::Sender<LookupResult>),
    Announce(oneshot::Sender<usize>),
}

fn stopped() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "dht: the driver task has stopped",
    )
}

impl Dht {
    /// Binds a UDP socket on `addr` (port 0 for any) and starts the node on it. The node's
    /// address family follows the socket's, whatever `config.ipv6` says.
    pub async fn bind(addr: SocketAddr, mut config: Config) -> io::Result<Dht> {
        let socket = UdpSocket::bind(addr).await?;
        let local_addr = socket.local_addr()?;
        config.ipv6 = local_addr.is_ipv6();
        let node = Node::new(config, Instant::now());
        let (commands, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(socket, node, receiver));
        Ok(Dht {
            commands,
            local_addr,
            task,
        })
    }

    /// The socket's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    async fn lookup(&self, start: Start) -> io::Result<LookupResult> {
        let (reply, result) = oneshot::channel();
        self.commands
            .send(Command::Lookup { start, reply })
            .map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())
    }

    /// Joins the DHT through `routers` ([`Node::bootstrap`]); returns when the lookup of our
    /// own id is done.
    pub async fn bootstrap(&self, routers: &[SocketAddr]) -> io::Result<LookupResult> {
        self.lookup(Start::Bootstrap(routers.to_vec())).await
    }

    /// The nodes closest to `target` ([`Node::find_node`]).
    pub async fn find_node(&self, target: NodeId) -> io::Result<LookupResult> {
        self.lookup(Start::FindNode(target)).await
    }

    /// Peers of `info_hash` ([`Node::get_peers`]), in the result's `peers`.
    pub async fn get_peers(&self, info_hash: NodeId) -> io::Result<LookupResult> {
        self.lookup(Start::GetPeers(info_hash)).await
    }

    /// Announces that we download `info_hash` on `port` ([`Node::announce`]); returns how many
    /// nodes acknowledged it.
    pub async fn announce(
        &self,
        info_hash: NodeId,
        port: u16,
        implied_port: bool,
    ) -> io::Result<usize> {
        let (reply, result) = oneshot::channel();
        let command = Command::Announce {
            info_hash,
            port,
            implied_port,
            reply,
        };
        self.commands.send(command).map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())
    }

    /// Pings `addr` and adds it to the routing table if it answers ([`Node::add_node`]).
    pub fn add_node(&self, addr: SocketAddr) -> io::Result<()> {
        self.commands
            .send(Command::AddNode(addr))
            .map_err(|_| stopped())
    }

    /// The node's counters ([`Node::stats`]).
    pub async fn stats(&self) -> io::Result<Stats> {
        let (reply, result) = oneshot::channel();
        self.commands
            .send(Command::Stats(reply))
            .map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())
    }

    /// The routing table's nodes ([`Node::nodes`]), to save them.
    pub async fn nodes(&self) -> io::Result<Vec<NodeInfo>> {
        let (reply, result) = oneshot::channel();
        self.commands
            .send(Command::Nodes(reply))
            .map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())
    }
}

impl Drop for Dht {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(socket: UdpSocket, mut node: Node, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut buffer = vec![0; 65536];
    let mut waiters: HashMap<LookupId, Waiter> = HashMap::new();
    loop {
        while let Some(transmit) = node.poll_transmit() {
            // A failed send is a lost datagram, which the node's timeouts already handle.
            let _ = socket
                .send_to(&transmit.contents, transmit.destination)
                .await;
        }
        while let Some(event) = node.poll_event() {
            dispatch(event, &mut waiters);
        }
        let wake = node
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            received = socket.recv_from(&mut buffer) => {
                // Errors (an ICMP port unreachable reported on the socket) carry no datagram.
                if let Ok((len, from)) = received {
                    node.handle_datagram(from, &buffer[..len], Instant::now());
                }
            }
            command = commands.recv() => {
                let Some(command) = command else { return };
                handle(command, &mut node, &mut waiters);
            }
            () = tokio::time::sleep_until(wake.into()) => node.handle_timeout(Instant::now()),
        }
    }
}

fn handle(command: Command, node: &mut Node, waiters: &mut HashMap<LookupId, Waiter>) {
    let now = Instant::now();
    match command {
        Command::Lookup { start, reply } => {
            let lookup = match start {
                Start::Bootstrap(routers) => node.bootstrap(&routers, now),
                Start::FindNode(target) => node.find_node(target, now),
                Start::GetPeers(info_hash) => node.get_peers(info_hash, now),
            };
            waiters.insert(lookup, Waiter::Lookup(reply));
        }
        Command::Announce {
            info_hash,
            port,
            implied_port,
            reply,
        } => {
            let lookup = node.announce(info_hash, port, implied_port, now);
            waiters.insert(lookup, Waiter::Announce(reply));
        }
        Command::AddNode(addr) => node.add_node(addr, now),
        Command::Stats(reply) => {
            let _ = reply.send(node.stats());
        }
        Command::Nodes(reply) => {
            let _ = reply.send(node.nodes());
        }
    }
}

fn dispatch(event: Event, waiters: &mut HashMap<LookupId, Waiter>) {
    match event {
        Event::LookupDone(result) => {
            if let Some(Waiter::Lookup(_)) = waiters.get(&result.lookup) {
                if let Some(Waiter::Lookup(reply)) = waiters.remove(&result.lookup) {
                    let _ = reply.send(result);
                }
            }
        }
        Event::AnnounceDone {
            lookup,
            acknowledged,
            ..
        } => {
            if let Some(Waiter::Announce(reply)) = waiters.remove(&lookup) {
                let _ = reply.send(acknowledged);
            }
        }
        Event::PeersFound { .. } => {}
    }
}
