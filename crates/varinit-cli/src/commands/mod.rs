//! One module per subcommand: its clap arguments and its `run`.

pub mod audit;
pub mod bench;
pub mod critical;
pub mod fans;
pub mod gain;
pub mod gain_numeric;
pub mod init;
pub mod phase;
pub mod propagate;
pub mod sample;
pub mod schemes;
pub mod spec;
pub mod styles;
