//! Renders a bulletin stored as JSON to a PDF, to look at the layout by eye:
//! `cargo run -p carnet-bulletins --example render_json -- tests/data/dupont.json out.pdf`

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err("usage: render_json BULLETIN.json OUT.pdf".into());
    };
    let bulletin: carnet_bulletins::Bulletin =
        serde_json::from_str(&std::fs::read_to_string(input)?)?;
    std::fs::write(output, carnet_bulletins::render(&bulletin)?)?;
    Ok(())
}
