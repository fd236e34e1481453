//! Time and peak memory of auditing adversarial headers: every entry a
//! zero-size tensor with a short name (the most tensors per byte), or one
//! huge metadata map of one-byte strings. Run with
//! `cargo run --release -p varinit-io --example hostile_header [MB ...]`;
//! the README quotes its output.

use std::time::Instant;

use varinit_io::audit::{self, AuditOptions};

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn file(path: &std::path::Path, json: &str) {
    let mut b = (json.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(json.as_bytes());
    std::fs::write(path, b).unwrap();
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![1] } else { sizes };
    let dir = std::env::temp_dir().join(format!("varinit-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for mb in sizes {
        for kind in ["tensors", "metadata"] {
            let target = mb << 20;
            let mut h = String::with_capacity(target + 64);
            h.push('{');
            let mut i = 0u64;
            if kind == "metadata" {
                h.push_str(r#""__metadata__":{"#);
            }
            while h.len() < target {
                if i > 0 {
                    h.push(',');
                }
                if kind == "tensors" {
                    h.push_str(&format!(r#""{i:x}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#));
                } else {
                    h.push_str(&format!(r#""{i:x}":"a""#));
                }
                i += 1;
            }
            if kind == "metadata" {
                h.push('}');
            }
            h.push('}');
            let p = dir.join(format!("{kind}-{mb}.safetensors"));
            file(&p, &h);
            let bytes = h.len();
            drop(h);
            let before = peak_rss_kb();
            let t = Instant::now();
            let r = audit::audit(&p, &AuditOptions::default()).unwrap();
            let secs = t.elapsed().as_secs_f64();
            let after = peak_rss_kb();
            println!(
                "{kind:>8}: header {bytes} bytes, {i} entries, {} tensors audited in {secs:.3} s ({:.1} ns/byte), peak RSS {} kB -> {} kB ({:.1} bytes of memory per header byte)",
                r.tensors.len(),
                secs * 1e9 / bytes as f64,
                before,
                after,
                (after.saturating_sub(before) * 1024) as f64 / bytes as f64
            );
            std::fs::remove_file(&p).unwrap();
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
