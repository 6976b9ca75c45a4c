"""No health data in logs: a real server, logging everything it can (DEBUG), goes through a
patient's course; the patient's name, birth date, contacts and clinical notes appear nowhere
in what it wrote."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db import make_engine
from app.logging import PhiSafeFormatter
from app.roles import Role
from tests.factories import (
    NO_RISKS,
    TEST_SECRET_KEY,
    WEEKDAYS_9_TO_17,
    UserFactory,
    bearer,
    next_weekday_at,
)
from tests.servers import running_server

NAME = ("Quillonia", "Farthingale-Zebrowski")
BIRTH_DATE = "1961-08-27"
PHONE = "+33 6 98 76 54 32"
EMAIL = "quillonia.fz@example.org"
MRN = "MRN-8675309"
NOTE = "Zygomatic telangiectasia noted; patient anxious about needles"
TOKEN_URL = "/api/v1/auth/token"
SECRETS = [*NAME, BIRTH_DATE, PHONE, EMAIL, MRN, NOTE, "Zygomatic", "8675309"]


def test_a_patients_course_leaves_no_health_data_in_the_logs(
    app: FastAPI, database_url: str, make_user: UserFactory, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    headers = bearer(app, make_user(Role.ADMIN))
    with (
        running_server(
            database_url, log=log, log_level="DEBUG", secret_key=TEST_SECRET_KEY
        ) as base,
        httpx.Client(base_url=base, headers=headers, timeout=30) as http,
    ):
        doctor = http.post(
            "/api/v1/practitioners",
            json={"name": "Dr Log", "time_zone": "Europe/Paris", "availability": WEEKDAYS_9_TO_17},
        ).json()
        patient = {
            "given_name": NAME[0],
            "family_name": NAME[1],
            "birth_date": BIRTH_DATE,
            "sex": "female",
            "phone": PHONE,
            "email": EMAIL,
            "identifiers": [{"system": "urn:clinic:mrn", "value": MRN}],
        }
        created = http.post("/api/v1/patients", json=patient)
        assert created.status_code == 201, created.text
        patient_id = created.json()["id"]
        # The same identifier again: a conflict the database itself may report.
        duplicate = http.post("/api/v1/patients", json={**patient, "given_name": "Other"})
        assert duplicate.status_code == 409
        # Search by name and identifier: both go in the query string.
        assert http.get("/api/v1/patients", params={"q": NAME[1]}).json()["items"]
        by_mrn = http.get("/api/v1/patients", params={"identifier": f"urn:clinic:mrn|{MRN}"})
        assert [p["id"] for p in by_mrn.json()["items"]] == [patient_id]
        assert http.get(f"/api/v1/patients/{patient_id}").status_code == 200
        invalid = http.patch(f"/api/v1/patients/{patient_id}", json={"email": f"{NAME[0]}@"})
        assert invalid.status_code == 422
        evaluation = http.post(
            f"/api/v1/patients/{patient_id}/evaluations",
            json={
                "practitioner_id": doctor["id"],
                "performed_at": "2026-11-01T10:00:00+01:00",
                "spider_vein_sites": ["left-calf"],
                "ceap_class": "C1",
                "varicose_veins": "absent",
                "risk_factors": NO_RISKS,
                "benefits_and_risks_explained": True,
                "notes": NOTE,
            },
        )
        assert evaluation.status_code == 201, evaluation.text
        booked = http.post(
            "/api/v1/sessions",
            json={
                "patient_id": patient_id,
                "practitioner_id": doctor["id"],
                "start": next_weekday_at(2, 10).isoformat(),
            },
        )
        assert booked.status_code == 201, booked.text
        log_in = http.post(TOKEN_URL, data={"username": NAME[0], "password": BIRTH_DATE})
        assert log_in.status_code == 401
    written = log.read_text(errors="replace")
    assert "sclerosched.access" in written  # the server did log, at DEBUG
    assert f"/api/v1/patients/{patient_id}" in written  # ids are fine
    for secret in SECRETS:
        assert secret not in written, f"{secret!r} leaked into the log"


def test_sql_logging_and_database_errors_show_statements_without_their_values(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(database_url, echo=True)  # as an operator debugging would
    statement = text("SELECT :name AS name")
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"), engine.connect() as db:
            assert db.execute(statement, {"name": NAME[1]}).scalar_one() == NAME[1]
            with pytest.raises(DBAPIError) as failure:
                db.execute(text("SELECT * FROM no_such_table WHERE x = :name"), {"name": NAME[1]})
    finally:
        engine.dispose()
    assert "SELECT" in caplog.text
    assert NAME[1] not in caplog.text
    assert NAME[1] not in str(failure.value)


def test_tracebacks_name_the_error_but_not_its_message() -> None:
    formatter = PhiSafeFormatter("%(message)s")
    try:
        try:
            raise ValueError(f"cannot store {NAME[1]}")
        except ValueError as inner:
            raise RuntimeError(f"while saving {EMAIL}") from inner
    except RuntimeError:
        record = logging.LogRecord(
            "app", logging.ERROR, __file__, 1, "unhandled", None, exc_info=sys.exc_info()
        )
    text = formatter.format(record)
    assert "builtins.ValueError (message withheld)" in text
    assert "builtins.RuntimeError (message withheld)" in text
    assert text.index("ValueError") < text.index("RuntimeError")  # the cause first
    assert "test_logs.py" in text  # where it happened is kept
    assert NAME[1] not in text
    assert EMAIL not in text


FORGED = "2026-12-06 12:00:00,000 INFO sclerosched.access [request_id=0] GET /api/v1/x 200 1.0ms"


def test_a_path_cannot_forge_a_log_line_or_turn_one_around(
    database_url: str, tmp_path: Path
) -> None:
    """The finding: a `%0a` in a path forged an access-log line of its own. Every record is
    one line: what a client sent is escaped, a right-to-left override included."""
    log = tmp_path / "server.log"
    with running_server(database_url, log=log, log_level="INFO") as base:
        answer = httpx.get(
            f"{base}/health/live%0a{FORGED.replace(' ', '%20')}%0d%e2%80%ae",
            headers={"X-Request-ID": "ehr-trace-42"},
            timeout=10,
        )
        assert answer.status_code == 404
    lines = log.read_text(encoding="utf-8").splitlines()
    assert not [line for line in lines if line.startswith(FORGED[:30])]
    (access,) = [line for line in lines if "sclerosched.access" in line and "/health/live" in line]
    assert "GET /health/live\\n2026-12-06" in access
    assert "\\r\\u202e 404" in access
    assert access.endswith("client_request_id=ehr-trace-42")
    assert f"request_id={answer.headers['x-request-id']}" in access


def test_every_logger_writes_one_line_a_record_but_tracebacks_keep_theirs() -> None:
    formatter = PhiSafeFormatter("%(name)s %(message)s")
    sent = 'GET /x\n127.0.0.1 - "GET /admin HTTP/1.1" 200\u202e'
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s", (sent,), None)
    assert formatter.format(record) == (
        'uvicorn.access GET /x\\n127.0.0.1 - "GET /admin HTTP/1.1" 200\\u202e'
    )
    try:
        raise ValueError(sent)
    except ValueError:
        failed = logging.LogRecord(
            "app", logging.ERROR, __file__, 1, "%s", (sent,), exc_info=sys.exc_info()
        )
    text = formatter.format(failed)
    assert text.splitlines()[0] == 'app GET /x\\n127.0.0.1 - "GET /admin HTTP/1.1" 200\\u202e'
    assert text.splitlines()[1] == "Traceback (most recent call last):"
