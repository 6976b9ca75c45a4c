"""What each treated site of a course was given: the one place that reads amounts per site.

A treatment record is lines of injections, each at one site (`app.sessions.dosing`): a line's
volume and dose are its site's. A line without a site (a record written before lines were
kept, or through the single-agent body) is its record's one site's when the record names one;
when it names several, the amount counts as a session of each but is the plan's
`unattributed`, never divided up by guess. Amounts are per sclerosant and form: a foam's
volume (gas included) is not a liquid's.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.models import CompletionRecord, InjectionLine, TreatmentSession
from app.vocabulary import Sclerosant, SclerosantForm, SessionStatus, Site


@dataclass(frozen=True)
class Amount:
    """What was given of one sclerosant in one form: volume and dose, summed."""

    sclerosant: Sclerosant
    form: SclerosantForm
    volume_ml: float  # a foam's: the foam's volume
    dose_mg: float


@dataclass(frozen=True)
class SiteTotal:
    site: Site
    sessions: int  # fulfilled sessions of the plan that treated it
    first_given_at: datetime
    first_given_on: date  # that day, where its session took place
    last_given_at: datetime
    amounts: tuple[Amount, ...]  # given to this site alone, per sclerosant
    # Its sessions whose amounts were recorded for several sites at once: in `unattributed`.
    shared_sessions: int


@dataclass(frozen=True)
class PlanTotals:
    sites: dict[Site, SiteTotal]  # in the vocabulary's order of sites
    unattributed: tuple[Amount, ...]  # recorded for several sites at once, per sclerosant


# The lines of the fulfilled sessions of a plan, record by record in the order given: one
# statement.
_GIVEN = (
    select(
        CompletionRecord.id,
        CompletionRecord.treated_sites,
        CompletionRecord.administered_at,
        TreatmentSession.time_zone,
        InjectionLine.site,
        InjectionLine.sclerosant,
        InjectionLine.form,
        InjectionLine.volume_ml,
        InjectionLine.dose_mg,
    )
    .join(TreatmentSession, CompletionRecord.session_id == TreatmentSession.id)
    .join(InjectionLine, InjectionLine.completion_id == CompletionRecord.id)
    .where(
        TreatmentSession.plan_id == bindparam("plan_id"),
        TreatmentSession.status == SessionStatus.FULFILLED,
    )
    .order_by(CompletionRecord.administered_at, CompletionRecord.id, InjectionLine.position)
)


class _Sums:
    """Volume and dose per sclerosant and form, added up."""

    def __init__(self) -> None:
        self._sums: dict[tuple[Sclerosant, SclerosantForm], list[float]] = defaultdict(
            lambda: [0.0, 0.0]
        )

    def add(
        self, sclerosant: Sclerosant, form: SclerosantForm, volume_ml: float, dose_mg: float
    ) -> None:
        sums = self._sums[sclerosant, form]
        sums[0] += volume_ml
        sums[1] += dose_mg

    def amounts(self) -> tuple[Amount, ...]:
        # To the microlitre and the microgram, as a record shows them: no float noise.
        return tuple(
            Amount(agent, form, round(volume, 3), round(dose, 3))
            for agent in Sclerosant
            for form in SclerosantForm
            if (agent, form) in self._sums
            for volume, dose in [self._sums[agent, form]]
        )


def site_totals(*, db: Session, plan_id: uuid.UUID) -> PlanTotals:
    """Per treated site of the plan: its fulfilled sessions, when it was first and last
    given, and the amounts given to it alone; and the plan's amounts recorded for several
    sites at once (`unattributed`)."""
    sessions: dict[Site, int] = defaultdict(int)
    shared: dict[Site, set[uuid.UUID]] = defaultdict(set)  # its records in `unattributed`
    first: dict[Site, tuple[datetime, date]] = {}
    last: dict[Site, datetime] = {}
    own: dict[Site, _Sums] = defaultdict(_Sums)
    unattributed = _Sums()
    counted: set[uuid.UUID] = set()  # records whose sessions are counted
    for record, treated, given_at, zone, line_site, agent, form, volume, dose in db.execute(
        _GIVEN, {"plan_id": plan_id}
    ):
        sites = [Site(value) for value in treated]
        if record not in counted:
            counted.add(record)
            for site in sites:
                sessions[site] += 1
                if site not in first:
                    first[site] = (given_at, given_at.astimezone(ZoneInfo(zone)).date())
                last[site] = given_at
        amount = (Sclerosant(agent), SclerosantForm(form), volume, dose)
        if line_site is not None:
            own[Site(line_site)].add(*amount)
        elif len(sites) == 1:
            own[sites[0]].add(*amount)
        else:
            unattributed.add(*amount)
            for site in sites:
                shared[site].add(record)
    return PlanTotals(
        sites={
            site: SiteTotal(
                site=site,
                sessions=sessions[site],
                first_given_at=first[site][0],
                first_given_on=first[site][1],
                last_given_at=last[site],
                amounts=own[site].amounts() if site in own else (),
                shared_sessions=len(shared[site]),
            )
            for site in Site
            if site in sessions
        },
        unattributed=unattributed.amounts(),
    )
