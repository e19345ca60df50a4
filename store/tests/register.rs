//! A small attendance register aggregate, for the conformance suite: it records absences
//! and refuses the same lesson twice, as a real one does.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Register {
    pub lessons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RegisterCommand {
    RecordAbsence { lesson: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RegisterEvent {
    AbsenceRecorded { lesson: String },
}

impl DomainEvent for RegisterEvent {
    fn event_type(&self) -> String {
        "AbsenceRecorded".into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the absence at lesson {0} is already recorded")]
    AlreadyRecorded(String),
}

impl Aggregate for Register {
    const TYPE: &'static str = "register";
    type Command = RegisterCommand;
    type Event = RegisterEvent;
    type Error = RegisterError;
    type Services = ();

    async fn handle(
        &mut self,
        command: RegisterCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), RegisterError> {
        match command {
            RegisterCommand::RecordAbsence { lesson } => {
                if self.lessons.contains(&lesson) {
                    return Err(RegisterError::AlreadyRecorded(lesson));
                }
                sink.write(RegisterEvent::AbsenceRecorded { lesson }, self)
                    .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: RegisterEvent) {
        match event {
            RegisterEvent::AbsenceRecorded { lesson } => self.lessons.push(lesson),
        }
    }
}
