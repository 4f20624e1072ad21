//! [`Event`]: what an announce reports (BEP 3, BEP 15 numbers, BEP 21 `paused`).

/// The event of an announce.
///
/// Over HTTP it is the `event` parameter (absent or `empty` for [`Event::None`]); over UDP it is
/// BEP 15's number. BEP 15 has no number for [`Event::Paused`], so a paused announce goes over UDP
/// as a regular one (0), and a UDP announce never parses as `Paused`.
///
/// torrentkit's own client never sends `Paused`: a paused torrent leaves the swarm with
/// [`Event::Stopped`] (it stops serving too), so BEP 21's upload-only partial seed does not arise.
/// The server accepts `paused` from other clients and keeps such a peer as a leecher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Event {
    /// A regular re-announce.
    #[default]
    None,
    /// The first announce of a download.
    Started,
    /// The download just finished; a tracker counts it once in the torrent's `downloaded` total.
    Completed,
    /// The client leaves the swarm.
    Stopped,
    /// BEP 21: a partial seed that does not want to download more.
    Paused,
}

impl Event {
    /// The HTTP `event` value, `None` for a regular announce (the parameter is left out).
    pub fn as_http(self) -> Option<&'static str> {
        match self {
            Event::None => None,
            Event::Started => Some("started"),
            Event::Completed => Some("completed"),
            Event::Stopped => Some("stopped"),
            Event::Paused => Some("paused"),
        }
    }

    /// Reads a decoded HTTP `event` value (`""` and `empty` are [`Event::None`]).
    pub fn from_http(value: &[u8]) -> Option<Event> {
        Some(match value {
            b"" | b"empty" => Event::None,
            b"started" => Event::Started,
            b"completed" => Event::Completed,
            b"stopped" => Event::Stopped,
            b"paused" => Event::Paused,
            _ => return None,
        })
    }

    /// The BEP 15 event number ([`Event::Paused`] goes as 0, see the type's docs).
    pub fn as_udp(self) -> u32 {
        match self {
            Event::None | Event::Paused => 0,
            Event::Completed => 1,
            Event::Started => 2,
            Event::Stopped => 3,
        }
    }

    /// Reads a BEP 15 event number; `None` for numbers above 3.
    pub fn from_udp(n: u32) -> Option<Event> {
        Some(match n {
            0 => Event::None,
            1 => Event::Completed,
            2 => Event::Started,
            3 => Event::Stopped,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_udp_forms_round_trip() {
        for e in [
            Event::None,
            Event::Started,
            Event::Completed,
            Event::Stopped,
            Event::Paused,
        ] {
            let http = e.as_http().unwrap_or("");
            assert_eq!(Event::from_http(http.as_bytes()), Some(e));
            let udp = Event::from_udp(e.as_udp()).unwrap();
            assert_eq!(udp, if e == Event::Paused { Event::None } else { e });
        }
        assert_eq!(Event::from_http(b"empty"), Some(Event::None));
        assert_eq!(Event::from_http(b"begun"), None);
        assert_eq!(Event::from_udp(4), None);
    }
}
