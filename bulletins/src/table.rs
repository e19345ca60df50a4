//! The results table: one row per discipline, measured before it is drawn.
//!
//! Rows are built as lists of wrapped lines first, so the page flow knows each row's
//! height and can move a row that does not fit to the next page whole (repeating the
//! column heads) instead of cutting it.

use crate::canvas::{Align, Canvas, Rgb, Run, BLACK, GREY, LIGHT, NAVY, RULE, SHADE};
use crate::fonts::{Fonts, Style};
use crate::layout::{mark, mark_or_dash, positioning_label, truncate_lines, wrap};
use crate::model::{Bulletin, SubjectLine};

/// Column widths in points; they add up to the width between the margins.
pub const COLUMNS: [f32; 5] = [118.0, 50.0, 66.0, 76.0, 213.28];
const PADDING: f32 = 4.0;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.22;
const GAUGE: f32 = 10.0;

/// One line of a cell.
#[derive(Debug, Clone)]
enum Line {
    Text {
        text: String,
        style: Style,
        size: f32,
        color: Rgb,
    },
    /// The four-step positioning gauge, filled up to the level.
    Gauge(u8),
}

impl Line {
    fn height(&self) -> f32 {
        match self {
            Line::Text { size, .. } => size * LEADING,
            Line::Gauge(_) => GAUGE,
        }
    }
}

/// One cell: its lines, top-aligned, and how they sit horizontally.
#[derive(Debug, Clone, Default)]
struct Cell {
    lines: Vec<Line>,
    centered: bool,
}

impl Cell {
    fn height(&self) -> f32 {
        self.lines.iter().map(Line::height).sum()
    }

    /// Adds `text` wrapped to the column's inner width.
    fn push(
        &mut self,
        fonts: &Fonts,
        column: usize,
        text: &str,
        style: Style,
        size: f32,
        color: Rgb,
    ) {
        let inner = COLUMNS[column] - 2.0 * PADDING;
        for line in wrap(fonts.get(style), text, size, inner) {
            self.lines.push(Line::Text {
                text: line,
                style,
                size,
                color,
            });
        }
    }
}

/// A measured row, ready to draw.
#[derive(Debug, Clone)]
pub struct Row {
    cells: [Cell; 5],
    shaded: bool,
}

impl Row {
    pub fn height(&self) -> f32 {
        let content = self.cells.iter().map(Cell::height).fold(0.0, f32::max);
        content + 2.0 * PADDING
    }

    /// Drops appreciation lines (ending with "…") until the row is at most `max` high;
    /// only reached by a row taller than a whole page.
    pub fn limit_height(&mut self, fonts: &Fonts, max: f32) {
        let excess = self.height() - max;
        if excess <= 0.0 {
            return;
        }
        let cell = &mut self.cells[4];
        let drop = (excess / (7.8 * LEADING)).ceil() as usize + 1;
        let keep = cell.lines.len().saturating_sub(drop).max(1);
        let mut texts: Vec<String> = cell
            .lines
            .iter()
            .filter_map(|l| match l {
                Line::Text { text, .. } => Some(text.clone()),
                Line::Gauge(_) => None,
            })
            .collect();
        truncate_lines(
            &fonts.regular,
            &mut texts,
            keep,
            7.8,
            COLUMNS[4] - 2.0 * PADDING,
        );
        cell.lines = texts
            .into_iter()
            .map(|text| Line::Text {
                text,
                style: Style::Regular,
                size: 7.8,
                color: BLACK,
            })
            .collect();
    }

    /// Draws the row with its top at `top`; returns the row's height.
    pub fn draw(&self, canvas: &mut Canvas, fonts: &mut Fonts, top: f32) -> f32 {
        let height = self.height();
        let mut x = crate::canvas::MARGIN;
        if self.shaded {
            canvas.fill_rect(x, top, COLUMNS.iter().sum(), height, SHADE);
        }
        for (cell, width) in self.cells.iter().zip(COLUMNS) {
            draw_cell(canvas, fonts, cell, x, top + PADDING, width);
            canvas.stroke_rect(x, top, width, height, 0.4, RULE);
            x += width;
        }
        height
    }
}

