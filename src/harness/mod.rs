//! The Harness NextGen API: the settings that say where it is and who rekey is there
//! (`settings`), an HTTP client that retries only what is safe to repeat (`client`), the
//! delegate-token resource (`api`) and which delegates are still alive on a token
//! (`readiness`). The rest of the pipeline never depends on this stage: `cli` calls it to
//! create, gate and revoke tokens, and `report` words what it returns.

pub mod api;
pub mod client;
pub mod readiness;
pub mod settings;
