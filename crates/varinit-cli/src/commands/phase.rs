//! `varinit phase ACTIVATION [--plot FILE] [--sigma-w2-max X] [--sigma-b2-max X] [--json]`

use std::path::PathBuf;

use plotters::coord::Shift;
use plotters::prelude::*;
use rayon::prelude::*;
use serde_json::json;
use varinit::Activation;
use varinit_theory::meanfield::{CriticalSearch, LengthFixedPoint, MeanField, critical};

use crate::commands::critical::jnum;
use crate::output::{CliError, CliResult, Table, num, print_json, progress_bar};
use crate::plot::{FAMILY, Figure, format_of, render};

#[derive(clap::Args)]
pub struct Args {
    /// The activation (tanh, relu, leaky_relu(0.2), elu(1), selu, gelu, ...).
    pub activation: String,
    /// Draw the phase diagram to FILE.svg or FILE.png.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Right end of the sigma_w^2 axis.
    #[arg(long = "sigma-w2-max", default_value_t = 4.0, allow_hyphen_values = true)]
    pub sigma_w2_max: f64,
    /// Top of the sigma_b^2 axis.
    #[arg(long = "sigma-b2-max", default_value_t = 2.0, allow_hyphen_values = true)]
    pub sigma_b2_max: f64,
    /// Points on the critical line.
    #[arg(long, default_value_t = 41)]
    pub points: usize,
    /// One JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// chi_1 at the fixed point from q0 = 1; None where q* is unbounded.
fn chi1_at(act: Activation, w: f64, b: f64) -> Option<f64> {
    let m = MeanField::new(act, w, b).ok()?;
    match m.length_fixed_point(1.0).ok()? {
        LengthFixedPoint::Finite(q) => Some(m.chi1(q)),
        LengthFixedPoint::Unbounded => None,
    }
}

struct Diagram {
    act: Activation,
    wmax: f64,
    bmax: f64,
    /// (w, b, chi_1) at cell centres; nx x ny cells.
    cells: Vec<(f64, f64, Option<f64>)>,
    nx: usize,
    ny: usize,
    line: Vec<(f64, f64)>,
}

impl Figure for Diagram {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
        let title = format!("Mean-field phase diagram: {}", self.act);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FAMILY, 24))
            .margin(16)
            .x_label_area_size(52)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..self.wmax, 0.0..self.bmax)
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("σ_w²  (weight variance × fan-in)")
            .y_desc("σ_b²  (bias variance)")
            .label_style((FAMILY, 15))
            .axis_desc_style((FAMILY, 17))
            .draw()
            .map_err(e)?;
        let (dx, dy) = (self.wmax / self.nx as f64, self.bmax / self.ny as f64);
        let color = |chi: Option<f64>| -> RGBColor {
            match chi {
                None => RGBColor(170, 170, 170),
                Some(c) => {
                    let t = (c.ln().abs() / 1.2).min(1.0) * 0.75 + 0.1;
                    let (r, g, b) = if c < 1.0 { (33.0, 102.0, 172.0) } else { (178.0, 24.0, 43.0) };
                    let mix = |x: f64| (255.0 + (x - 255.0) * t).round() as u8;
                    RGBColor(mix(r), mix(g), mix(b))
                }
            }
        };
        // 0 ordered, 1 chaotic, 2 unbounded
        let region = |c: Option<f64>| match c {
            Some(c) if c < 1.0 => 0,
            Some(_) => 1,
            None => 2,
        };
        let groups = [
            ("ordered: χ₁ < 1, gradients vanish", RGBColor(90, 140, 200)),
            ("chaotic: χ₁ > 1, gradients explode", RGBColor(200, 80, 90)),
            ("q* unbounded: the signal itself explodes", RGBColor(170, 170, 170)),
        ];
        for (k, (label, swatch)) in groups.into_iter().enumerate() {
            let rects: Vec<_> = self
                .cells
                .iter()
                .filter(|(_, _, c)| region(*c) == k)
                .map(|&(w, b, c)| {
                    Rectangle::new([(w - dx / 2.0, b - dy / 2.0), (w + dx / 2.0, b + dy / 2.0)], color(c).filled())
                })
                .collect();
            if rects.is_empty() {
                continue;
            }
            chart
                .draw_series(rects)
                .map_err(e)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], swatch.filled()));
        }
        if !self.line.is_empty() {
            let style = ShapeStyle { color: BLACK.to_rgba(), filled: false, stroke_width: 3 };
            let pts: Vec<_> = self.line.iter().copied().filter(|(w, _)| *w <= self.wmax).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(e)?
                .label("edge of chaos: χ₁ = 1")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            if pts.len() == 1 {
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 6, BLACK.filled()))).map_err(e)?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FAMILY, 15))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(e)?;
        Ok(())
    }
}

