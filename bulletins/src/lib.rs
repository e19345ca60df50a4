//! Carnet's report cards: a French *bulletin scolaire* rendered to PDF from a plain model.
//!
//! [`render`] gives one student's bulletin, [`render_class`] a whole division's in one
//! file. The output is deterministic: the same [`Bulletin`] always yields the same bytes,
//! because the server keeps a hash of them to verify a printed bulletin later.

mod blocks;
mod canvas;
mod chart;
mod fonts;
mod layout;
pub mod model;
mod pdf;
mod qr;
mod render;
mod table;

pub use layout::{mark, positioning_label};
pub use model::{Bulletin, Establishment, Period, Student, SubjectLine, Verification, VieScolaire};

/// Why a bulletin could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An embedded font could not be read or subset (a broken build, not bad input).
    #[error("font: {0}")]
    Font(String),
    /// The verification URL is too long for a QR code.
    #[error("QR code: {0}")]
    Qr(String),
    /// `render_class` was given nothing to render.
    #[error("no bulletin to render")]
    Empty,
    /// More pages than a PDF page tree can count.
    #[error("too many pages")]
    TooManyPages,
}

/// Renders one student's bulletin: A4 portrait, as many pages as it needs.
pub fn render(bulletin: &Bulletin) -> Result<Vec<u8>, RenderError> {
    render_class(std::slice::from_ref(bulletin))
}

/// Renders several bulletins into one file, each student starting on a new page (and
/// numbering its own pages), in the order given.
pub fn render_class(bulletins: &[Bulletin]) -> Result<Vec<u8>, RenderError> {
    let first = bulletins.first().ok_or(RenderError::Empty)?;
    let mut fonts = fonts::Fonts::load()?;
    let mut pages = Vec::new();
    for bulletin in bulletins {
        let canvases = render::student_pages(&mut fonts, bulletin)?;
        pages.extend(canvases.into_iter().map(canvas::Canvas::finish));
    }
    let meta = pdf::Meta {
        title: title(first, bulletins.len()),
        issued_on: first.issued_on,
    };
    pdf::assemble(pages, &fonts, &meta)
}

/// « Bulletin du 1er trimestre 2026-2027 — DUPONT Léa », or the division for a class.
fn title(first: &Bulletin, count: usize) -> String {
    let who = if count == 1 {
        format!(
            "{} {}",
            first.student.last_name.to_uppercase(),
            first.student.first_name
        )
    } else {
        first.student.division.clone()
    };
    format!(
        "Bulletin du {} {} — {}",
        first.period.label, first.school_year, who
    )
}
