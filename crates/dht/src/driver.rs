//! The tokio driver: a task that owns a `UdpSocket` and a [`Node`], moving datagrams between
//! them and answering an async API.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::compact::NodeInfo;
use crate::config::Config;
use crate::event::{Event, LookupId, LookupResult};
use crate::id::NodeId;
use crate::node::Node;
use crate::state::SavedState;
use crate::stats::Stats;

/// How many received datagrams an [`Inbox`] holds for the node before further ones are
/// dropped (they are UDP: the sender's timeouts handle the loss).
const INBOX_LEN: usize = 1024;

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
    Search {
        info_hash: NodeId,
        announce: Option<(u16, bool)>,
        events: mpsc::UnboundedSender<SearchEvent>,
    },
    AddNode(SocketAddr),
    Restore(Vec<NodeInfo>),
    State(oneshot::Sender<SavedState>),
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
    /// A search's events; `announce`: an `AnnounceDone` follows its `LookupDone`.
    Search {
        events: mpsc::UnboundedSender<SearchEvent>,
        announce: bool,
    },
}

/// What a [`Dht::search`] reports, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SearchEvent {
    /// Peers not reported before.
    Peers(Vec<SocketAddr>),
    /// The lookup converged; `nodes` answered among the closest (0: the routing table was
    /// empty, the DHT not joined yet). Without an announce this is the last event.
    Done {
        /// How many of the closest nodes answered.
        nodes: usize,
    },
    /// The announce went to the closest nodes; this many acknowledged it. The last event.
    Announced {
        /// Acknowledgements.
        acknowledged: usize,
    },
}

/// Where the driver's datagrams come from: its own socket, or a demultiplexer that owns the
/// socket and hands over the datagrams meant for the DHT ([`Dht::on_shared_socket`]).
enum Input {
    Socket,
    Inbox(mpsc::Receiver<(SocketAddr, Vec<u8>)>),
}

/// The sending half of a [`Dht::on_shared_socket`] node's input: the owner of the socket puts
/// the datagrams meant for the DHT here.
#[derive(Debug, Clone)]
pub struct Inbox(mpsc::Sender<(SocketAddr, Vec<u8>)>);

impl Inbox {
    /// Hands a datagram received from `from` to the node; false when it was dropped (the node
    /// is 1,024 datagrams behind, or stopped).
    pub fn deliver(&self, from: SocketAddr, datagram: &[u8]) -> bool {
        self.0.try_send((from, datagram.to_vec())).is_ok()
    }
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
        Ok(Dht::spawn(
            Arc::new(socket),
            local_addr,
            config,
            Input::Socket,
        ))
    }

    /// Starts the node on a socket another task owns and reads (one UDP port shared by the DHT
    /// and uTP, demultiplexed by the owner): the node sends through `socket` and receives what
    /// the owner puts in the returned [`Inbox`].
    pub fn on_shared_socket(
        socket: Arc<UdpSocket>,
        mut config: Config,
    ) -> io::Result<(Dht, Inbox)> {
        let local_addr = socket.local_addr()?;
        config.ipv6 = local_addr.is_ipv6();
        let (inbox, receiver) = mpsc::channel(INBOX_LEN);
        let dht = Dht::spawn(socket, local_addr, config, Input::Inbox(receiver));
        Ok((dht, Inbox(inbox)))
    }

    fn spawn(socket: Arc<UdpSocket>, local_addr: SocketAddr, config: Config, input: Input) -> Dht {
        let node = Node::new(config, Instant::now());
        let (commands, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(socket, input, node, receiver));
        Dht {
            commands,
            local_addr,
            task,
        }
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

    /// Looks up peers of `info_hash` and, with `announce` (port, implied_port), announces us
    /// to the closest nodes; the events come as they happen ([`SearchEvent`]), and the
    /// receiver ends after the last.
    pub fn search(
        &self,
        info_hash: NodeId,
        announce: Option<(u16, bool)>,
    ) -> io::Result<mpsc::UnboundedReceiver<SearchEvent>> {
        let (events, receiver) = mpsc::unbounded_channel();
        self.commands
            .send(Command::Search {
                info_hash,
                announce,
                events,
            })
            .map_err(|_| stopped())?;
        Ok(receiver)
    }

    /// Puts saved nodes back into the routing table ([`Node::restore`]).
    pub fn restore(&self, nodes: Vec<NodeInfo>) -> io::Result<()> {
        self.commands
            .send(Command::Restore(nodes))
            .map_err(|_| stopped())
    }

    /// The node's id and routing table, to save ([`SavedState::encode`]) and restore at the
    /// next start (with the id in [`Config::id`]).
    pub async fn saved_state(&self) -> io::Result<SavedState> {
        let (reply, result) = oneshot::channel();
        self.commands
            .send(Command::State(reply))
            .map_err(|_| stopped())?;
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

async fn run(
    socket: Arc<UdpSocket>,
    mut input: Input,
    mut node: Node,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
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
            received = socket.recv_from(&mut buffer), if matches!(input, Input::Socket) => {
                // Errors (an ICMP port unreachable reported on the socket) carry no datagram.
                if let Ok((len, from)) = received {
                    node.handle_datagram(from, &buffer[..len], Instant::now());
                }
            }
            delivered = recv_inbox(&mut input) => {
                let Some((from, datagram)) = delivered else { return };
                node.handle_datagram(from, &datagram, Instant::now());
            }
            command = commands.recv() => {
                let Some(command) = command else { return };
                handle(command, &mut node, &mut waiters);
            }
            () = tokio::time::sleep_until(wake.into()) => node.handle_timeout(Instant::now()),
        }
    }
}

/// The next datagram of an [`Input::Inbox`] (`None`: its owner is gone); never resolves for a
/// socket of our own.
async fn recv_inbox(input: &mut Input) -> Option<(SocketAddr, Vec<u8>)> {
    match input {
        Input::Inbox(receiver) => receiver.recv().await,
        Input::Socket => std::future::pending().await,
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
        Command::Search {
            info_hash,
            announce,
            events,
        } => {
            let lookup = match announce {
                Some((port, implied_port)) => node.announce(info_hash, port, implied_port, now),
                None => node.get_peers(info_hash, now),
            };
            waiters.insert(
                lookup,
                Waiter::Search {
                    events,
                    announce: announce.is_some(),
                },
            );
        }
        Command::AddNode(addr) => node.add_node(addr, now),
        Command::Restore(nodes) => node.restore(&nodes, now),
        Command::State(reply) => {
            let _ = reply.send(SavedState {
                id: node.id(),
                nodes: node.nodes(),
            });
        }
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
        Event::PeersFound { lookup, peers, .. } => {
            if let Some(Waiter::Search { events, .. }) = waiters.get(&lookup) {
                let _ = events.send(SearchEvent::Peers(peers));
            }
        }
        Event::LookupDone(result)
            if matches!(waiters.get(&result.lookup), Some(Waiter::Search { .. })) =>
        {
            let Some(Waiter::Search { events, announce }) = waiters.get(&result.lookup) else {
                return;
            };
            let _ = events.send(SearchEvent::Done {
                nodes: result.closest.len(),
            });
            // A plain get_peers ends here; an announce goes on to `AnnounceDone`.
            if !announce {
                waiters.remove(&result.lookup);
            }
        }
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
        } => match waiters.remove(&lookup) {
            Some(Waiter::Announce(reply)) => {
                let _ = reply.send(acknowledged);
            }
            Some(Waiter::Search { events, .. }) => {
                let _ = events.send(SearchEvent::Announced { acknowledged });
            }
            _ => {}
        },
    }
}