pub fn run(a: Args) -> CliResult {
    let act: Activation = a.activation.parse()?;
    for (name, v) in [("--sigma-w2-max", a.sigma_w2_max), ("--sigma-b2-max", a.sigma_b2_max)] {
        if !v.is_finite() || v <= 0.0 {
            return Err(CliError::usage(format!("{name} {v}: must be a finite number > 0")));
        }
    }
    if a.points < 2 {
        return Err(CliError::usage(format!("--points {}: must be at least 2", a.points)));
    }
    if let Some(p) = &a.plot {
        format_of(p)?;
    }
    // quadratic spacing: the line bends most near sigma_b^2 = 0
    let sb2s: Vec<f64> = (0..a.points).map(|i| a.sigma_b2_max * (i as f64 / (a.points - 1) as f64).powi(2)).collect();
    let cells_n = if a.plot.is_some() { 96 * 64 } else { 0 };
    let bar = progress_bar((sb2s.len() + cells_n) as u64, "phase diagram", false);
    let tick = || {
        if let Some(b) = &bar {
            b.inc(1);
        }
    };
    let line: Vec<(f64, CriticalSearch)> = sb2s
        .par_iter()
        .map(|&b| {
            let c = critical(act, b, 1.0);
            tick();
            Ok((b, c?))
        })
        .collect::<Result<_, varinit::Error>>()?;
    let found: Vec<(f64, f64, f64)> =
        line.iter().filter_map(|(b, c)| c.point().map(|p| (p.sigma_w2, *b, p.q_star))).collect();
    if let Some(path) = &a.plot {
        let (nx, ny) = (96usize, 64usize);
        let cells: Vec<(f64, f64, Option<f64>)> = (0..nx * ny)
            .into_par_iter()
            .map(|k| {
                let (i, j) = (k % nx, k / nx);
                let w = a.sigma_w2_max * (i as f64 + 0.5) / nx as f64;
                let b = a.sigma_b2_max * (j as f64 + 0.5) / ny as f64;
                let chi = chi1_at(act, w, b);
                tick();
                (w, b, chi)
            })
            .collect();
        debug_assert_eq!(cells.len(), cells_n);
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        let fig = Diagram {
            act,
            wmax: a.sigma_w2_max,
            bmax: a.sigma_b2_max,
            cells,
            nx,
            ny,
            line: found.iter().map(|&(w, b, _)| (w, b)).collect(),
        };
        render(path, (900, 640), &fig)?;
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if a.json {
        let pts: Vec<_> = line
            .iter()
            .map(|(b, c)| match c {
                CriticalSearch::Found(p) => {
                    json!({"sigma_b2": b, "sigma_w2": jnum(p.sigma_w2), "q_star": jnum(p.q_star)})
                }
                CriticalSearch::NotFound { reason } => json!({"sigma_b2": b, "sigma_w2": null, "reason": reason}),
            })
            .collect();
        return print_json(&json!({
            "activation": act.to_string(),
            "critical_line": pts,
            "plot": a.plot.as_ref().map(|p| p.display().to_string()),
        }));
    }
    println!("{act}: edge of chaos (chi_1 = 1 at the fixed point q* reached from q0 = 1)");
    let mut t = Table::new(["sigma_b^2", "sigma_w^2", "q*"]);
    let mut missing = None;
    for (b, c) in &line {
        match c {
            CriticalSearch::Found(p) => t.row([num(*b), num(p.sigma_w2), num(p.q_star)]),
            CriticalSearch::NotFound { reason } => {
                t.row([num(*b), "-".to_string(), "-".to_string()]);
                missing.get_or_insert(reason.clone());
            }
        }
    }
    print!("{}", t.render());
    if let Some(r) = missing {
        println!("-: {r}");
    }
    if let Some(p) = &a.plot {
        println!("plot written to {}", p.display());
    }
    Ok(())
}
