"""A libtorrent session fit for loopback tests, imported by the other snippets
(`from lt_session import loopback_session`).

Every peer is 127.0.0.1 on a different port, so libtorrent must allow several connections per IP
and retry a refusing peer quickly (its default waits 60 s); DHT, LSD, UPnP and NAT-PMP stay off so
nothing leaves the machine.
"""
import libtorrent as lt


def loopback_session(port=0, utp=False, extra=None):
    """A session listening on 127.0.0.1:port (0: any free port; read it back with
    `session.listen_port()`)."""
    s = lt.default_settings()
    s.update({
        "listen_interfaces": f"127.0.0.1:{port}",
        "outgoing_interfaces": "127.0.0.1",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "min_reconnect_time": 1,
        "peer_connect_timeout": 3,
        "enable_incoming_utp": utp,
        "enable_outgoing_utp": utp,
        "enable_incoming_tcp": True,
        "enable_outgoing_tcp": True,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "alert_mask": lt.alert_category.error | lt.alert_category.status | lt.alert_category.tracker,
        "user_agent": "torrentkit-interop/libtorrent-" + lt.__version__,
    })
    if extra:
        s.update(extra)
    return lt.session(s)
