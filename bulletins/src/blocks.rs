//! The boxed parts under the chart: vie scolaire, appreciation and decision, and the
//! verification block with its QR code.

use crate::canvas::{Align, Canvas, Rgb, Run, BLACK, CONTENT_WIDTH, GREY, MARGIN, NAVY, RULE};
use crate::fonts::{Fonts, Style};
use crate::layout::{absences_line, date, truncate_lines, wrap};
use crate::render::Flow;
use crate::{qr, RenderError};

const PADDING: f32 = 7.0;
const LEADING: f32 = 1.3;
const TITLE_SIZE: f32 = 9.0;
const GAP: f32 = 10.0;
/// The QR code's side, quiet zone included (about 30 mm: easy for any phone).
const QR_SIZE: f32 = 84.0;

/// A paragraph of a box, wrapped to the box's inner width.
#[derive(Debug, Clone)]
struct Paragraph {
    lines: Vec<String>,
    style: Style,
    size: f32,
    color: Rgb,
}

impl Paragraph {
    fn new(fonts: &Fonts, text: &str, style: Style, size: f32, color: Rgb) -> Self {
        let lines = wrap(fonts.get(style), text, size, CONTENT_WIDTH - 2.0 * PADDING);
        Self {
            lines,
            style,
            size,
            color,
        }
    }

    fn height(&self) -> f32 {
        self.lines.len() as f32 * self.size * LEADING
    }
}

/// « Vie scolaire »: half-days, lateness, the CPE's appreciation.
pub fn vie_scolaire(flow: &mut Flow<'_>) {
    let vs = &flow.bulletin().vie_scolaire;
    let fonts = &*flow.fonts;
    let mut paragraphs = vec![
        Paragraph::new(
            fonts,
            &absences_line(vs.half_days_absent, vs.half_days_unjustified),
            Style::Regular,
            8.5,
            BLACK,
        ),
        Paragraph::new(
            fonts,
            &format!("Retards : {}", vs.lateness),
            Style::Regular,
            8.5,
            BLACK,
        ),
    ];
    if let Some(text) = &vs.appreciation {
        paragraphs.push(Paragraph::new(
            fonts,
            &format!("Appréciation du CPE : {text}"),
            Style::Regular,
            8.0,
            GREY,
        ));
    }
    boxed(flow, "Vie scolaire", paragraphs);
}

/// « Appréciation générale » and the council's decision, in one box.
pub fn appreciation_and_decision(flow: &mut Flow<'_>) {
    let b = flow.bulletin();
    let fonts = &*flow.fonts;
    let mut paragraphs = Vec::new();
    if let Some(text) = &b.general_appreciation {
        paragraphs.push(Paragraph::new(fonts, text, Style::Regular, 8.5, BLACK));
    }
    if let Some(decision) = &b.council_decision {
        let text = format!("Décision du conseil de classe : {decision}");
        paragraphs.push(Paragraph::new(fonts, &text, Style::Bold, 8.5, NAVY));
    }
    if paragraphs.is_empty() {
        return;
    }
    boxed(flow, "Appréciation générale", paragraphs);
}

/// Draws a titled, framed box of paragraphs at the cursor (on a new page if needed).
fn boxed(flow: &mut Flow<'_>, title: &str, mut paragraphs: Vec<Paragraph>) {
    let title_height = TITLE_SIZE * LEADING + 2.0;
    let room = crate::render::Flow::page_room() - 2.0 * PADDING - title_height;
    shrink_to(flow.fonts, &mut paragraphs, room);
    let height =
        2.0 * PADDING + title_height + paragraphs.iter().map(Paragraph::height).sum::<f32>();
    flow.y += GAP;
    flow.ensure(height);
    let top = flow.y;
    flow.canvas
        .stroke_rect(MARGIN, top, CONTENT_WIDTH, height, 0.5, RULE);
    let title_run = Run::new(title, Style::Bold, TITLE_SIZE).color(NAVY);
    flow.canvas.text(
        flow.fonts,
        title_run,
        MARGIN + PADDING,
        top + PADDING + TITLE_SIZE * 0.95,
        Align::Left,
    );
    let mut y = top + PADDING + title_height;
    for p in &paragraphs {
        for line in &p.lines {
            let run = Run::new(line, p.style, p.size).color(p.color);
            flow.canvas.text(
                flow.fonts,
                run,
                MARGIN + PADDING,
                y + p.size * 0.95,
                Align::Left,
            );
            y += p.size * LEADING;
        }
    }
    flow.y = top + height;
}

