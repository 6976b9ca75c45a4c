"""Lines of injections in the completion body and on the record: every malformed line is a
422 that writes nothing, the single-agent body of earlier versions still works (one line
without a site), and the record reads its lines, its sites and its totals the same whichever
way it is read."""

from __future__ import annotations

from typing import Any

import pytest

from app.roles import Role
from tests.factories import assert_problem, table_snapshot
from tests.sessions.clinic import RECORDS, Clinic, foam, line, ok, paris_day


def _arrived(clinic: Clinic, **evaluation: Any) -> dict[str, Any]:
    """A patient's session, checked in on its day (the evaluation assessed the left calf and
    the right thigh)."""
    visit = clinic.book(clinic.patient(weight_kg=60, **evaluation), paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    return visit


def _without(name: str, body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


SINGLE_AGENT = {
    "treated_sites": ["left-calf"],
    "sclerosant": "polidocanol",
    "concentration_percent": 0.5,
    "volume_ml": 2,
}


def _lines(*lines: dict[str, Any]) -> dict[str, Any]:
    return {"injections": list(lines)}


INVALID = "validation-error"
LINE = ("injections", 0)  # where a fault in the first line is reported, in the body
# A body -> the code it is refused with (422 each), and for a validation error, where.
MALFORMED: list[tuple[str, dict[str, Any], str, tuple[str | int, ...] | None]] = [
    ("foam without ratio", _lines(_without("foam_ratio", foam(2))), INVALID, LINE),
    ("foam without gas", _lines(_without("gas", foam(2))), INVALID, LINE),
    ("liquid with a ratio", _lines(line(foam_ratio="1:4")), INVALID, LINE),
    ("liquid with a gas", _lines(line(gas="air")), INVALID, LINE),
    ("no gas in the foam", _lines(foam(2, foam_ratio="4:0")), INVALID, (*LINE, "foam_ratio")),
    ("ratio reversed", _lines(foam(2, foam_ratio="4:1")), INVALID, (*LINE, "foam_ratio")),
    ("ratio not one", _lines(foam(2, foam_ratio="1 to 4")), INVALID, (*LINE, "foam_ratio")),
    ("ratio too fine", _lines(foam(2, foam_ratio="1:40")), INVALID, (*LINE, "foam_ratio")),
    ("ratio a number", _lines(foam(2, foam_ratio=0.25)), INVALID, (*LINE, "foam_ratio")),
    ("unknown gas", _lines(foam(2, gas="nitrogen")), INVALID, (*LINE, "gas")),
    ("negative volume", _lines(line(volume_ml=-1)), INVALID, (*LINE, "volume_ml")),
    ("no volume", _lines(line(volume_ml=0)), INVALID, (*LINE, "volume_ml")),
    ("too much volume", _lines(line(volume_ml=21)), INVALID, (*LINE, "volume_ml")),
    (
        "negative strength",
        _lines(line(concentration_percent=-0.5)),
        INVALID,
        (*LINE, "concentration_percent"),
    ),
    ("count 0", _lines(line(count=0)), INVALID, (*LINE, "count")),
    ("count not whole", _lines(line(count=2.5)), INVALID, (*LINE, "count")),
    ("count true", _lines(line(count=True)), INVALID, (*LINE, "count")),
    ("no count", _lines(_without("count", line())), INVALID, (*LINE, "count")),
    ("unknown vessel", _lines(line(vessel="varicose")), INVALID, (*LINE, "vessel")),
    ("no vessel", _lines(_without("vessel", line())), INVALID, (*LINE, "vessel")),
    ("unknown form", _lines(line(form="gel")), INVALID, (*LINE, "form")),
    ("unknown sclerosant", _lines(line(sclerosant="ethanol")), INVALID, (*LINE, "sclerosant")),
    ("unknown site", _lines(line(site="left-arm")), INVALID, (*LINE, "site")),
    ("unknown field", _lines(line(needle="30G")), INVALID, (*LINE, "needle")),
    ("no lines", _lines(), INVALID, ("injections",)),
    ("a line no object", {"injections": ["left-calf"]}, INVALID, LINE),
    ("a good line, a bad one", _lines(line(), line(count=0)), INVALID, ("injections", 1, "count")),
    ("nothing given", {}, INVALID, ()),
    ("both forms", {**_lines(line()), "sclerosant": "polidocanol"}, INVALID, ()),
    ("both forms, whole", {**_lines(line()), **SINGLE_AGENT}, INVALID, ()),
    ("single agent, partly", _without("volume_ml", SINGLE_AGENT), INVALID, ()),
    ("the face", _lines(line(site="face")), "facial-veins-excluded", None),
    ("the face among legs", _lines(line(), line(site="face")), "facial-veins-excluded", None),
    ("site not evaluated", _lines(line(), line(site="left-knee")), "site-not-evaluated", None),
]


@pytest.mark.parametrize(
    ("body", "code", "where"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_a_malformed_line_is_refused_and_nothing_is_stored(
    clinic: Clinic, body: dict[str, Any], code: str, where: tuple[str | int, ...] | None
) -> None:
    visit = _arrived(clinic)
    before = table_snapshot(clinic.engine, *RECORDS)
    url = f"/api/v1/sessions/{visit['id']}/complete"
    problem = assert_problem(clinic.client.post(url, json=body), 422, code)
    assert table_snapshot(clinic.engine, *RECORDS) == before
    assert clinic.read(visit)["status"] == "arrived"
    if where is not None:
        assert [e["loc"] for e in problem["errors"]] == [["body", *where]]
    if code == "site-not-evaluated":
        assert problem["sites"] == ["left-knee"]


def test_the_single_agent_body_is_one_line_without_a_site(clinic: Clinic) -> None:
    visit = _arrived(clinic)
    body = {**SINGLE_AGENT, "treated_sites": ["left-calf", "right-thigh"]}
    completion = ok(clinic.client.post(f"/api/v1/sessions/{visit['id']}/complete", json=body))[
        "session"
    ]["completion"]
    assert completion["injections"] == [
        {
            "site": None,
            "vessel": None,
            "sclerosant": "polidocanol",
            "concentration_percent": 0.5,
            "form": "liquid",
            "foam_ratio": None,
            "gas": None,
            "volume_ml": 2,
            "count": None,
            "dose_mg": 10,
        }
    ]
    assert completion["treated_sites"] == ["left-calf", "right-thigh"]
    # What a client of earlier versions reads is still there.
    assert (
        completion["sclerosant"],
        completion["concentration_percent"],
        completion["volume_ml"],
        completion["dose_mg"],
    ) == ("polidocanol", 0.5, 2, 10)
    assert completion["totals"] == {
        "doses": [{"sclerosant": "polidocanol", "dose_mg": 10}],
        "liquid_ml": 2,
        "foam_ml": 0,
    }


def test_the_record_reads_its_lines_sites_and_totals(clinic: Clinic) -> None:
    visit = _arrived(clinic, spider_vein_sites=["left-calf", "right-thigh", "left-knee"])
    lines = [
        line(site="right-thigh"),  # 10 mg
        foam(2.5, site="left-knee", foam_ratio="1:4", gas="air"),  # 5 mg
        line(site="right-thigh", sclerosant="sodium-tetradecyl-sulfate", volume_ml=1, count=5),
    ]
    done = ok(clinic.inject(visit, *lines))
    completion = done["session"]["completion"]
    assert completion["treated_sites"] == ["right-thigh", "left-knee"]  # as the lines name them
    assert [(i["site"], i["form"], i["dose_mg"]) for i in completion["injections"]] == [
        ("right-thigh", "liquid", 10),
        ("left-knee", "foam", 5),
        ("right-thigh", "liquid", 5),
    ]
    assert (
        completion["injections"][1] | {"foam_ratio": "1:4", "gas": "air", "count": 4}
        == (completion["injections"][1])
    )
    assert completion["totals"] == {
        "doses": [
            {"sclerosant": "polidocanol", "dose_mg": 15},
            {"sclerosant": "sodium-tetradecyl-sulfate", "dose_mg": 5},
        ],
        "liquid_ml": 3,
        "foam_ml": 2.5,
    }
    # Two sclerosants: no single figure of earlier versions is true of the record.
    for field in ("sclerosant", "concentration_percent", "volume_ml", "dose_mg"):
        assert completion[field] is None, field
    # Read alone, or listed in the calendar: the same record.
    assert clinic.read(visit)["completion"] == completion
    listed = ok(clinic.client.get("/api/v1/sessions", params={"patient_id": visit["patient_id"]}))
    assert [s["completion"] for s in listed["items"]] == [completion]


def test_one_sclerosant_at_two_strengths_keeps_its_total_but_no_single_strength(
    clinic: Clinic,
) -> None:
    visit = _arrived(clinic)
    reticular = line(site="right-thigh", vessel="reticular", concentration_percent=1, count=10)
    completion = ok(clinic.inject(visit, line(), reticular))["session"]["completion"]
    assert (completion["sclerosant"], completion["dose_mg"], completion["volume_ml"]) == (
        "polidocanol",
        30,
        4,
    )
    assert completion["concentration_percent"] is None


def test_the_lines_are_clinical_detail(clinic: Clinic) -> None:
    visit = _arrived(clinic)
    ok(clinic.inject(visit, line()))
    desk = clinic.client_as(Role.RECEPTIONIST)
    assert clinic.read(visit, desk)["completion"] is None
    listed = ok(desk.get("/api/v1/sessions", params={"patient_id": visit["patient_id"]}))
    assert [s["completion"] for s in listed["items"]] == [None]
