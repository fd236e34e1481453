//! SIGINT, SIGTERM and SIGHUP, handled the same way by every writing
//! command (`init`, `sample -o`).
//!
//! The first signal raises a flag that the writer checks between pieces:
//! it stops, removes its temporary files and the command exits 130. A
//! second signal (say during a long final sync) exits at once, after
//! removing every temporary and lock file the process still has, so even
//! then nothing is left behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::output::CliError;

/// Install the handler; the flag is raised by the first signal.
pub fn install() -> Result<Arc<AtomicBool>, CliError> {
    let cancel = Arc::new(AtomicBool::new(false));
    let c = Arc::clone(&cancel);
    ctrlc::set_handler(move || {
        if c.swap(true, Ordering::SeqCst) {
            varinit_io::atomic::remove_temporaries();
            std::process::exit(130);
        }
    })
    .map_err(|e| CliError::failure(format!("cannot install the signal handler: {e}")))?;
    Ok(cancel)
}
