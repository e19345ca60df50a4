use async_graphql::Object;

#[derive(Debug, Default)]
pub struct MutationRoot;

#[Object]
impl MutationRoot {
    async fn noop(&self) -> bool {
        true
    }
}
