//! The attendance queries.

use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct AttendanceQuery;

// Each argument of a field is a parameter of its resolver.
#[allow(clippy::too_many_arguments)]
#[Object]
impl AttendanceQuery {
    /// Open attendance alerts (L131-8: four unjustified half-days in a month), for vie
    /// scolaire and the head.
    #[graphql(complexity = "crate::pagination::page_cost(first, last, child_complexity)")]
    async fn attendance_alerts(
        &self,
        ctx: &Context<'_>,
        year: Option<String>,
        as_of: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> GqlResult<KeyedPage<AlertView>> {
        let (reader, actor) = caller(ctx, as_of).await?;
        actor.may_see_alerts()?;
        let year = crate::schema::common::year(&reader, year.as_deref()).await?;
        let mut items: Vec<AlertView> =
            attendance::alerts(&reader.pool, &reader.tenant, year.as_str())
                .await?
                .into_iter()
                .map(|a| AlertView {
                    student: a.student,
                    month: a.month,
                    unjustified_half_days: a.unjustified_half_days,
                })
                .collect();
        if reader.as_of.is_some() {
            // An alert counts if the student's record had reached it by then.
            let mut kept = Vec::new();
            for alert in items {
                let record = reader.attendance(&year, &alert.student).await?;
                if record.alerted_months.contains(&alert.month) {
                    kept.push(alert);
                }
            }
            items = kept;
        }
        let items = items
            .into_iter()
            .map(|a| (format!("{}|{}", a.month, a.student), a))
            .collect();
        keyed(items, after, before, first, last).await
    }
}
