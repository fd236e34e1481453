//! Plots: SVG and PNG through plotters, with the text drawn from DejaVu
//! Sans compiled into the binary (`assets/fonts/`), so a PNG renders the
//! same everywhere, without system fonts. Files are written atomically.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use varinit_io::atomic::AtomicFile;

use crate::output::{CliError, check_output_file};

static FONT: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");

/// The font family every text element uses.
pub const FAMILY: &str = "sans-serif";

fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold, FontStyle::Italic, FontStyle::Oblique] {
            // The font is compiled in and known to parse.
            let _ = register_font(FAMILY, style, FONT);
        }
    });
}

/// SVG or PNG, from the file name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Svg,
    Png,
}

/// Check a plot path before any work is done: its extension picks the
/// format, and its folder must exist.
pub fn format_of(path: &Path) -> Result<Format, CliError> {
    let format = match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("svg") => Format::Svg,
        Some("png") => Format::Png,
        _ => return Err(CliError::usage(format!("--plot {}: the file name must end in .svg or .png", path.display()))),
    };
    check_output_file("--plot", path)?;
    Ok(format)
}

/// A colour-blind-safe palette (Okabe & Ito 2008).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// Something that can draw itself on any plotters backend.
pub trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Draw `fig` on a `size` canvas and write it to `path` (SVG or PNG).
pub fn render(path: &Path, size: (u32, u32), fig: &impl Figure) -> Result<(), CliError> {
    register();
    let fail = |e: String| CliError::failure(format!("cannot draw {}: {e}", path.display()));
    let bytes = match format_of(path)? {
        Format::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
                root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
                fig.draw(&root).map_err(fail)?;
                root.present().map_err(|e| fail(e.to_string()))?;
            }
            s.into_bytes()
        }
        Format::Png => {
            let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
                root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
                fig.draw(&root).map_err(fail)?;
                root.present().map_err(|e| fail(e.to_string()))?;
            }
            encode_png(&buf, size).map_err(fail)?
        }
    };
    let mut f = AtomicFile::create(path)?;
    f.write_all(&bytes)?;
    f.commit()?;
    Ok(())
}

fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Plots are mostly flat colour: the best compression keeps them small.
        enc.set_compression(png::Compression::Best);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// A line on a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text (`None`: not in the legend).
    pub label: Option<String>,
    /// Palette index.
    pub color: usize,
    /// Dashed (a prediction) or solid (a measurement).
    pub dashed: bool,
    /// Points; non-finite or (on a log axis) non-positive values are skipped.
    pub points: Vec<(f64, f64)>,
}

/// One panel: a chart with a logarithmic y axis.
#[derive(Clone, Debug)]
pub struct Panel {
    pub caption: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

/// y range of the positive, finite values, padded, as powers of ten.
fn log_range(panel: &Panel) -> (f64, f64) {
    let ys = panel.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|y| y.is_finite() && *y > 0.0);
    let (mut lo, mut hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
    if !lo.is_finite() {
        return (0.1, 10.0);
    }
    // clip absurd ranges so a panel stays readable
    lo = lo.max(hi * 1e-300).max(1e-300);
    hi = hi.min(1e300);
    let (l, h) = (lo.log10().floor(), hi.log10().ceil());
    let h = if h <= l { l + 1.0 } else { h };
    (10f64.powf(l), 10f64.powf(h))
}

/// Panels side by side under a title.
pub struct Panels {
    pub title: String,
    pub panels: Vec<Panel>,
}

impl Figure for Panels {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw_panels(root, &self.title, &self.panels)
    }
}

/// Draw panels side by side on `root`.
pub fn draw_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[Panel],
) -> Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let (w, _) = root.dim_in_pixel();
    let title_size = (w as f64 / 60.0).clamp(16.0, 26.0);
    let root = root.titled(title, (FAMILY, title_size)).map_err(e)?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (k, (area, panel)) in areas.iter().zip(panels).enumerate() {
        let xs = panel.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        let (x0, x1) = if x0.is_finite() && x1 > x0 { (x0, x1) } else { (0.0, 1.0) };
        let (y0, y1) = log_range(panel);
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.caption, (FAMILY, 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(74)
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(panel.x_label.as_str())
            .y_desc(panel.y_label.as_str())
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 16))
            .y_labels(12)
            .y_label_formatter(&|y| fmt_power(*y))
            .x_label_formatter(&|x| format!("{}", x.round()))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(e)?;
        for s in &panel.series {
            let color = PALETTE[s.color % PALETTE.len()];
            let pts: Vec<(f64, f64)> =
                s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite() && *y > 0.0).collect();
            let style = ShapeStyle { color: color.to_rgba(), filled: false, stroke_width: 2 };
            if s.dashed {
                let series = DashedLineSeries::new(pts, 7, 5, style);
                let anno = chart.draw_series(series).map_err(e)?;
                if let Some(l) = s.label.as_ref().filter(|_| k == 0) {
                    anno.label(l.as_str())
                        .legend(move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 24, y)], 5, 3, style));
                }
            } else {
                let anno = chart.draw_series(LineSeries::new(pts, style)).map_err(e)?;
                if let Some(l) = s.label.as_ref().filter(|_| k == 0) {
                    anno.label(l.as_str()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
                }
            }
        }
        // One legend, in the first panel (the panels share their series).
        if k == 0 && panel.series.iter().any(|s| s.label.is_some()) {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerLeft)
                .label_font((FAMILY, 14))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .draw()
                .map_err(e)?;
        }
    }
    Ok(())
}

/// `1e-5`, `1`, `1e3`: labels for a log axis.
pub fn fmt_power(y: f64) -> String {
    if y <= 0.0 || !y.is_finite() {
        return String::new();
    }
    let p = y.log10();
    if (p - p.round()).abs() < 1e-9 {
        let k = p.round() as i32;
        return match k {
            0 => "1".into(),
            1 => "10".into(),
            -1 => "0.1".into(),
            _ => format!("1e{k}"),
        };
    }
    let s = format!("{y:.1e}");
    s.replace("e0", "")
}