/// Cuts the last paragraphs (with "…") so the box fits on one page; only an absurdly
/// long text gets here, and a bulletin must never print outside its frame.
fn shrink_to(fonts: &Fonts, paragraphs: &mut Vec<Paragraph>, room: f32) {
    while paragraphs.iter().map(Paragraph::height).sum::<f32>() > room {
        let others: f32 = paragraphs.iter().rev().skip(1).map(Paragraph::height).sum();
        let Some(last) = paragraphs.last_mut() else {
            return;
        };
        let line = last.size * LEADING;
        let keep = ((room - others) / line).floor();
        if keep < 1.0 {
            paragraphs.pop();
            continue;
        }
        let width = CONTENT_WIDTH - 2.0 * PADDING;
        truncate_lines(
            fonts.get(last.style),
            &mut last.lines,
            keep as usize,
            last.size,
            width,
        );
    }
}

/// The verification block, pinned to the bottom of the last page: the QR code of the
/// URL, the code, and where to check it.
pub fn verification(flow: &mut Flow<'_>) -> Result<(), RenderError> {
    let b = flow.bulletin();
    let issued = if b.provisional {
        format!(
            "Bulletin provisoire, non encore publié : sans valeur officielle ni code de vérification. Édité le {}.",
            date(b.issued_on)
        )
    } else {
        format!("Bulletin édité le {}.", date(b.issued_on))
    };
    let Some(v) = b.verification.clone() else {
        flow.ensure(12.0 + GAP);
        let baseline = flow.y + GAP + 9.0;
        flow.canvas.text(
            flow.fonts,
            Run::new(&issued, Style::Regular, 8.0).color(GREY),
            MARGIN,
            baseline,
            Align::Left,
        );
        return Ok(());
    };
    flow.ensure(QR_SIZE + GAP);
    let top = (flow.y + GAP).max(crate::render::Flow::bottom() - QR_SIZE);
    flow.canvas
        .line((MARGIN, top), (MARGIN + CONTENT_WIDTH, top), 0.4, RULE);
    qr::draw(
        &mut flow.canvas,
        &v.url,
        MARGIN - 4.0,
        top + 2.0,
        QR_SIZE - 4.0,
    )?;
    let x = MARGIN + QR_SIZE + 4.0;
    let width = CONTENT_WIDTH - QR_SIZE - 4.0;
    let code = format!("Code de vérification : {}", v.code);
    let check = format!("Vérifiez l'authenticité de ce bulletin sur {}", v.url);
    let mut y = top + 24.0;
    text_lines(
        &mut flow.canvas,
        flow.fonts,
        &code,
        Style::Bold,
        10.0,
        x,
        &mut y,
        width,
    );
    y += 3.0;
    text_lines(
        &mut flow.canvas,
        flow.fonts,
        &check,
        Style::Regular,
        8.0,
        x,
        &mut y,
        width,
    );
    y += 3.0;
    text_lines(
        &mut flow.canvas,
        flow.fonts,
        &issued,
        Style::Regular,
        8.0,
        x,
        &mut y,
        width,
    );
    flow.y = top + QR_SIZE;
    Ok(())
}

/// Draws wrapped text line by line from baseline `*y`, advancing it.
#[allow(clippy::too_many_arguments)]
fn text_lines(
    canvas: &mut Canvas,
    fonts: &mut Fonts,
    text: &str,
    style: Style,
    size: f32,
    x: f32,
    y: &mut f32,
    width: f32,
) {
    let color = if style == Style::Bold { BLACK } else { GREY };
    for line in wrap(fonts.get(style), text, size, width) {
        canvas.text(
            fonts,
            Run::new(&line, style, size).color(color),
            x,
            *y,
            Align::Left,
        );
        *y += size * LEADING;
    }
}
