//! `varinit styles [NAME|FILE] [--json]`: the built-in init styles with
//! their rules (the formulas) and sources, or one style, built in or from
//! a file (docs/styles.md).

use serde_json::{Value, json};
use varinit::style::{Style, VARIABLES};

use crate::output::{CliResult, print_json};

#[derive(clap::Args)]
pub struct Args {
    /// A built-in style name or a style file: show that one (rules, lets, variables, sources).
    pub style: Option<String>,
    /// One JSON document instead of text (docs/json.md).
    #[arg(long)]
    pub json: bool,
}

fn style_json(s: &Style) -> Value {
    json!({
        "name": s.name(),
        "about": s.about(),
        "sources": s.sources(),
        "file": s.file(),
        "variables": s.variables(),
        "lets": s.lets().iter().map(|l| json!({"name": l.name(), "expression": l.text(), "line": l.line()})).collect::<Vec<_>>(),
        "rules": s.rules().iter().map(|r| json!({
            "glob": r.glob().as_str(),
            "captures": r.glob().capture_names(),
            "scheme": r.scheme_text(),
            "line": r.line(),
        })).collect::<Vec<_>>(),
    })
}

fn print_style(s: &Style, full: bool) {
    if s.about().is_empty() {
        println!("{}", s.name());
    } else {
        println!("{}: {}", s.name(), s.about());
    }
    for src in s.sources() {
        println!("  source: {src}");
    }
    if full {
        println!("  file: {}", s.file());
        let vars = s.variables();
        if !vars.is_empty() {
            let described: Vec<String> = vars
                .iter()
                .map(|v| format!("{v} ({})", VARIABLES.iter().find(|x| x.0 == *v).map_or("", |x| x.1)))
                .collect();
            println!("  variables: {}", described.join(", "));
        }
    }
    for l in s.lets() {
        println!("  let {} = {}", l.name(), l.text());
    }
    let w = s.rules().iter().map(|r| r.glob().as_str().chars().count()).max().unwrap_or(0);
    for r in s.rules() {
        println!("  {:<w$} = {}", r.glob().as_str(), r.scheme_text());
    }
}

pub fn run(a: Args) -> CliResult {
    let styles: Vec<Style> = match &a.style {
        Some(arg) => vec![varinit_io::style::load(arg)?],
        None => Style::builtin_names().map(Style::builtin).collect::<Result<_, _>>()?,
    };
    if a.json {
        return print_json(&json!({
            "styles": styles.iter().map(style_json).collect::<Vec<_>>(),
            "variables": VARIABLES.iter().map(|(n, m)| json!({"name": n, "meaning": m})).collect::<Vec<_>>(),
        }));
    }
    for (i, s) in styles.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print_style(s, a.style.is_some());
    }
    if a.style.is_none() {
        println!();
        println!("Variables: {}.", VARIABLES.iter().map(|(n, m)| format!("{n} ({m})")).collect::<Vec<_>>().join(", "));
        println!("A tensor no rule matches, or whose rule says keep, keeps its architecture's scheme.");
        println!("`varinit styles NAME|FILE` shows one style; docs/styles.md has the file format.");
    }
    Ok(())
}
