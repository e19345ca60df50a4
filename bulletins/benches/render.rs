//! How long a bulletin takes to render: one student's (the sample of the tests, 12
//! subjects, two pages), and a division's file of 30. Prints its figures; run by hand
//! with `cargo bench -p carnet-bulletins`.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dupont.json");
    let bulletin: carnet_bulletins::Bulletin =
        serde_json::from_str(&std::fs::read_to_string(sample)?)?;

    let runs = 200;
    let started = Instant::now();
    let mut bytes = 0;
    for _ in 0..runs {
        bytes = carnet_bulletins::render(&bulletin)?.len();
    }
    let each = started.elapsed().as_secs_f64() / f64::from(runs);
    println!(
        "one student: {:.2} ms per bulletin ({:.0} bulletins/s), {} KB",
        each * 1000.0,
        1.0 / each,
        bytes / 1024
    );

    let class: Vec<_> = (0..30)
        .map(|n| {
            let mut b = bulletin.clone();
            b.student.first_name = format!("Élève {n}");
            b
        })
        .collect();
    let runs = 20;
    let started = Instant::now();
    for _ in 0..runs {
        bytes = carnet_bulletins::render_class(&class)?.len();
    }
    let each = started.elapsed().as_secs_f64() / f64::from(runs);
    println!(
        "a division of 30: {:.1} ms per file, {} KB",
        each * 1000.0,
        bytes / 1024
    );
    Ok(())
}
