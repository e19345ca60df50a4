//! Assembles finished pages and the used fonts into one PDF file.
//!
//! Everything written here is a function of the input: object numbers are allocated in
//! a fixed order, the creation date is the bulletin's issue date, the file identifier is
//! a hash of the pages, and the fonts carry fixed subset tags. The server hashes these
//! bytes to verify a bulletin later, so no clock and no randomness may leak in.

use chrono::Datelike;
use miniz_oxide::deflate::compress_to_vec_zlib;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Date, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::canvas::{PAGE_HEIGHT, PAGE_WIDTH};
use crate::fonts::{Font, Fonts};
use crate::RenderError;

/// Deflate level: the best ratio is not worth the time on a 2-core server.
const COMPRESSION: u8 = 6;

/// What the document information dictionary says.
#[derive(Debug, Clone)]
pub struct Meta {
    pub title: String,
    pub issued_on: chrono::NaiveDate,
}

/// Hands out object numbers in a fixed order.
struct Refs(i32);

impl Refs {
    fn next(&mut self) -> Ref {
        self.0 += 1;
        Ref::new(self.0)
    }
}

/// Writes the whole file: catalog, page tree, info, fonts, then each page.
pub fn assemble(pages: Vec<Vec<u8>>, fonts: &Fonts, meta: &Meta) -> Result<Vec<u8>, RenderError> {
    let mut refs = Refs(0);
    let catalog = refs.next();
    let tree = refs.next();
    let info = refs.next();
    let mut pdf = Pdf::new();
    pdf.set_file_id(file_id(&pages, meta));
    pdf.catalog(catalog).pages(tree);
    write_info(&mut pdf, info, meta);
    let regular = write_font(&mut pdf, &mut refs, &fonts.regular)?;
    let bold = write_font(&mut pdf, &mut refs, &fonts.bold)?;

    let mut kids = Vec::with_capacity(pages.len());
    for content in pages {
        let page_ref = refs.next();
        let content_ref = refs.next();
        kids.push(page_ref);
        let mut page = pdf.page(page_ref);
        page.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(content_ref);
        page.resources()
            .fonts()
            .pair(Name(fonts.regular.resource), regular)
            .pair(Name(fonts.bold.resource), bold);
        page.finish();
        let compressed = compress_to_vec_zlib(&content, COMPRESSION);
        pdf.stream(content_ref, &compressed)
            .filter(Filter::FlateDecode);
    }
    let count = i32::try_from(kids.len()).map_err(|_| RenderError::TooManyPages)?;
    pdf.pages(tree).kids(kids).count(count);
    Ok(pdf.finish())
}

fn write_info(pdf: &mut Pdf, id: Ref, meta: &Meta) {
    let d = meta.issued_on;
    // Only the date: a time of day would be a clock reading, not part of the input.
    let date = u16::try_from(d.year()).map_or(Date::new(0), Date::new);
    let date = date.month(d.month() as u8).day(d.day() as u8);
    pdf.document_info(id)
        .title(TextStr(&meta.title))
        .producer(TextStr("Carnet"))
        .creation_date(date)
        .modified_date(date);
}

/// Embeds one font as a Type 0 / CIDFontType2 font over its subset; returns the Type 0 ref.
fn write_font(pdf: &mut Pdf, refs: &mut Refs, font: &Font) -> Result<Ref, RenderError> {
    let type0 = refs.next();
    let cid = refs.next();
    let descriptor = refs.next();
    let file = refs.next();
    let to_unicode = refs.next();
    let base = Name(font.base_name.as_bytes());
    let system = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };

    pdf.type0_font(type0)
        .base_font(base)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(to_unicode);
    let mut cid_font = pdf.cid_font(cid);
    cid_font
        .subtype(CidFontType::Type2)
        .base_font(base)
        .system_info(system)
        .font_descriptor(descriptor)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    cid_font.widths().consecutive(0, font.subset_widths());
    cid_font.finish();

    let m = font.descriptor_metrics();
    pdf.font_descriptor(descriptor)
        .name(base)
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(m.bbox[0], m.bbox[1], m.bbox[2], m.bbox[3]))
        .italic_angle(0.0)
        .ascent(m.ascent)
        .descent(m.descent)
        .cap_height(m.cap_height)
        .stem_v(80.0)
        .font_file2(file);

    let program = font.subset()?;
    let compressed = compress_to_vec_zlib(&program, COMPRESSION);
    let length =
        i32::try_from(program.len()).map_err(|_| RenderError::Font("font too large".into()))?;
    pdf.stream(file, &compressed)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), length);

    let mut cmap = UnicodeCmap::new(Name(b"Custom"), system);
    for (glyph, c) in font.unicode_pairs() {
        cmap.pair(glyph, c);
    }
    let cmap = cmap.finish();
    pdf.stream(to_unicode, cmap.as_slice());
    Ok(type0)
}

/// The `/ID` pair: a hash of the title and every page, so equal input gives equal bytes
/// while different bulletins get different identifiers.
fn file_id(pages: &[Vec<u8>], meta: &Meta) -> (Vec<u8>, Vec<u8>) {
    let mut low = Fnv::new(0xcbf2_9ce4_8422_2325);
    let mut high = Fnv::new(0x6c62_272e_07bb_0142);
    for chunk in std::iter::once(meta.title.as_bytes()).chain(pages.iter().map(Vec::as_slice)) {
        low.write(chunk);
        high.write(chunk);
    }
    let mut id = low.0.to_be_bytes().to_vec();
    id.extend_from_slice(&high.0.to_be_bytes());
    (id.clone(), id)
}

/// FNV-1a, 64 bits: not a security hash, only a stable fingerprint for `/ID`.
struct Fnv(u64);

impl Fnv {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
