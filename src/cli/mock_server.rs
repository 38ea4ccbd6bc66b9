//! `aiperf mock-server`: serve the embedded mock server until Ctrl-C.

use crate::mock::MockConfig;

/// Flags of `aiperf mock-server`.
#[derive(Debug, clap::Args)]
pub struct MockServerArgs {
    /// Port to listen on (0 = a free port, printed at start).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Behaviour of the server.
    #[command(flatten)]
    pub config: MockConfig,
}
