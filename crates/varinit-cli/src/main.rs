//! `varinit`: the command-line front end. Glue only: parsing, printing,
//! exit codes. Everything else lives in the `varinit` and `varinit-io`
//! libraries.

mod commands;
mod interrupt;
mod output;
mod plot;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::CliError;

/// Neural-network weight initialization: every PyTorch / Keras / JAX
/// scheme with its exact semantics, reproducible bit for bit.
#[derive(Parser)]
#[command(name = "varinit", version, about, long_about = None, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a plain deep network: variance of signals and gradients per layer vs mean-field theory.
    Propagate(commands::propagate::Args),
    /// Draw a tensor from a scheme: its resolved distribution, statistics, and optionally a file.
    Sample(commands::sample::Args),
    /// Write an initialized checkpoint (spec file, preset or Hugging Face config) as safetensors shards.
    Init(commands::init::Args),
    /// Statistics of a checkpoint's tensors and a verdict against their expected schemes.
    Audit(commands::audit::Args),
    /// Write a spec file (TOML) from an existing safetensors checkpoint: names, shapes, dtypes, schemes.
    Spec(commands::spec::Args),
    /// PyTorch's gain table, or one nonlinearity's gain (--numeric: any activation's, from theory).
    Gain(commands::gain::Args),
    /// The edge of chaos (chi_1 = 1) of an activation: sigma_w^2, q*, depth scales, the init to use.
    Critical(commands::critical::Args),
    /// The ordered/chaotic phase diagram of an activation in (sigma_w^2, sigma_b^2).
    Phase(commands::phase::Args),
    /// fan_in, fan_out and receptive field of a weight shape.
    Fans(commands::fans::Args),
    /// List every scheme with its parameters.
    Schemes(commands::schemes::Args),
    /// List the init styles (built-in rule files: which tensors get which std, by layer and depth).
    Styles(commands::styles::Args),
    /// Time the kernels against a plain fill of the same buffer (the memory ceiling).
    Bench(commands::bench::Args),
}

/// Die quietly when stdout is closed early (`varinit propagate | head -2`), as
/// Unix tools do, instead of Rust's default of ignoring SIGPIPE and then
/// panicking in `println!` ("failed printing to stdout: Broken pipe", exit
/// 101). Nothing varinit writes to a file is affected: SIGPIPE only comes
/// from pipes and sockets, and every file is written to a temporary name
/// and renamed when complete.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gain(a) => commands::gain::run(a),
        Command::Fans(a) => commands::fans::run(a),
        Command::Sample(a) => commands::sample::run(a),
        Command::Schemes(a) => commands::schemes::run(a),
        Command::Styles(a) => commands::styles::run(a),
        Command::Init(a) => commands::init::run(a),
        Command::Audit(a) => commands::audit::run(a),
        Command::Spec(a) => commands::spec::run(a),
        Command::Propagate(a) => commands::propagate::run(a),
        Command::Critical(a) => commands::critical::run(a),
        Command::Phase(a) => commands::phase::run(a),
        Command::Bench(a) => commands::bench::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError { code, message }) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}
