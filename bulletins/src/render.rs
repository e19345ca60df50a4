//! Lays a bulletin out over as many A4 pages as it needs.
//!
//! The flow is a cursor going down the page: each part is measured, and if it does not
//! fit above the footer a new page starts with the header repeated (and, inside the
//! table, the column heads too). Footers are drawn last, once the page count is known.

use crate::canvas::{
    Align, Canvas, Run, CONTENT_WIDTH, GREY, MARGIN, NAVY, PAGE_HEIGHT, PAGE_WIDTH, RULE, SHADE,
};
use crate::fonts::{Fonts, Style};
use crate::layout::{date, fit};
use crate::model::Bulletin;
use crate::{blocks, chart, table, RenderError};

/// Where the header ends and the flowing content starts.
const BODY_TOP: f32 = MARGIN + 92.0;
/// The lowest point flowing content may reach: the footer lives below.
const BODY_BOTTOM: f32 = PAGE_HEIGHT - MARGIN - 8.0;
/// The gap between two parts of the page.
const GAP: f32 = 10.0;

/// The pages of one student's bulletin being laid out.
pub struct Flow<'a> {
    pub fonts: &'a mut Fonts,
    bulletin: &'a Bulletin,
    done: Vec<Canvas>,
    pub canvas: Canvas,
    pub y: f32,
}

impl std::fmt::Debug for Flow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("pages", &(self.done.len() + 1))
            .field("y", &self.y)
            .finish()
    }
}

impl<'a> Flow<'a> {
    fn new(fonts: &'a mut Fonts, bulletin: &'a Bulletin) -> Self {
        let mut flow = Self {
            fonts,
            bulletin,
            done: Vec::new(),
            canvas: Canvas::new(),
            y: BODY_TOP,
        };
        header(&mut flow.canvas, flow.fonts, bulletin);
        flow
    }

    /// The bulletin being laid out (a shared borrow that outlives `&mut self`).
    pub fn bulletin(&self) -> &'a Bulletin {
        self.bulletin
    }

    /// The lowest point flowing content may reach.
    pub fn bottom() -> f32 {
        BODY_BOTTOM
    }

    /// The tallest part a fresh page can hold.
    pub fn page_room() -> f32 {
        BODY_BOTTOM - BODY_TOP
    }

    /// Whether `height` more points fit on the current page.
    pub fn fits(&self, height: f32) -> bool {
        self.y + height <= BODY_BOTTOM
    }

    /// Starts a new page (with the header) unless `height` fits on this one.
    pub fn ensure(&mut self, height: f32) {
        if !self.fits(height) {
            self.new_page();
        }
    }

    pub fn new_page(&mut self) {
        let finished = std::mem::take(&mut self.canvas);
        self.done.push(finished);
        header(&mut self.canvas, self.fonts, self.bulletin);
        self.y = BODY_TOP;
    }

    /// Closes the last page and draws every page's footer.
    fn finish(mut self) -> Vec<Canvas> {
        self.done.push(self.canvas);
        let total = self.done.len();
        for (i, page) in self.done.iter_mut().enumerate() {
            footer(page, self.fonts, self.bulletin, i + 1, total);
        }
        self.done
    }
}

/// Lays out one student's bulletin; returns its pages.
pub fn student_pages(fonts: &mut Fonts, bulletin: &Bulletin) -> Result<Vec<Canvas>, RenderError> {
    let mut flow = Flow::new(fonts, bulletin);
    results_table(&mut flow);
    flow.y += GAP;
    flow.ensure(chart::HEIGHT);
    let top = flow.y;
    chart::draw(
        &mut flow.canvas,
        flow.fonts,
        &bulletin.subjects,
        MARGIN,
        top,
        CONTENT_WIDTH,
    );
    flow.y += chart::HEIGHT;
    blocks::vie_scolaire(&mut flow);
    blocks::appreciation_and_decision(&mut flow);
    blocks::verification(&mut flow)?;
    Ok(flow.finish())
}

/// The table, breaking between rows and repeating the column heads on each new page.
fn results_table(flow: &mut Flow<'_>) {
    let head = table::head(flow.fonts);
    let mut rows: Vec<table::Row> = flow
        .bulletin
        .subjects
        .iter()
        .map(|s| table::subject_row(flow.fonts, s))
        .collect();
    rows.push(table::overall_row(flow.fonts, flow.bulletin));
    let room = Flow::page_room() - head.height();
    let mut head_drawn = false;
    for mut row in rows {
        row.limit_height(flow.fonts, room);
        if !head_drawn || !flow.fits(row.height()) {
            if head_drawn || !flow.fits(head.height() + row.height()) {
                flow.new_page();
            }
            flow.y += head.draw(&mut flow.canvas, flow.fonts, flow.y);
            head_drawn = true;
        }
        flow.y += row.draw(&mut flow.canvas, flow.fonts, flow.y);
    }
}

