"""Reviews as the database keeps them: its constraints hold what the API checks, whatever
writes; and migration 0027 goes down and up again with reviews in its tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, func, insert, inspect, select, table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import make_engine
from app.migrations import alembic_config
from app.models import (
    Evaluation,
    Patient,
    Practitioner,
    ReviewedSite,
    SiteComplication,
    SiteReview,
    TreatmentPlan,
    TreatmentSession,
)
from app.vocabulary import PlanStatus, ReviewComplication, SessionStatus, Site, TreatmentResponse
from tests.factories import POSTGRES_URL

REVIEW_TABLES = {"site_reviews", "reviewed_sites", "site_complications"}
NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)


def _a_course(db: Session) -> SiteReview:
    """A patient's plan with a fulfilled session, and a review of it with one site (nothing
    checked: the rows as they would be)."""
    patient = Patient(
        given_name="Claire",
        family_name="Dubois",
        given_key="claire",
        family_key="dubois",
        birth_date=date(1984, 3, 12),
        sex="female",
    )
    db.add(patient)
    # The practitioner's columns named, not the model's: later revisions add some (0029).
    doctor_id = db.execute(
        insert(Practitioner)
        .values(id=uuid.uuid4(), name="Dr A", name_key="dr a", time_zone="Europe/Paris")
        .returning(Practitioner.id)
    ).scalar_one()
    db.flush()
    evaluation = Evaluation(
        patient_id=patient.id,
        practitioner_id=doctor_id,
        performed_at=NOW - timedelta(days=60),
        spider_vein_sites=["left-calf"],
        ceap_class="C1",
        varicose_veins="absent",
        risk_factors={},
        benefits_and_risks_explained=True,
        outcome="eligible",
        flags=[],
        valid_until=NOW + timedelta(days=300),
    )
    db.add(evaluation)
    db.flush()
    plan = TreatmentPlan(
        patient_id=patient.id,
        evaluation_id=evaluation.id,
        planned_sessions=3,
        interval_days=28,
        status=PlanStatus.ACTIVE,
    )
    db.add(plan)
    db.flush()
    visit = TreatmentSession(
        patient_id=patient.id,
        practitioner_id=doctor_id,
        plan_id=plan.id,
        start_at=NOW - timedelta(days=30),
        end_at=NOW - timedelta(days=30) + timedelta(minutes=45),
        time_zone="Europe/Paris",
        status=SessionStatus.FULFILLED,
    )
    db.add(visit)
    db.flush()
    review = SiteReview(
        plan_id=plan.id,
        patient_id=patient.id,
        practitioner_id=doctor_id,
        session_id=None,
        reviewed_at=NOW,
        recorded_at=NOW,
        sites=[_site(Site.LEFT_CALF, (ReviewComplication.MATTING, None))],
    )
    db.add(review)
    db.flush()
    return review


def _site(site: Site, *complications: tuple[ReviewComplication, str | None]) -> ReviewedSite:
    return ReviewedSite(
        position=0,
        site=site,
        response=TreatmentResponse.PARTIAL,
        complications=[
            SiteComplication(
                position=i, code=code, onset_date=date(2027, 2, 10), description=description
            )
            for i, (code, description) in enumerate(complications)
        ],
    )


@pytest.mark.parametrize(
    "breach",
    [
        "other-undescribed",
        "code-twice",
        "site-twice",
    ],
)
def test_the_database_holds_what_a_review_must_be(engine: Engine, breach: str) -> None:
    with Session(engine) as db:
        review = _a_course(db)
        review_id, reviewed_site_id = review.id, review.sites[0].id
        db.commit()
        wrong: Any
        if breach == "other-undescribed":
            wrong = SiteComplication(
                reviewed_site_id=reviewed_site_id,
                position=1,
                code=ReviewComplication.OTHER,
                onset_date=date(2027, 2, 10),
            )
        elif breach == "code-twice":
            wrong = SiteComplication(
                reviewed_site_id=reviewed_site_id,
                position=1,
                code=ReviewComplication.MATTING,
                onset_date=date(2027, 2, 11),
            )
        else:
            wrong = ReviewedSite(
                review_id=review_id,
                position=1,
                site=Site.LEFT_CALF,
                response=TreatmentResponse.GOOD,
            )
        db.add(wrong)
        with pytest.raises(IntegrityError):
            db.commit()


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's own: a SQLite file, or, on PostgreSQL, a database
    beside the suite's (named after it, dropped after), so the suite's is never touched."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'reviews.db'}"
        return
    server = make_url(POSTGRES_URL)
    name = f"{server.database}_reviews"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    drop()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(False)
    finally:
        drop()
        admin.dispose()


def _counts(engine: Engine, names: set[str]) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.scalar(select(func.count()).select_from(table(name))) or 0
            for name in sorted(names)
        }


def test_migration_0027_goes_down_and_up_again_with_reviews(own_database: str) -> None:
    config = alembic_config(own_database)
    command.upgrade(config, "0027")
    engine = make_engine(own_database)
    try:
        with Session(engine) as db:
            _a_course(db)
            db.commit()
        others = set(inspect(engine).get_table_names()) - REVIEW_TABLES - {"alembic_version"}
        before = _counts(engine, others)
        assert _counts(engine, REVIEW_TABLES) == dict.fromkeys(sorted(REVIEW_TABLES), 1)
        command.downgrade(config, "-1")
        assert not REVIEW_TABLES & set(inspect(engine).get_table_names())
        assert _counts(engine, others) == before  # the reviews went, nothing else
        command.upgrade(config, "0027")
        assert _counts(engine, REVIEW_TABLES) == dict.fromkeys(sorted(REVIEW_TABLES), 0)
        with Session(engine) as db:
            plan_id = db.scalar(select(TreatmentPlan.id))
            patient_id = db.scalar(select(Patient.id))
            doctor_id = db.scalar(select(Practitioner.id))
            assert None not in (plan_id, patient_id, doctor_id)
            db.add(
                SiteReview(
                    id=uuid.uuid4(),
                    plan_id=plan_id,
                    patient_id=patient_id,
                    practitioner_id=doctor_id,
                    reviewed_at=NOW,
                    recorded_at=NOW,
                    sites=[_site(Site.LEFT_CALF)],
                )
            )
            db.commit()
        assert _counts(engine, {"site_reviews"}) == {"site_reviews": 1}
    finally:
        engine.dispose()
