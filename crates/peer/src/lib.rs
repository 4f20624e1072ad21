//! The BitTorrent peer engine.

mod bitfield;
mod conn_id;
mod picker;
mod rng;
pub mod storage;

pub use bitfield::{Bitfield, BitfieldError};
pub use conn_id::ConnId;
pub use picker::{BlockRequest, Picker, PickerConfig, Received};
pub use rng::Rng;