fn draw_cell(canvas: &mut Canvas, fonts: &mut Fonts, cell: &Cell, x: f32, top: f32, width: f32) {
    let mut y = top;
    for line in &cell.lines {
        match line {
            Line::Text {
                text,
                style,
                size,
                color,
            } => {
                // The baseline sits at about 80 % of the line box: DejaVu's ascent.
                let baseline = y + size * 0.95;
                let run = Run::new(text, *style, *size).color(*color);
                if cell.centered {
                    canvas.text(fonts, run, x + width / 2.0, baseline, Align::Center);
                } else {
                    canvas.text(fonts, run, x + PADDING, baseline, Align::Left);
                }
            }
            Line::Gauge(level) => draw_gauge(canvas, *level, x + PADDING, y + 1.5),
        }
        y += line.height();
    }
}

/// Four small squares, the first `level` of them filled.
fn draw_gauge(canvas: &mut Canvas, level: u8, x: f32, top: f32) {
    for step in 0..4u8 {
        let left = x + f32::from(step) * 10.0;
        let color = if step < level { NAVY } else { LIGHT };
        canvas.fill_rect(left, top, 8.0, 6.0, color);
    }
}

/// The column heads, shaded.
pub fn head(fonts: &Fonts) -> Row {
    let titles = [
        "Discipline",
        "Moyenne de l'élève",
        "Classe moy. / min. / max.",
        "Positionnement",
        "Appréciation",
    ];
    let cells = std::array::from_fn(|i| {
        let mut cell = Cell {
            centered: (1..=2).contains(&i),
            ..Cell::default()
        };
        cell.push(fonts, i, titles[i], Style::Bold, 7.5, BLACK);
        cell
    });
    Row {
        cells,
        shaded: true,
    }
}

/// One discipline's row.
pub fn subject_row(fonts: &Fonts, line: &SubjectLine) -> Row {
    let mut discipline = Cell::default();
    discipline.push(fonts, 0, &line.subject, Style::Bold, 8.0, BLACK);
    for teacher in &line.teachers {
        discipline.push(fonts, 0, teacher, Style::Regular, 6.8, GREY);
    }
    let mut average = Cell {
        centered: true,
        ..Cell::default()
    };
    average.push(
        fonts,
        1,
        &mark_or_dash(line.average),
        Style::Bold,
        10.0,
        BLACK,
    );
    let class = class_cell(fonts, line);
    let mut positioning = Cell::default();
    if let Some((level, label)) = line
        .positioning
        .and_then(|l| Some((l, positioning_label(l)?)))
    {
        positioning.push(fonts, 3, label, Style::Regular, 7.5, BLACK);
        positioning.lines.push(Line::Gauge(level));
    }
    let mut appreciation = Cell::default();
    if let Some(text) = &line.appreciation {
        appreciation.push(fonts, 4, text, Style::Regular, 7.8, BLACK);
    }
    for (item, level) in &line.competences {
        let level = positioning_label(*level).unwrap_or("non évalué");
        appreciation.push(
            fonts,
            4,
            &format!("• {item} : {level}"),
            Style::Regular,
            6.8,
            GREY,
        );
    }
    Row {
        cells: [discipline, average, class, positioning, appreciation],
        shaded: false,
    }
}

fn class_cell(fonts: &Fonts, line: &SubjectLine) -> Cell {
    let mut cell = Cell {
        centered: true,
        ..Cell::default()
    };
    let figures = [
        ("Moy.", line.class_average),
        ("Min.", line.class_min),
        ("Max.", line.class_max),
    ];
    if figures.iter().all(|(_, v)| v.is_none()) {
        cell.push(fonts, 2, "—", Style::Regular, 7.5, GREY);
        return cell;
    }
    for (label, value) in figures {
        cell.push(
            fonts,
            2,
            &format!("{label} {}", mark_or_dash(value)),
            Style::Regular,
            7.2,
            BLACK,
        );
    }
    cell
}

/// The closing row: « Moyenne générale », the student's and the class's.
pub fn overall_row(fonts: &Fonts, bulletin: &Bulletin) -> Row {
    let mut label = Cell::default();
    label.push(fonts, 0, "Moyenne générale", Style::Bold, 8.5, BLACK);
    let mut student = Cell {
        centered: true,
        ..Cell::default()
    };
    student.push(
        fonts,
        1,
        &mark_or_dash(bulletin.overall),
        Style::Bold,
        10.0,
        BLACK,
    );
    let mut class = Cell {
        centered: true,
        ..Cell::default()
    };
    let class_text = bulletin
        .class_overall
        .map_or_else(|| "—".to_owned(), |v| format!("Moy. {}", mark(v)));
    class.push(fonts, 2, &class_text, Style::Regular, 7.2, BLACK);
    Row {
        cells: [label, student, class, Cell::default(), Cell::default()],
        shaded: true,
    }
}
