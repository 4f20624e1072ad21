//! Workspace-level end-to-end tests live under `tests/`; this library is empty.
