//! One module per subcommand: its clap arguments and its `run`.

pub mod audit;
pub mod bench;
pub mod fans;
pub mod gain;
pub mod init;
pub mod sample;
pub mod schemes;
