//! The report's figure: B1 throughput and p99 latency against concurrency, one line per database. Drawn by
//! plotters into an RGB buffer (text by ab_glyph with a TrueType font of the system's), written as PNG.

use std::sync::OnceLock;

use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::scenarios::keycard::KeycardResult;

const WIDTH: u32 = 1100;
const HEIGHT: u32 = 440;

/// What one panel plots: its title, its y axis and the figure it reads from a point.
type Panel = (&'static str, &'static str, fn(&crate::load::Point) -> f64);

/// Fonts to draw the labels with, the first one found (Debian's fonts-dejavu-core, fonts-liberation, …).
const FONTS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
];

/// Registers a system font as plotters' "sans-serif" (once per process).
fn register_font() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let bytes = FONTS.iter().find_map(|f| std::fs::read(f).ok()).ok_or_else(|| {
                format!("no TrueType font found (looked for {}); install fonts-dejavu-core", FONTS[0])
            })?;
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| "unreadable font".into())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// Draws the figure as PNG bytes.
pub fn b1_png(results: &[KeycardResult]) -> anyhow::Result<Vec<u8>> {
    register_font()?;
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area(), results)?;
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&rgb)?;
    Ok(png)
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, results: &[KeycardResult]) -> anyhow::Result<()> {
    {
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
    Ok(())
}