/// The page header: establishment, year and period, then the student's box.
fn header(canvas: &mut Canvas, fonts: &mut Fonts, b: &Bulletin) {
    let half = CONTENT_WIDTH * 0.5;
    let right = PAGE_WIDTH - MARGIN;
    let name = fit(&fonts.bold, &b.establishment.name, 11.5, half);
    canvas.text(
        fonts,
        Run::new(&name, Style::Bold, 11.5).color(NAVY),
        MARGIN,
        MARGIN + 11.0,
        Align::Left,
    );
    let mut baseline = MARGIN + 23.0;
    if let Some(address) = &b.establishment.address {
        let address = fit(&fonts.regular, address, 8.0, half);
        canvas.text(
            fonts,
            Run::new(&address, Style::Regular, 8.0).color(GREY),
            MARGIN,
            baseline,
            Align::Left,
        );
        baseline += 10.0;
    }
    let uai = format!("UAI : {}", b.establishment.uai);
    canvas.text(
        fonts,
        Run::new(&uai, Style::Regular, 8.0).color(GREY),
        MARGIN,
        baseline,
        Align::Left,
    );

    let right_width = CONTENT_WIDTH - half - 10.0;
    canvas.text(
        fonts,
        Run::new("Bulletin scolaire", Style::Bold, 14.0),
        right,
        MARGIN + 12.0,
        Align::Right,
    );
    let year = fit(
        &fonts.regular,
        &format!("Année scolaire {}", b.school_year),
        9.0,
        right_width,
    );
    canvas.text(
        fonts,
        Run::new(&year, Style::Regular, 9.0),
        right,
        MARGIN + 24.0,
        Align::Right,
    );
    let period = format!(
        "{} — du {} au {}",
        b.period.label,
        date(b.period.from),
        date(b.period.to)
    );
    let period = fit(&fonts.bold, &period, 8.5, right_width);
    canvas.text(
        fonts,
        Run::new(&period, Style::Bold, 8.5),
        right,
        MARGIN + 35.0,
        Align::Right,
    );
    student_box(canvas, fonts, b, MARGIN + 44.0);
}

/// The shaded box naming the student, the division and the professeur principal.
fn student_box(canvas: &mut Canvas, fonts: &mut Fonts, b: &Bulletin, top: f32) {
    canvas.fill_rect(MARGIN, top, CONTENT_WIDTH, 38.0, SHADE);
    let inner = CONTENT_WIDTH - 16.0;
    let name = format!(
        "{} {}",
        b.student.last_name.to_uppercase(),
        b.student.first_name
    );
    let name = fit(&fonts.bold, &name, 11.5, inner * 0.6);
    canvas.text(
        fonts,
        Run::new(&name, Style::Bold, 11.5),
        MARGIN + 8.0,
        top + 15.0,
        Align::Left,
    );
    let division = fit(
        &fonts.bold,
        &format!("Classe : {}", b.student.division),
        10.0,
        inner * 0.38,
    );
    canvas.text(
        fonts,
        Run::new(&division, Style::Bold, 10.0),
        PAGE_WIDTH - MARGIN - 8.0,
        top + 15.0,
        Align::Right,
    );
    let mut details = Vec::new();
    if let Some(born) = b.student.birth_date {
        details.push(format!("Date de naissance : {}", date(born)));
    }
    if let Some(pp) = &b.principal_teacher {
        details.push(format!("Professeur principal : {pp}"));
    }
    let details = fit(&fonts.regular, &details.join("    ·    "), 8.0, inner);
    canvas.text(
        fonts,
        Run::new(&details, Style::Regular, 8.0).color(GREY),
        MARGIN + 8.0,
        top + 29.0,
        Align::Left,
    );
}

/// The footer: who and which period, and « Page i/n » within this student's bulletin.
fn footer(canvas: &mut Canvas, fonts: &mut Fonts, b: &Bulletin, page: usize, total: usize) {
    let top = PAGE_HEIGHT - MARGIN + 2.0;
    canvas.line((MARGIN, top), (PAGE_WIDTH - MARGIN, top), 0.4, RULE);
    let who = format!(
        "{} {} — {} — {} {}",
        b.student.last_name.to_uppercase(),
        b.student.first_name,
        b.student.division,
        b.period.label,
        b.school_year
    );
    let who = fit(&fonts.regular, &who, 7.0, CONTENT_WIDTH - 60.0);
    canvas.text(
        fonts,
        Run::new(&who, Style::Regular, 7.0).color(GREY),
        MARGIN,
        top + 10.0,
        Align::Left,
    );
    let number = format!("Page {page}/{total}");
    canvas.text(
        fonts,
        Run::new(&number, Style::Regular, 7.0).color(GREY),
        PAGE_WIDTH - MARGIN,
        top + 10.0,
        Align::Right,
    );
}
