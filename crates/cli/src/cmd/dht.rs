//! `bt dht`: a standalone DHT node (BEP 5) that answers other nodes and prints its counters,
//! and `bt dht get-peers INFOHASH`, which prints the peers the DHT knows for a torrent.

use std::collections::HashSet;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use torrentkit_dht::{Dht, NodeId, SearchEvent, Stats};
use torrentkit_metainfo::InfoHash;

use super::dht_node::{state_path, DhtNode, DEFAULT_ROUTERS};
use super::transfer;

/// Arguments of `bt dht`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The routing table is kept in $XDG_STATE_HOME/torrentkit/dht-node.dat (default \
~/.local/state/torrentkit), written atomically, so a restarted node rejoins without bootstrap \
routers. Ctrl-C or SIGTERM saves it and exits 0."
)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    node: NodeArgs,
    /// Seconds between status lines.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    stats_interval: f64,
    /// Print the status as one JSON object a line (counters, table sizes, the routing
    /// table's nodes) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Look up a torrent's peers in the DHT; prints one HOST:PORT a line, exits 1 if none.
    GetPeers {
        /// The info-hash, 40 hex digits.
        info_hash: String,
        #[command(flatten)]
        node: NodeArgs,
        /// Give up after this many seconds.
        #[arg(long, value_name = "SECS", default_value_t = 30.0)]
        timeout: f64,
    },
}

/// Where the node listens and how it joins.
#[derive(Debug, clap::Args)]
struct NodeArgs {
    /// UDP port (0: any free port).
    #[arg(long, default_value_t = 6881)]
    port: u16,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    bind: IpAddr,
    /// A bootstrap node (repeatable; default: the well-known routers), asked only when no
    /// saved routing table answers.
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    dht_bootstrap: Vec<String>,
    /// Neither read nor save the routing table.
    #[arg(long)]
    no_state: bool,
    /// Queries answered per source address per second; the rest are dropped and counted as
    /// throttled (default 20; raise it to benchmark from one address).
    #[arg(long, value_name = "N")]
    max_answers_per_ip: Option<u32>,
}

impl NodeArgs {
    async fn start(&self) -> anyhow::Result<DhtNode> {
        let routers = if self.dht_bootstrap.is_empty() {
            DEFAULT_ROUTERS.map(String::from).to_vec()
        } else {
            self.dht_bootstrap.clone()
        };
        let state = (!self.no_state)
            .then(|| state_path("dht-node.dat"))
            .flatten();
        let (_, seed) = transfer::identity();
        let node = DhtNode::start(
            self.bind,
            self.port,
            &routers,
            &[],
            state,
            seed,
            self.max_answers_per_ip,
        )
        .await
        .context("starting the DHT node")?;
        if self.port != 0 && node.local_addr().port() != self.port {
            bail!("UDP port {} is taken", self.port);
        }
        Ok(node)
    }
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    transfer::runtime()?.block_on(async {
        match &args.action {
            Some(Action::GetPeers {
                info_hash,
                node,
                timeout,
            }) => get_peers(info_hash, node, *timeout).await,
            None => serve(&args).await,
        }
    })
}

async fn serve(args: &Args) -> anyhow::Result<ExitCode> {
    let node = args.node.start().await?;
    let dht = node.dht();
    eprintln!(
        "bt: dht: node {} on UDP {}",
        hex(&dht.saved_state().await?.id.0),
        node.local_addr()
    );
    let signal = |kind| tokio::signal::unix::signal(kind).context("installing a signal handler");
    let mut sigint = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigterm = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(
        args.stats_interval.clamp(0.05, 86_400.0),
    ));
    let mut save = tokio::time::interval(super::dht_node::SAVE_INTERVAL);
    save.tick().await;
    loop {
        tokio::select! {
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = save.tick() => node.save().await,
            _ = tick.tick() => print_status(&dht, args.json).await?,
        }
    }
    node.save().await;
    print_status(&dht, args.json).await?;
    Ok(ExitCode::SUCCESS)
}

async fn print_status(dht: &Dht, json: bool) -> anyhow::Result<()> {
    let stats = dht.stats().await?;
    if json {
        let nodes: Vec<String> = dht
            .nodes()
            .await?
            .iter()
            .map(|n| n.addr.to_string())
            .collect();
        println!("{}", stats_json(&stats, dht.local_addr(), &nodes));
    } else {
        println!(
            "dht: {} nodes in {} buckets, {} queries received, {} answered, {} throttled, {} malformed; \
storing {} peers of {} info-hashes",
            stats.routing_nodes,
            stats.buckets,
            stats.queries_received,
            stats.answers_sent,
            stats.throttled,
            stats.malformed,
            stats.stored_peers,
            stats.stored_info_hashes,
        );
    }
    Ok(())
}

fn stats_json(s: &Stats, addr: std::net::SocketAddr, nodes: &[String]) -> serde_json::Value {
    serde_json::json!({
        "addr": addr.to_string(),
        "routing_nodes": s.routing_nodes,
        "buckets": s.buckets,
        "queries_received": s.queries_received,
        "answers_sent": s.answers_sent,
        "errors_sent": s.errors_sent,
        "queries_sent": s.queries_sent,
        "responses_received": s.responses_received,
        "timeouts": s.timeouts,
        "malformed": s.malformed,
        "unmatched": s.unmatched,
        "throttled": s.throttled,
        "bad_tokens": s.bad_tokens,
        "bad_node_ids": s.bad_node_ids,
        "announces_refused": s.announces_refused,
        "stored_info_hashes": s.stored_info_hashes,
        "stored_peers": s.stored_peers,
        "outstanding_queries": s.outstanding_queries,
        "lookups": s.lookups,
        "tracked_sources": s.tracked_sources,
        "nodes": nodes,
    })
}

async fn get_peers(info_hash: &str, node: &NodeArgs, timeout: f64) -> anyhow::Result<ExitCode> {
    let hash = InfoHash::from_hex(info_hash)
        .map_err(|e| anyhow::anyhow!("{info_hash}: not an info-hash: {e}"))?;
    if !(timeout.is_finite() && timeout > 0.0) {
        bail!("--timeout {timeout}: must be a number of seconds > 0");
    }
    let node = node.start().await?;
    let dht = node.dht();
    let deadline = Instant::now() + Duration::from_secs_f64(timeout.min(86_400.0));
    let mut seen = HashSet::new();
    let mut wait = Duration::from_millis(200);
    // Until a lookup reaches some node (the node is still joining), look again.
    let outcome = tokio::time::timeout_at(deadline.into(), async {
        loop {
            let mut events = dht.search(NodeId(hash.0), None)?;
            let mut reached = 0;
            while let Some(event) = events.recv().await {
                match event {
                    SearchEvent::Peers(peers) => {
                        for p in peers.into_iter().filter(|p| seen.insert(*p)) {
                            println!("{p}");
                        }
                    }
                    SearchEvent::Done { nodes } => reached = nodes,
                    _ => {}
                }
            }
            if reached > 0 {
                return anyhow::Ok(());
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    })
    .await;
    node.save().await;
    match outcome {
        Ok(result) => result?,
        Err(_) if seen.is_empty() => {
            bail!("{info_hash}: no DHT node answered within {timeout}s")
        }
        Err(_) => {}
    }
    if seen.is_empty() {
        eprintln!("bt: {info_hash}: the DHT knows no peer of it");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
