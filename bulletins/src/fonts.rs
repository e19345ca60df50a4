//! The two embedded fonts, their metrics and their subsetting.
//!
//! Text is measured with the very advances the PDF viewer will use (no kerning on either
//! side), which is what lets the layout guarantee that nothing overflows its cell. Each
//! document gets fresh [`Font`]s: the glyph remapper records, in first-use order, which
//! glyphs the pages used, so the embedded subset (and the bytes) depend on the input only.

use std::collections::BTreeMap;

use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, GlyphId, MetadataProvider};
use subsetter::GlyphRemapper;

use crate::RenderError;

/// DejaVu Sans (Bitstream Vera licence, see `fonts/LICENSE`): it covers French
/// typography (accents, « guillemets », narrow spaces, the em dash).
static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// Which of the two faces a piece of text is set in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Regular,
    Bold,
}

/// One face, its metrics and the glyphs used so far in the document.
pub struct Font {
    /// The PostScript name, prefixed with a fixed subset tag.
    pub base_name: &'static str,
    /// The resource name used in content streams.
    pub resource: &'static [u8],
    data: &'static [u8],
    face: FontRef<'static>,
    /// Units per em, read once.
    upem: f32,
    remapper: GlyphRemapper,
    /// New glyph id → the character it was used for (for the ToUnicode map).
    used: BTreeMap<u16, char>,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Font")
            .field("base_name", &self.base_name)
            .finish()
    }
}

impl Font {
    fn parse(
        data: &'static [u8],
        base_name: &'static str,
        resource: &'static [u8],
    ) -> Result<Self, RenderError> {
        let face = FontRef::new(data).map_err(|e| RenderError::Font(e.to_string()))?;
        let metrics = face.metrics(Size::unscaled(), LocationRef::default());
        Ok(Self {
            base_name,
            resource,
            data,
            face,
            upem: f32::from(metrics.units_per_em.max(1)),
            remapper: GlyphRemapper::new(),
            used: BTreeMap::new(),
        })
    }

    fn glyph(&self, c: char) -> u16 {
        self.face
            .charmap()
            .map(c)
            .and_then(|g| u16::try_from(g.to_u32()).ok())
            .unwrap_or(0)
    }

    /// Units per em as a float, for scaling advances.
    fn upem(&self) -> f32 {
        self.upem
    }

    /// The face's horizontal metrics in font units.
    fn glyph_metrics(&self) -> GlyphMetrics<'static> {
        self.face
            .glyph_metrics(Size::unscaled(), LocationRef::default())
    }

    /// The advance of one glyph in thousandths of an em (the PDF `/W` unit).
    fn advance_milli(&self, metrics: &GlyphMetrics<'_>, gid: u16) -> f32 {
        let advance = metrics
            .advance_width(GlyphId::new(u32::from(gid)))
            .unwrap_or(0.0);
        advance * 1000.0 / self.upem()
    }

    /// The width of `text` set at `size` points, in points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let metrics = self.glyph_metrics();
        let milli: f32 = text
            .chars()
            .map(|c| self.advance_milli(&metrics, self.glyph(c)))
            .sum();
        milli * size / 1000.0
    }

    /// Encodes `text` as the two-byte CIDs of the subset font, recording the glyphs used.
    pub fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let new = self.remapper.remap(self.glyph(c));
            if new != 0 {
                self.used.entry(new).or_insert(c);
            }
            out.extend_from_slice(&new.to_be_bytes());
        }
        out
    }

    /// The subset font program holding exactly the glyphs used so far.
    pub fn subset(&self) -> Result<Vec<u8>, RenderError> {
        subsetter::subset(self.data, 0, &self.remapper)
            .map_err(|e| RenderError::Font(format!("subsetting {}: {e:?}", self.base_name)))
    }

    /// The widths of the subset's glyphs, by new glyph id, in thousandths of an em.
    pub fn subset_widths(&self) -> Vec<f32> {
        let metrics = self.glyph_metrics();
        self.remapper
            .remapped_gids()
            .map(|old| self.advance_milli(&metrics, old))
            .collect()
    }

    /// The characters each used glyph stands for, for text extraction.
    pub fn unicode_pairs(&self) -> impl Iterator<Item = (u16, char)> + '_ {
        self.used.iter().map(|(g, c)| (*g, *c))
    }

    /// Metrics for the font descriptor, in thousandths of an em.
    pub fn descriptor_metrics(&self) -> DescriptorMetrics {
        let scale = 1000.0 / self.upem();
        let metrics = self.face.metrics(Size::unscaled(), LocationRef::default());
        let bbox = metrics.bounds.unwrap_or_default();
        DescriptorMetrics {
            bbox: [
                bbox.x_min * scale,
                bbox.y_min * scale,
                bbox.x_max * scale,
                bbox.y_max * scale,
            ],
            ascent: metrics.ascent * scale,
            descent: metrics.descent * scale,
            cap_height: metrics.cap_height.unwrap_or(0.0) * scale,
        }
    }
}

/// What a PDF font descriptor needs from the face.
#[derive(Debug, Clone, Copy)]
pub struct DescriptorMetrics {
    pub bbox: [f32; 4],
    pub ascent: f32,
    pub descent: f32,
    pub cap_height: f32,
}

/// The regular and bold faces of one document.
#[derive(Debug)]
pub struct Fonts {
    pub regular: Font,
    pub bold: Font,
}

impl Fonts {
    /// Parses both embedded faces; the tags are fixed so the output stays deterministic.
    pub fn load() -> Result<Self, RenderError> {
        Ok(Self {
            regular: Font::parse(REGULAR, "CARNTR+DejaVuSans", b"F1")?,
            bold: Font::parse(BOLD, "CARNTB+DejaVuSans-Bold", b"F2")?,
        })
    }

    pub fn get(&self, style: Style) -> &Font {
        match style {
            Style::Regular => &self.regular,
            Style::Bold => &self.bold,
        }
    }

    pub fn get_mut(&mut self, style: Style) -> &mut Font {
        match style {
            Style::Regular => &mut self.regular,
            Style::Bold => &mut self.bold,
        }
    }
}
