//! The bar chart « Moyennes de l'élève et de la classe ».
//!
//! One group per subject: the student's bar next to the class's, on a fixed 0–20 axis so
//! charts of different students and periods compare at a glance.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::canvas::{Align, Canvas, Run, GREY, LIGHT, NAVY, RULE};
use crate::fonts::{Fonts, Style};
use crate::layout::fit;
use crate::model::SubjectLine;

/// The chart's total height: title, plot and the slanted subject names.
pub const HEIGHT: f32 = 200.0;
const TITLE: f32 = 16.0;
const PLOT: f32 = 110.0;
const AXIS_WIDTH: f32 = 22.0;
const LABEL_SIZE: f32 = 6.5;
/// Slanted labels fit far longer subject names than horizontal ones would.
const LABEL_ANGLE: f32 = 35.0;
/// The longest a slanted label may run before it is cut (it must stay inside the chart).
const LABEL_MAX: f32 = 80.0;

/// Draws the chart in the band from `top` to `top + HEIGHT`, `x` to `x + width`.
pub fn draw(
    canvas: &mut Canvas,
    fonts: &mut Fonts,
    subjects: &[SubjectLine],
    x: f32,
    top: f32,
    width: f32,
) {
    let title = Run::new("Moyennes de l'élève et de la classe", Style::Bold, 9.5);
    canvas.text(fonts, title, x, top + 10.0, Align::Left);
    legend(canvas, fonts, x + width, top + 10.0);
    let plot_top = top + TITLE;
    let plot_x = x + AXIS_WIDTH;
    axis(canvas, fonts, plot_x, plot_top, width - AXIS_WIDTH);
    if subjects.is_empty() {
        return;
    }
    let group = (width - AXIS_WIDTH) / subjects.len() as f32;
    let bar = (group * 0.32).min(14.0);
    for (i, subject) in subjects.iter().enumerate() {
        let center = plot_x + group * (i as f32 + 0.5);
        draw_bar(canvas, center - bar, plot_top, bar, subject.average, NAVY);
        draw_bar(canvas, center, plot_top, bar, subject.class_average, LIGHT);
        if subject.average.is_none() && subject.class_average.is_none() {
            // An empty slot would read as a zero: say the subject was not marked.
            let run = Run::new("non noté", Style::Regular, 6.0).color(GREY);
            canvas.text(fonts, run, center, plot_top + PLOT - 3.0, Align::Center);
        }
        label(canvas, fonts, &subject.subject, center, plot_top + PLOT);
    }
}

/// The horizontal grid at 0, 5, 10, 15 and 20, with its graduations.
fn axis(canvas: &mut Canvas, fonts: &mut Fonts, x: f32, top: f32, width: f32) {
    for step in 0..=4u8 {
        let y = top + PLOT - PLOT * f32::from(step) / 4.0;
        let color = if step == 0 { GREY } else { RULE };
        canvas.line(
            (x, y),
            (x + width, y),
            if step == 0 { 0.8 } else { 0.3 },
            color,
        );
        let value = (step * 5).to_string();
        let run = Run::new(&value, Style::Regular, 6.5).color(GREY);
        canvas.text(fonts, run, x - 4.0, y + 2.3, Align::Right);
    }
}

fn draw_bar(
    canvas: &mut Canvas,
    x: f32,
    plot_top: f32,
    width: f32,
    value: Option<Decimal>,
    color: crate::canvas::Rgb,
) {
    let Some(value) = value.and_then(|v| v.to_f32()) else {
        return;
    };
    let height = PLOT * value.clamp(0.0, 20.0) / 20.0;
    canvas.fill_rect(x, plot_top + PLOT - height, width, height, color);
}

/// The subject's name, slanted up to the right from just below its group.
fn label(canvas: &mut Canvas, fonts: &mut Fonts, subject: &str, center: f32, axis_y: f32) {
    let text = fit(&fonts.regular, subject, LABEL_SIZE, LABEL_MAX);
    let length = fonts.regular.width(&text, LABEL_SIZE);
    let (sin, cos) = LABEL_ANGLE.to_radians().sin_cos();
    // The label ends at the group's centre, so it runs down-left from there.
    let start_x = center - length * cos;
    let start_y = axis_y + 8.0 + length * sin;
    let run = Run::new(&text, Style::Regular, LABEL_SIZE).color(GREY);
    canvas.rotated_text(fonts, run, start_x, start_y, LABEL_ANGLE);
}

/// « Élève » and « Classe » swatches, right-aligned on `right`.
fn legend(canvas: &mut Canvas, fonts: &mut Fonts, right: f32, baseline: f32) {
    let entries = [
        ("Moyenne de l'élève", NAVY),
        ("Moyenne de la classe", LIGHT),
    ];
    let mut x = right;
    for (text, color) in entries.iter().rev() {
        let run = Run::new(text, Style::Regular, 7.5);
        let width = fonts.regular.width(text, 7.5);
        x -= width;
        canvas.text(fonts, run, x, baseline, Align::Left);
        x -= 11.0;
        canvas.fill_rect(x, baseline - 7.0, 8.0, 8.0, *color);
        x -= 12.0;
    }
}
