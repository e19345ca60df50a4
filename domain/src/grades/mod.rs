//! Grades (notes): evaluations, scores and special marks, corrections, the closing of a
//! period by the class council, and averages in exact decimals.
//!
//! One [`Gradebook`] aggregate per class (division or group) and period: the class
//! council closes a period for a whole class, so the rule "no change after closing" is
//! decided inside one aggregate, under the store's optimistic concurrency.

mod aggregate;
pub mod averages;
pub mod competences;
mod values;

pub use aggregate::{
    AssessmentEntry, Evaluation, EvaluationSpec, Gradebook, GradebookCommand, GradebookError,
    GradebookEvent, MarkEntry,
};
pub use competences::Level;
pub use values::{Mark, NotHandedIn};
