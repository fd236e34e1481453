//! Error type, number formatting and table printing shared by the commands.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;

use varinit::ErrorClass;

/// A failure to report: one line and an exit status (2 for bad input, 1
/// for everything else).
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// Bad input: exit status 2.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError { code: 2, message: message.into() }
    }
    /// A failure while doing the work: exit status 1.
    pub fn failure(message: impl Into<String>) -> Self {
        CliError { code: 1, message: message.into() }
    }

    /// Exit status 2 for the caller's mistakes, 1 for failures while working.
    pub fn classed(class: ErrorClass, message: impl Into<String>) -> Self {
        match class {
            ErrorClass::Usage => CliError::usage(message),
            ErrorClass::Failure => CliError::failure(message),
        }
    }
    /// The same error, its message prefixed with what it concerns (a flag).
    pub fn context(self, what: &str) -> Self {
        CliError { code: self.code, message: format!("{what}: {}", self.message) }
    }
}

impl From<varinit::Error> for CliError {
    fn from(e: varinit::Error) -> Self {
        CliError::classed(e.class(), e.to_string())
    }
}

impl From<varinit_io::IoError> for CliError {
    fn from(e: varinit_io::IoError) -> Self {
        use varinit_io::IoError;
        // the library's messages name no flag: add the one that helps, by variant
        let hint = match &e {
            IoError::FolderNotEmpty { .. } | IoError::ForeignShards { .. } => " (--force)",
            _ => "",
        };
        CliError::classed(e.class(), format!("{e}{hint}"))
    }
}

pub type CliResult = Result<(), CliError>;

/// Check, before any work, that an output file can be created where it is
/// asked for: its folder exists and the path is not a folder. (The write
/// itself goes to a temporary file in that folder, renamed when complete.)
pub fn check_output_file(flag: &str, path: &Path) -> Result<(), CliError> {
    let shown = path.display();
    if path.as_os_str().is_empty() {
        return Err(CliError::usage(format!("{flag}: the file name is empty")));
    }
    if path.is_dir() {
        return Err(CliError::usage(format!("{flag} {shown}: is a folder, give a file name")));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(CliError::usage(format!("{flag} {shown}: {} is not a folder", parent.display()))),
        Err(_) => Err(CliError::usage(format!(
            "{flag} {shown}: the folder {} does not exist (create it first)",
            parent.display()
        ))),
    }
}

/// A progress bar on stderr for `len` units of work, or `None` when stderr
/// is not a terminal (logs, pipes, CI): nothing is drawn there. `bytes`
/// shows the units as bytes with a rate.
pub fn progress_bar(len: u64, message: &str, bytes: bool) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let template = if bytes {
        "{msg} {bar:40} {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} ETA {eta}"
    } else {
        "{spinner} {msg} {bar:40} {pos}/{len} {elapsed} ETA {eta}"
    };
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(indicatif::ProgressStyle::with_template(template).expect("a valid template"));
    pb.set_message(message.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(pb)
}

/// Print one JSON document on stdout.
pub fn print_json(v: &serde_json::Value) -> CliResult {
    let s = serde_json::to_string_pretty(v).map_err(|e| CliError::failure(e.to_string()))?;
    println!("{s}");
    Ok(())
}

/// A number with 6 significant digits, trailing zeros removed
/// ([`varinit::number::significant`]).
pub fn num(x: f64) -> String {
    varinit::number::significant(x, 6)
}

/// A plain text table: columns padded to their widest cell, numbers
/// right-aligned.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Table { header: header.into_iter().map(Into::into).collect(), rows: Vec::new() }
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn render(&self) -> String {
        let ncol = self.header.len();
        // Long cells (a 70,000-character tensor name) are shortened with an
        // ellipsis in the middle; the JSON output keeps them whole.
        let shortened: Vec<Vec<String>> = std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(i, c)| ellipsize(c, if i + 1 == ncol { MAX_LAST_CELL } else { MAX_CELL }))
                    .collect()
            })
            .collect();
        let mut width = vec![0; ncol];
        for r in &shortened {
            for (i, c) in r.iter().enumerate().take(ncol) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let numeric = |s: &str| s.parse::<f64>().is_ok() || s == "nan" || s == "inf" || s == "-inf";
        let mut out = String::new();
        for (k, r) in shortened.iter().enumerate() {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate().take(ncol) {
                if i > 0 {
                    line.push_str("  ");
                }
                if k > 0 && numeric(c) {
                    let _ = write!(line, "{c:>w$}", w = width[i]);
                } else {
                    let _ = write!(line, "{c:<w$}", w = width[i]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Widest table cell, in characters (the last column: [`MAX_LAST_CELL`]).
pub const MAX_CELL: usize = 64;
/// Widest cell of a table's last column (verdicts and notes).
pub const MAX_LAST_CELL: usize = 400;

/// `s` if it has at most `max` characters, else its start and end around
/// an ellipsis, `max` characters in all.
pub fn ellipsize(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(1);
    let head = keep * 2 / 3;
    let tail = keep - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cells_are_shortened() {
        let long = "x".repeat(70_000) + "end";
        let mut t = Table::new(["name", "note"]);
        t.row([long.clone(), long.clone()]);
        let r = t.render();
        assert!(r.lines().all(|l| l.chars().count() <= MAX_CELL + 2 + MAX_LAST_CELL), "{}", r.len());
        assert!(r.contains('…') && r.lines().nth(1).unwrap().ends_with("xend"));
        assert_eq!(ellipsize("abc", 3), "abc");
        assert_eq!(ellipsize("abcdef", 4).chars().count(), 4);
    }

    #[test]
    fn numbers() {
        assert_eq!(num(0.0625), "0.0625");
        assert_eq!(num(1.0 / 3.0), "0.333333");
        assert_eq!(num(123456.0), "123456");
        assert_eq!(num(1234567.0), "1.23457e6");
        assert_eq!(num(-0.00001234), "-1.234e-5");
        assert_eq!(num(2.0), "2");
    }
}
