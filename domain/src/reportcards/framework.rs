//! The establishment's competence framework (référentiel): the items its teachers assess,
//! per subject, each tied to the socle component it feeds.
//!
//! One aggregate per establishment: an item's id is unique in it, and an item retired
//! keeps its id (evaluations that assessed it still name it).

use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::socle::Component;
use crate::refusal::{what_fr, Lang, Refusal};

/// An item of the framework, e.g. « Résoudre un problème » in mathematics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub subject: String,
    pub label: String,
    /// The socle component the item feeds, if any.
    pub component: Option<Component>,
    pub retired: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompetenceFramework {
    pub items: BTreeMap<String, Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FrameworkCommand {
    DefineItem {
        id: String,
        subject: String,
        label: String,
        component: Option<Component>,
    },
    /// The item is no longer offered to new evaluations.
    RetireItem { id: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum FrameworkEvent {
    ItemDefined {
        id: String,
        subject: String,
        label: String,
        component: Option<Component>,
    },
    ItemRetired {
        id: String,
    },
}

impl DomainEvent for FrameworkEvent {
    fn event_type(&self) -> String {
        match self {
            FrameworkEvent::ItemDefined { .. } => "ItemDefined",
            FrameworkEvent::ItemRetired { .. } => "ItemRetired",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameworkError {
    #[error("la compétence {0} existe déjà dans le référentiel")]
    ItemExists(String),
    #[error("il n'y a pas de compétence {0} dans le référentiel")]
    UnknownItem(String),
    #[error("la compétence {0} est déjà retirée du référentiel")]
    AlreadyRetired(String),
    #[error("la compétence {item} est une compétence de {subject}, pas de {given}")]
    OtherSubject {
        item: String,
        subject: String,
        given: String,
    },
    #[error("il manque {}", what_fr(.0))]
    Missing(&'static str),
}

impl Refusal for FrameworkError {
    fn rule(&self) -> &'static str {
        match self {
            FrameworkError::ItemExists(_) => "COMPETENCE_EXISTS",
            FrameworkError::UnknownItem(_) => "UNKNOWN_COMPETENCE",
            FrameworkError::AlreadyRetired(_) => "COMPETENCE_RETIRED",
            FrameworkError::OtherSubject { .. } => "COMPETENCE_OF_ANOTHER_SUBJECT",
            FrameworkError::Missing(_) => "MISSING_VALUE",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match (lang, self) {
            (Lang::Fr, _) => self.to_string(),
            (Lang::En, FrameworkError::ItemExists(id)) => {
                format!("the competence {id} is already in the framework")
            }
            (Lang::En, FrameworkError::UnknownItem(id)) => {
                format!("there is no competence {id} in the framework")
            }
            (Lang::En, FrameworkError::AlreadyRetired(id)) => {
                format!("the competence {id} is already retired")
            }
            (
                Lang::En,
                FrameworkError::OtherSubject {
                    item,
                    subject,
                    given,
                },
            ) => format!("the competence {item} belongs to {subject}, not {given}"),
            (Lang::En, FrameworkError::Missing(what)) => format!("{what} must not be empty"),
        }
    }
}

impl CompetenceFramework {
    /// Checks that every item exists, is in use and belongs to `subject`: what an
    /// evaluation of that subject may assess.
    pub fn check_items(&self, subject: &str, items: &[String]) -> Result<(), FrameworkError> {
        for id in items {
            let item = self
                .items
                .get(id)
                .ok_or_else(|| FrameworkError::UnknownItem(id.clone()))?;
            if item.retired {
                return Err(FrameworkError::AlreadyRetired(id.clone()));
            }
            if item.subject != subject {
                return Err(FrameworkError::OtherSubject {
                    item: id.clone(),
                    subject: item.subject.clone(),
                    given: subject.to_string(),
                });
            }
        }
        Ok(())
    }

    fn decide(&self, command: FrameworkCommand) -> Result<Vec<FrameworkEvent>, FrameworkError> {
        match command {
            FrameworkCommand::DefineItem {
                id,
                subject,
                label,
                component,
            } => {
                for (what, value) in [
                    ("the competence id", &id),
                    ("the subject", &subject),
                    ("the label", &label),
                ] {
                    if value.trim().is_empty() {
                        return Err(FrameworkError::Missing(what));
                    }
                }
                if self.items.contains_key(&id) {
                    return Err(FrameworkError::ItemExists(id));
                }
                Ok(vec![FrameworkEvent::ItemDefined {
                    id,
                    subject,
                    label,
                    component,
                }])
            }
            FrameworkCommand::RetireItem { id } => match self.items.get(&id) {
                None => Err(FrameworkError::UnknownItem(id)),
                Some(item) if item.retired => Err(FrameworkError::AlreadyRetired(id)),
                Some(_) => Ok(vec![FrameworkEvent::ItemRetired { id }]),
            },
        }
    }
}

impl Aggregate for CompetenceFramework {
    const TYPE: &'static str = "competence_framework";
    type Command = FrameworkCommand;
    type Event = FrameworkEvent;
    type Error = FrameworkError;
    type Services = ();

    async fn handle(
        &mut self,
        command: FrameworkCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), FrameworkError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: FrameworkEvent) {
        match event {
            FrameworkEvent::ItemDefined {
                id,
                subject,
                label,
                component,
            } => {
                self.items.insert(
                    id,
                    Item {
                        subject,
                        label,
                        component,
                        retired: false,
                    },
                );
            }
            FrameworkEvent::ItemRetired { id } => {
                if let Some(item) = self.items.get_mut(&id) {
                    item.retired = true;
                }
            }
        }
    }
}
