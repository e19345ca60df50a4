//! A thin drawing surface over one PDF content stream.
//!
//! The layout code thinks top-down in points from the page's top-left corner, like a
//! printed form; this module is the only place that flips to PDF's bottom-up space.

use pdf_writer::{Content, Name, Str};

use crate::fonts::{Fonts, Style};

/// A4 portrait, in points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
/// The margin on every side, in points (about 12.7 mm).
pub const MARGIN: f32 = 36.0;
/// The width available between the margins.
pub const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;

/// A colour as red, green, blue in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgb(pub f32, pub f32, pub f32);

pub const BLACK: Rgb = Rgb(0.0, 0.0, 0.0);
pub const GREY: Rgb = Rgb(0.35, 0.35, 0.35);
pub const RULE: Rgb = Rgb(0.6, 0.6, 0.6);
pub const SHADE: Rgb = Rgb(0.92, 0.93, 0.95);
pub const NAVY: Rgb = Rgb(0.13, 0.25, 0.47);
pub const LIGHT: Rgb = Rgb(0.72, 0.75, 0.8);

/// How a text run is anchored on its x coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// One text run: what, in which face, how large, what colour.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub text: &'a str,
    pub style: Style,
    pub size: f32,
    pub color: Rgb,
}

impl<'a> Run<'a> {
    pub fn new(text: &'a str, style: Style, size: f32) -> Self {
        Self {
            text,
            style,
            size,
            color: BLACK,
        }
    }

    pub fn color(self, color: Rgb) -> Self {
        Self { color, ..self }
    }
}

/// One page being drawn.
pub struct Canvas {
    content: Content,
}

impl std::fmt::Debug for Canvas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canvas").finish_non_exhaustive()
    }
}

impl Default for Canvas {
    fn default() -> Self {
        Self::new()
    }
}

impl Canvas {
    pub fn new() -> Self {
        Self {
            content: Content::new(),
        }
    }

    /// The finished, uncompressed content stream.
    pub fn finish(self) -> Vec<u8> {
        self.content.finish().to_vec()
    }

    /// Draws a run with its baseline at `baseline` (top-down), anchored on `x`.
    pub fn text(&mut self, fonts: &mut Fonts, run: Run<'_>, x: f32, baseline: f32, align: Align) {
        let width = fonts.get(run.style).width(run.text, run.size);
        let left = match align {
            Align::Left => x,
            Align::Center => x - width / 2.0,
            Align::Right => x - width,
        };
        self.text_matrix(
            fonts,
            run,
            [1.0, 0.0, 0.0, 1.0, left, PAGE_HEIGHT - baseline],
        );
    }

    /// Draws a run rotated counter-clockwise by `degrees`, starting at (`x`, `baseline`).
    pub fn rotated_text(
        &mut self,
        fonts: &mut Fonts,
        run: Run<'_>,
        x: f32,
        baseline: f32,
        degrees: f32,
    ) {
        let (sin, cos) = degrees.to_radians().sin_cos();
        self.text_matrix(fonts, run, [cos, sin, -sin, cos, x, PAGE_HEIGHT - baseline]);
    }

    fn text_matrix(&mut self, fonts: &mut Fonts, run: Run<'_>, matrix: [f32; 6]) {
        if run.text.is_empty() {
            return;
        }
        let font = fonts.get_mut(run.style);
        let encoded = font.encode(run.text);
        let Rgb(r, g, b) = run.color;
        self.content.set_fill_rgb(r, g, b);
        self.content
            .begin_text()
            .set_font(Name(font.resource), run.size)
            .set_text_matrix(matrix)
            .show(Str(&encoded))
            .end_text();
    }

    /// Fills a rectangle whose top-left corner is (`x`, `top`).
    pub fn fill_rect(&mut self, x: f32, top: f32, width: f32, height: f32, color: Rgb) {
        let Rgb(r, g, b) = color;
        self.content
            .set_fill_rgb(r, g, b)
            .rect(x, PAGE_HEIGHT - top - height, width, height)
            .fill_nonzero();
    }

    /// Strokes a rectangle's outline.
    pub fn stroke_rect(
        &mut self,
        x: f32,
        top: f32,
        width: f32,
        height: f32,
        line: f32,
        color: Rgb,
    ) {
        let Rgb(r, g, b) = color;
        self.content
            .set_stroke_rgb(r, g, b)
            .set_line_width(line)
            .rect(x, PAGE_HEIGHT - top - height, width, height)
            .stroke();
    }

    /// Strokes a straight line between two top-down points.
    pub fn line(&mut self, from: (f32, f32), to: (f32, f32), line: f32, color: Rgb) {
        let Rgb(r, g, b) = color;
        self.content
            .set_stroke_rgb(r, g, b)
            .set_line_width(line)
            .move_to(from.0, PAGE_HEIGHT - from.1)
            .line_to(to.0, PAGE_HEIGHT - to.1)
            .stroke();
    }
}
