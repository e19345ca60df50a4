//! The verification QR code, drawn as filled squares.
//!
//! Drawing vectors instead of embedding a bitmap keeps image codecs out of the build and
//! the code sharp at any print resolution.

use qrcode::{Color, EcLevel, QrCode};

use crate::canvas::{Canvas, BLACK};
use crate::RenderError;

/// The quiet zone the QR specification asks for around the symbol, in modules.
const QUIET_ZONE: usize = 4;

/// Draws the QR code of `data` in a `size`-point square whose top-left is (`x`, `top`),
/// quiet zone included.
pub fn draw(
    canvas: &mut Canvas,
    data: &str,
    x: f32,
    top: f32,
    size: f32,
) -> Result<(), RenderError> {
    // Level M survives a crease or a stain on a paper bulletin; H would make URLs dense.
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| RenderError::Qr(e.to_string()))?;
    let width = code.width();
    let colors = code.to_colors();
    let module = size / (width + 2 * QUIET_ZONE) as f32;
    let origin = (
        x + module * QUIET_ZONE as f32,
        top + module * QUIET_ZONE as f32,
    );
    for (row, cells) in colors.chunks(width).enumerate() {
        for (start, len) in dark_runs(cells) {
            canvas.fill_rect(
                origin.0 + start as f32 * module,
                origin.1 + row as f32 * module,
                len as f32 * module,
                // A hair taller than a module so adjacent rows leave no visible seam.
                module * 1.02,
                BLACK,
            );
        }
    }
    Ok(())
}

/// The horizontal runs of dark modules in one row, as (first column, length): one
/// rectangle per run keeps the content stream small.
fn dark_runs(cells: &[Color]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, cell) in cells.iter().enumerate() {
        match (cell, start) {
            (Color::Dark, None) => start = Some(i),
            (Color::Light, Some(s)) => {
                runs.push((s, i - s));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, cells.len() - s));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_exactly_the_dark_modules() {
        let row = [
            Color::Dark,
            Color::Dark,
            Color::Light,
            Color::Dark,
            Color::Light,
            Color::Dark,
        ];
        assert_eq!(dark_runs(&row), vec![(0, 2), (3, 1), (5, 1)]);
    }
}
