//! Workspace-level end-to-end tests live in `tests/tests/`; this library is empty. They use the
//! crates together through their public APIs only, as a program embedding torrentkit would, so a
//! crate's own tests never need another library crate of the workspace as a dev-dependency.
