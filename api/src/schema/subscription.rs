use async_graphql::Subscription;
use futures::Stream;

#[derive(Debug, Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    async fn ticks(&self) -> impl Stream<Item = i32> {
        futures::stream::iter(0..1)
    }
}
