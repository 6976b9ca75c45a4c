"""What each treated site of a course was given: the one place that reads amounts per site.

A completion record holds one sclerosant, concentration and volume for all the sites it
treated. A record naming one site is that site's; a record naming several counts as a session
of each, but its amounts are the plan's `unattributed`, never divided up by guess.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.models import CompletionRecord, TreatmentSession
from app.vocabulary import Sclerosant, SessionStatus, Site


@dataclass(frozen=True)
class Amount:
    """What was given of one sclerosant: volume and dose, summed."""

    sclerosant: Sclerosant
    volume_ml: float
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


# The fulfilled sessions of a plan and what each gave, in the order given: one statement.
_GIVEN = (
    select(
        CompletionRecord.treated_sites,
        CompletionRecord.sclerosant,
        CompletionRecord.volume_ml,
        CompletionRecord.dose_mg,
        CompletionRecord.administered_at,
        TreatmentSession.time_zone,
    )
    .join(TreatmentSession, CompletionRecord.session_id == TreatmentSession.id)
    .where(
        TreatmentSession.plan_id == bindparam("plan_id"),
        TreatmentSession.status == SessionStatus.FULFILLED,
    )
    .order_by(CompletionRecord.administered_at)
)


class _Sums:
    """Volume and dose per sclerosant, added up."""

    def __init__(self) -> None:
        self._sums: dict[Sclerosant, list[float]] = defaultdict(lambda: [0.0, 0.0])

    def add(self, sclerosant: Sclerosant, volume_ml: float, dose_mg: float) -> None:
        sums = self._sums[sclerosant]
        sums[0] += volume_ml
        sums[1] += dose_mg

    def amounts(self) -> tuple[Amount, ...]:
        # To the microlitre and the microgram, as a record shows them: no float noise.
        return tuple(
            Amount(kind, round(self._sums[kind][0], 3), round(self._sums[kind][1], 3))
            for kind in Sclerosant
            if kind in self._sums
        )


def site_totals(*, db: Session, plan_id: uuid.UUID) -> PlanTotals:
    """Per treated site of the plan: its fulfilled sessions, when it was first and last
    given, and the amounts given to it alone; and the plan's amounts recorded for several
    sites at once (`unattributed`)."""
    sessions: dict[Site, int] = defaultdict(int)
    shared: dict[Site, int] = defaultdict(int)
    first: dict[Site, tuple[datetime, date]] = {}
    last: dict[Site, datetime] = {}
    own: dict[Site, _Sums] = defaultdict(_Sums)
    unattributed = _Sums()
    for treated, agent, volume, dose, given_at, zone in db.execute(_GIVEN, {"plan_id": plan_id}):
        sites = [Site(value) for value in treated]
        sclerosant = Sclerosant(agent)
        for site in sites:
            sessions[site] += 1
            if site not in first:
                first[site] = (given_at, given_at.astimezone(ZoneInfo(zone)).date())
            last[site] = given_at
        if len(sites) == 1:
            own[sites[0]].add(sclerosant, volume, dose)
        else:
            unattributed.add(sclerosant, volume, dose)
            for site in sites:
                shared[site] += 1
    return PlanTotals(
        sites={
            site: SiteTotal(
                site=site,
                sessions=sessions[site],
                first_given_at=first[site][0],
                first_given_on=first[site][1],
                last_given_at=last[site],
                amounts=own[site].amounts() if site in own else (),
                shared_sessions=shared[site],
            )
            for site in Site
            if site in sessions
        },
        unattributed=unattributed.amounts(),
    )
