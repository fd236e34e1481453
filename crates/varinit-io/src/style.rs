//! Loading an init style by name or from a file (the styles themselves,
//! and applying them, are `varinit::style`).

use std::path::Path;

use varinit::style::Style;

use crate::{IoError, Result};

/// Longest style file read, in bytes (a style is a few dozen lines).
pub const MAX_STYLE_BYTES: u64 = 1 << 20;

/// A built-in style by name, else the style file at that path. A name
/// that is neither gets [`varinit::Error::UnknownStyle`] (with the closest
/// built-in name) when no such file exists.
pub fn load(name_or_path: &str) -> Result<Style> {
    if Style::builtin_names().any(|n| n == name_or_path) {
        return Ok(Style::builtin(name_or_path)?);
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        // a mistyped built-in name reads better than "no such file"
        return Err(Style::builtin(name_or_path)
            .err()
            .map(IoError::from)
            .unwrap_or_else(|| IoError::Usage(format!("no style {name_or_path:?}"))));
    }
    let meta = std::fs::metadata(path).map_err(|e| IoError::os(path, e))?;
    if meta.len() > MAX_STYLE_BYTES {
        return Err(IoError::Usage(format!(
            "{}: {} bytes; a style file has at most {MAX_STYLE_BYTES}",
            path.display(),
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| IoError::os(path, e))?;
    Ok(Style::parse(&text, &path.display().to_string())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_files_and_typos() {
        assert_eq!(load("olmo").unwrap().name(), "olmo");
        let dir = std::env::temp_dir().join(format!("varinit-style-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("mine.style");
        std::fs::write(&f, "*.bias = zeros\nx.w = normal(std=sdt)\n").unwrap();
        let e = load(f.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:2:18: unknown variable \"sdt\"", f.display())), "{e}");
        std::fs::write(&f, "*.bias = zeros\n").unwrap();
        assert_eq!(load(f.to_str().unwrap()).unwrap().name(), "mine");
        let e = load("megatorn").unwrap_err().to_string();
        assert!(e.contains("did you mean \"megatron\""), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
