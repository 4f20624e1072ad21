//! The UDP tracker (BEP 15): the packet codec, connection ids, the request handling and the
//! socket loop.

mod connection_id;
mod handler;
mod packet;
mod service;

pub use connection_id::ConnectionIds;
pub use packet::{
    transaction_id_of, PacketError, UdpAnnounce, UdpRequest, UdpResponse, ANNOUNCE_LEN, PROTOCOL_ID,
};
pub use service::UdpService;
