//! Text wrapping and the French formatting of numbers and dates.
//!
//! Wrapping measures every candidate line with the font's own advances, so a wrapped
//! line is never wider than its cell; a single word wider than the cell is cut between
//! characters rather than allowed to overflow.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::fonts::Font;

/// Splits `text` into lines no wider than `max_width` points at `size` points.
///
/// Explicit line breaks in the input start new lines; runs of spaces collapse.
pub fn wrap(font: &Font, text: &str, size: f32, max_width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        wrap_paragraph(font, paragraph, size, max_width, &mut lines);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

fn wrap_paragraph(font: &Font, text: &str, size: f32, max: f32, lines: &mut Vec<String>) {
    let mut current = String::new();
    // ASCII whitespace only: a no-break space (U+00A0, U+202F) before « : » or « ; »
    // in the input must keep its word glued to the next.
    for word in text.split_ascii_whitespace() {
        let candidate = if current.is_empty() {
            word.to_owned()
        } else {
            format!("{current} {word}")
        };
        if font.width(&candidate, size) <= max {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        // The word alone: cut it if even that is too wide.
        for piece in split_word(font, word, size, max) {
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            current = piece;
        }
    }
    if !current.is_empty() || text.trim().is_empty() {
        lines.push(current);
    }
}

/// Cuts a word into pieces that each fit in `max` (at least one character per piece).
fn split_word(font: &Font, word: &str, size: f32, max: f32) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    for c in word.chars() {
        piece.push(c);
        if font.width(&piece, size) > max && piece.chars().count() > 1 {
            piece.pop();
            pieces.push(std::mem::take(&mut piece));
            piece.push(c);
        }
    }
    pieces.push(piece);
    pieces
}

/// Keeps at most `max_lines` lines, ending the last kept one with an ellipsis that fits.
///
/// Used only when a single table row would be taller than a whole page.
pub fn truncate_lines(font: &Font, lines: &mut Vec<String>, max_lines: usize, size: f32, max: f32) {
    if lines.len() <= max_lines || max_lines == 0 {
        lines.truncate(max_lines);
        return;
    }
    lines.truncate(max_lines);
    if let Some(last) = lines.last_mut() {
        loop {
            let candidate = format!("{last}…");
            if font.width(&candidate, size) <= max || last.is_empty() {
                *last = candidate;
                break;
            }
            last.pop();
        }
    }
}

/// `text` on one line of at most `max` points, cut and ended with "…" if it is longer.
pub fn fit(font: &Font, text: &str, size: f32, max: f32) -> String {
    if font.width(text, size) <= max {
        return text.to_owned();
    }
    let mut out = text.to_owned();
    while !out.is_empty() && font.width(&format!("{out}…"), size) > max {
        out.pop();
    }
    format!("{}…", out.trim_end())
}

/// A mark out of 20 the French way: two decimals, a decimal comma ("12,50").
pub fn mark(value: Decimal) -> String {
    let rounded = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    format!("{rounded:.2}").replace('.', ",")
}

/// A mark, or an em dash when there is none.
pub fn mark_or_dash(value: Option<Decimal>) -> String {
    value.map_or_else(|| "—".to_owned(), mark)
}

/// A date as "05/12/2026".
pub fn date(value: NaiveDate) -> String {
    value.format("%d/%m/%Y").to_string()
}

/// The label of a positioning (or competence) level on the four-step scale.
pub fn positioning_label(level: u8) -> Option<&'static str> {
    match level {
        1 => Some("Maîtrise insuffisante"),
        2 => Some("Maîtrise fragile"),
        3 => Some("Maîtrise satisfaisante"),
        4 => Some("Très bonne maîtrise"),
        _ => None,
    }
}

/// « Demi-journées d'absence : 3 dont 1 non justifiée », with French plurals.
pub fn absences_line(absent: u32, unjustified: u32) -> String {
    let mut line = format!("Demi-journées d'absence : {absent}");
    if absent > 0 {
        let plural = if unjustified > 1 { "s" } else { "" };
        line.push_str(&format!(" dont {unjustified} non justifiée{plural}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fonts::Fonts;

    #[test]
    fn marks_use_a_decimal_comma() {
        assert_eq!(mark(Decimal::new(125, 1)), "12,50");
        assert_eq!(mark(Decimal::new(8, 0)), "8,00");
        assert_eq!(mark(Decimal::new(12345, 3)), "12,35");
        assert_eq!(mark_or_dash(None), "—");
    }

    #[test]
    fn absences_are_worded_with_plurals() {
        assert_eq!(
            absences_line(3, 1),
            "Demi-journées d'absence : 3 dont 1 non justifiée"
        );
        assert_eq!(
            absences_line(4, 2),
            "Demi-journées d'absence : 4 dont 2 non justifiées"
        );
        assert_eq!(absences_line(0, 0), "Demi-journées d'absence : 0");
    }

    #[test]
    fn wrapped_lines_fit_and_keep_every_word() -> Result<(), crate::RenderError> {
        let fonts = Fonts::load()?;
        let text = "Un trimestre très satisfaisant : « bravo » pour l'investissement \
                    constant. Anticonstitutionnellementextraordinairementlong";
        let lines = wrap(&fonts.regular, text, 9.0, 60.0);
        assert!(lines.len() > 3);
        for line in &lines {
            assert!(fonts.regular.width(line, 9.0) <= 60.0, "{line}");
        }
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
        Ok(())
    }

    #[test]
    fn truncation_ends_with_an_ellipsis() -> Result<(), crate::RenderError> {
        let fonts = Fonts::load()?;
        let mut lines = vec!["aaaa aaaa aaaa".to_owned(); 5];
        truncate_lines(&fonts.regular, &mut lines, 2, 9.0, 70.0);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'));
        assert!(fonts.regular.width(&lines[1], 9.0) <= 70.0);
        Ok(())
    }
}
