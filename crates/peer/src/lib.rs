//! The BitTorrent peer engine.

mod bitfield;
mod choker;
mod conn_id;
mod picker;
mod resume;
mod rng;
pub mod storage;
pub mod tracker;

pub use bitfield::{Bitfield, BitfieldError};
pub use choker::{ChokeChanges, Choker, ChokerConfig, PeerStats};
pub use conn_id::ConnId;
pub use picker::{BlockRequest, Picker, PickerConfig, Received};
pub use resume::{FileStamp, ResumeData, ResumeError, ResumeMismatch};
pub use rng::Rng;
