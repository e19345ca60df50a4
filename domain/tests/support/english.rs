//! Refusals checked in English: `Display` is French (the language of the schools), and
//! these tests pin the English messages clients get with `Accept-Language: en`, with
//! the rule code where a test names it.

use carnet_domain::refusal::{Lang, Refusal};
use cqrs_es::test::AggregateResultValidator;
use cqrs_es::Aggregate;

pub trait ThenRefused {
    /// The command is refused with this English message.
    fn then_expect_english_error(self, message: &str);
}

impl<A> ThenRefused for AggregateResultValidator<A>
where
    A: Aggregate,
    A::Error: Refusal,
{
    fn then_expect_english_error(self, message: &str) {
        match self.inspect_result() {
            Ok(events) => panic!("expected error, received events: '{events:?}'"),
            Err(err) => {
                assert_eq!(err.message(Lang::En), message, "rule {}", err.rule());
                assert_ne!(err.to_string(), message, "Display must be French");
            }
        }
    }
}
