//! The report cards' queries: the competence framework and a division's class council.

use carnet_domain::reportcards::CompetenceFramework;

use super::{BulletinView, SocleComponent};
use crate::bulletin;
use crate::schema::prelude::*;

#[derive(Debug, Default)]
pub struct ReportCardsQuery;

/// An item of the establishment's competence framework.
#[derive(Debug, Clone, SimpleObject)]
pub struct CompetenceItem {
    pub id: String,
    /// The subject's code in the establishment (`MATHS`).
    pub subject: String,
    pub label: String,
    /// The socle component it feeds, if any.
    pub component: Option<SocleComponent>,
    /// No longer offered to new evaluations.
    pub retired: bool,
}

pub(crate) fn items(framework: &CompetenceFramework) -> Vec<CompetenceItem> {
    framework
        .items
        .iter()
        .map(|(id, i)| CompetenceItem {
            id: id.clone(),
            subject: i.subject.clone(),
            label: i.label.clone(),
            component: i.component.map(Into::into),
            retired: i.retired,
        })
        .collect()
}

/// A division's class council for one period.
pub struct ClassCouncilView {
    pub(crate) reader: Reader,
    pub(crate) year: SchoolYear,
    pub(crate) division: String,
    pub(crate) period: String,
}

#[Object(name = "ClassCouncil")]
impl ClassCouncilView {
    async fn year(&self) -> String {
        self.year.to_string()
    }

    async fn division(&self) -> &str {
        &self.division
    }

    async fn period(&self) -> &str {
        &self.period
    }

    /// The council has met: appreciations and decisions are locked until it reopens.
    async fn closed(&self) -> GqlResult<bool> {
        let council = self
            .reader
            .council(&self.year, &self.division, &self.period)
            .await?;
        Ok(council.is_some_and(|c| c.closed))
    }

    /// The day families see the bulletins from, once published.
    async fn published_on(&self) -> GqlResult<Option<Date>> {
        let council = self
            .reader
            .council(&self.year, &self.division, &self.period)
            .await?;
        Ok(council.and_then(|c| c.published_on).map(Into::into))
    }

    /// The stream's version, for `expectedVersion` in mutations.
    async fn version(&self) -> GqlResult<i64> {
        let stream = School::council_id(&self.year, &self.division, &self.period);
        Ok(self
            .reader
            .events::<carnet_domain::reportcards::ClassCouncil>(&stream)
            .await?
            .len() as i64)
    }

    /// The bulletin of every student of the division at the end of the period, by
    /// name: what the professeur principal prepares the council with.
    #[graphql(complexity = "50 * child_complexity")]
    async fn bulletins(&self) -> GqlResult<Vec<BulletinView>> {
        let establishment = self.reader.establishment().await?;
        let period = bulletin::period_of(&establishment, &self.year, &self.period)?;
        let students = bulletin::roster_at_end(
            &self.reader,
            &establishment,
            &self.year,
            &self.division,
            &period,
        )
        .await?;
        let mut out = Vec::with_capacity(students.len());
        for student in &students {
            let facts = bulletin::assemble(&self.reader, &self.year, &self.period, student).await?;
            out.push(BulletinView::from_facts(&facts));
        }
        Ok(out)
    }

    /// Each change of a student's report in this council: appreciations written and
    /// corrected (with the earlier texts), positionings, decisions, the bilan de fin de
    /// cycle.
    #[graphql(complexity = "HISTORY_COST + child_complexity")]
    async fn history(&self, student: String) -> GqlResult<Vec<Change>> {
        let stream = School::council_id(&self.year, &self.division, &self.period);
        Ok(super::report_history(&self.reader, &stream, &student).await?)
    }
}

#[Object]
impl ReportCardsQuery {
    /// The establishment's competence items, by id.
    async fn competence_framework(
        &self,
        ctx: &Context<'_>,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<Vec<CompetenceItem>> {
        let (reader, _) = caller(ctx, as_of).await?;
        let framework = reader.framework().await?;
        Ok(items(&framework))
    }

    /// A division's class council of a period: every bulletin, whether it met and
    /// published. For the staff who may see the class.
    async fn class_council(
        &self,
        ctx: &Context<'_>,
        division: String,
        period: String,
        year: Option<String>,
        as_of: Option<DateTime<Utc>>,
    ) -> GqlResult<ClassCouncilView> {
        let (reader, actor) = caller(ctx, as_of).await?;
        let year = crate::schema::common::year(&reader, year.as_deref()).await?;
        actor.may_see_class(&year, &division)?;
        if !super::sees_unpublished(&actor) {
            return Err(ApiError::forbidden(Text::new(
                "le conseil de classe est réservé aux personnels",
                "the class council is for staff",
            ))
            .into());
        }
        Ok(ClassCouncilView {
            reader,
            year,
            division,
            period,
        })
    }
}
