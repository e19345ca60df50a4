//! Enrolment (scolarité): filled in by the enrolment work.
