//! The API's contract is committed in SDL (`api/schema.graphql`): any change of the
//! code's schema fails here until the file is updated, so it shows in review.
//!
//! To accept a change: `UPDATE_SCHEMA=1 cargo test -p carnet-api --test schema`.
#![allow(clippy::unwrap_used)]

#[test]
fn the_committed_schema_is_the_code_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let code = carnet_api::schema::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &code).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != code {
        let first = committed
            .lines()
            .zip(code.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(code.lines().count()));
        panic!(
            "api/schema.graphql differs from the code's schema from line {}:\n  committed: {:?}\n  code:      {:?}\n\
             Review the change, then run `UPDATE_SCHEMA=1 cargo test -p carnet-api --test schema`.",
            first + 1,
            committed.lines().nth(first),
            code.lines().nth(first)
        );
    }
}
