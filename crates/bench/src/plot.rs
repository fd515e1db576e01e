//! The report's figure: B1 throughput and p99 latency against concurrency, one line per database. Drawn as
//! SVG by plotters, rasterised to PNG by resvg with the system's fonts.

use anyhow::anyhow;
use plotters::prelude::*;

use crate::scenarios::keycard::KeycardResult;

const WIDTH: u32 = 1100;

/// What one panel plots: its title, its y axis and the figure it reads from a point.
type Panel = (&'static str, &'static str, fn(&crate::load::Point) -> f64);
const HEIGHT: u32 = 440;

/// Draws the figure as PNG bytes.
pub fn b1_png(results: &[KeycardResult]) -> anyhow::Result<Vec<u8>> {
    let svg = b1_svg(results)?;
    let mut options = resvg::usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_system_fonts();
    // plotters asks for "sans-serif"; name a family this machine has (without one, no text is drawn).
    let families: Vec<String> = fonts.faces().flat_map(|f| f.families.iter().map(|(name, _)| name.clone())).collect();
    let family = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "FreeSans"]
        .iter()
        .map(|f| f.to_string())
        .find(|f| families.contains(f))
        .or_else(|| families.first().cloned());
    match family {
        Some(f) => {
            fonts.set_sans_serif_family(f.clone());
            options.font_family = f;
        }
        None => eprintln!("noegle-bench: no fonts found; the plot has no text (install fonts-dejavu-core)"),
    }
    let tree = resvg::usvg::Tree::from_str(&svg, &options)?;
    let mut pixmap = resvg::tiny_skia::Pixmap::new(WIDTH, HEIGHT).ok_or_else(|| anyhow!("empty figure"))?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(&tree, resvg::tiny_skia::Transform::default(), &mut pixmap.as_mut());
    Ok(pixmap.encode_png()?)
}

fn b1_svg(results: &[KeycardResult]) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let (left, right) = root.split_horizontally(WIDTH / 2);
        // Concurrency doubles from point to point: plot it on a log₂ axis, labelled with the concurrency.
        let max_c = results.iter().flat_map(|r| r.points.iter().map(|p| p.concurrency)).max().unwrap_or(1).max(2);
        let x_max = (max_c as f64).log2();
        let panels: [Panel; 2] = [
            ("B1 key-card log-ins: throughput", "log-ins per second", |p| p.per_sec),
            ("B1 key-card log-ins: p99 latency", "p99 latency (ms)", |p| p.p99_ms),
        ];
        for (area, (title, y_label, value)) in [&left, &right].into_iter().zip(panels) {
            let y_max = results.iter().flat_map(|r| r.points.iter().map(value)).fold(1.0_f64, f64::max) * 1.15;
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(-0.2..x_max + 0.2, 0.0..y_max)
                .map_err(|e| anyhow!("{e}"))?;
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .x_labels(x_max as usize + 1)
                .x_label_formatter(&|x| format!("{}", 2f64.powf(x.round()).round()))
                .x_desc("concurrent log-ins")
                .y_desc(y_label)
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| anyhow!("{e}"))?;
            for (i, r) in results.iter().enumerate() {
                let color = Palette99::pick(i).to_rgba();
                let points: Vec<(f64, f64)> =
                    r.points.iter().map(|p| ((p.concurrency as f64).log2(), value(p))).collect();
                chart
                    .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                    .map_err(|e| anyhow!("{e}"))?
                    .label(r.backend.name())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
                chart
                    .draw_series(points.into_iter().map(|p| Circle::new(p, 4, color.filled())))
                    .map_err(|e| anyhow!("{e}"))?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(|e| anyhow!("{e}"))?;
        }
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    Ok(svg)
}
