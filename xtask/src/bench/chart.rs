//! `target/bench/ratios.svg`: one horizontal bar per report row that has a ratio, on a
//! log scale from the 1× line (right: ours faster or smaller; left: slower or larger),
//! coloured by the row's verdict.
//!
//! plotters with only its SVG backend: no font crates, the viewer lays the text out.

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub struct Bar {
    pub label: String,
    /// theirs ÷ ours.
    pub ratio: f64,
    pub pass: Option<bool>,
}

const PASS: RGBColor = RGBColor(46, 139, 87);
const FAIL: RGBColor = RGBColor(200, 50, 50);
const INFO: RGBColor = RGBColor(90, 120, 170);
const WIDTH: u32 = 1200;
const ROW: u32 = 30;
const LABELS: u32 = 440;
const FONT: &str = "sans-serif";

/// The chart as an SVG document.
pub fn ratios(bars: &[Bar]) -> Result<String> {
    let mut svg = String::new();
    let height = 180 + ROW * bars.len().max(1) as u32;
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        draw(&root, bars).map_err(|e| anyhow!("drawing ratios.svg: {e}"))?;
        root.present()
            .map_err(|e| anyhow!("drawing ratios.svg: {e}"))?;
    }
    Ok(svg)
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn draw(whole: &DrawingArea<SVGBackend, Shift>, bars: &[Bar]) -> DrawResult {
    whole.fill(&WHITE)?;
    let (_, bottom) = whole.dim_in_pixel();
    let (root, legend) = whole.split_vertically(bottom - 36);
    let root = &root;
    let (lo, hi) = x_range(bars);
    let n = bars.len().max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "sparkimg vs what users run today: theirs ÷ ours (log scale)",
            (FONT, 22),
        )
        .margin(15)
        .margin_right(40)
        .x_label_area_size(50)
        .y_label_area_size(LABELS)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("theirs ÷ ours   (right of 1×: sparkimg faster or smaller)")
        .x_label_formatter(&|v| format!("{}×", trim(*v)))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()?;

    // Row i from the top: y from n - i - 1 to n - i, the bar in its middle 70 %.
    let y = |i: usize| n - i as f64 - 0.5;
    chart.draw_series(bars.iter().enumerate().map(|(i, bar)| {
        let color = match bar.pass {
            Some(true) => PASS,
            Some(false) => FAIL,
            None => INFO,
        };
        Rectangle::new(
            [(1.0, y(i) - 0.35), (bar.ratio.clamp(lo, hi), y(i) + 0.35)],
            color.filled(),
        )
    }))?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, 0.0), (1.0, n)],
        BLACK.stroke_width(2),
    )))?;

    // Texts go on the root area in pixels: the labels sit left of the plot, and the
    // values just past each bar's end.
    let label_style =
        TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, bar) in bars.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(lo, y(i)));
        root.draw(&Text::new(
            bar.label.clone(),
            (px - 10, py),
            label_style.clone(),
        ))?;
        let end = chart.backend_coord(&(bar.ratio.clamp(lo, hi), y(i))).0;
        let (x, h) = if bar.ratio >= 1.0 {
            (end + 6, HPos::Left)
        } else {
            (end - 6, HPos::Right)
        };
        let value_style = TextStyle::from((FONT, 13).into_font().style(FontStyle::Bold))
            .pos(Pos::new(h, VPos::Center));
        root.draw(&Text::new(
            format!("{}×", ratio_text(bar.ratio)),
            (x, py),
            value_style,
        ))?;
    }

    let legend_y = 14;
    let mut x = LABELS as i32 + 15;
    for (color, text) in [
        (PASS, "target met"),
        (FAIL, "target missed"),
        (INFO, "no target (informs)"),
    ] {
        legend.draw(&Rectangle::new(
            [(x, legend_y - 6), (x + 14, legend_y + 6)],
            color.filled(),
        ))?;
        legend.draw(&Text::new(
            text,
            (x + 20, legend_y),
            TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += 40 + 9 * text.len() as i32;
    }
    Ok(())
}

/// From a power of ten at or below the smallest ratio (and 1) to one at or above the
/// largest, so the 1× line is always in and the ticks are round.
fn x_range(bars: &[Bar]) -> (f64, f64) {
    let min = bars.iter().map(|b| b.ratio).fold(1.0, f64::min);
    let max = bars.iter().map(|b| b.ratio).fold(1.0, f64::max);
    let lo = 10f64.powf((min * 0.8).log10().floor()).max(1e-3);
    let hi = 10f64.powf((max * 1.25).log10().ceil()).min(1e6);
    (lo.min(0.1), hi.max(10.0))
}

/// 0.5, 1, 10, 1000: tick labels without trailing zeros.
fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn ratio_text(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_holds_one_and_every_ratio() {
        let bar = |ratio| Bar {
            label: String::new(),
            ratio,
            pass: None,
        };
        assert_eq!(x_range(&[bar(0.4), bar(37.0)]), (0.1, 100.0));
        assert_eq!(x_range(&[bar(2.0)]), (0.1, 10.0));
        assert_eq!(x_range(&[bar(95.0)]).1, 1000.0);
    }

    #[test]
    fn renders_labels_and_values() {
        let svg = ratios(&[Bar {
            label: "fetch: cold".into(),
            ratio: 2.5,
            pass: Some(true),
        }])
        .unwrap();
        assert!(
            svg.contains("fetch: cold") && svg.contains("2.50×"),
            "{svg}"
        );
    }
}
