"""The dose check, pure: a session's lines of injections against the hard limits (with what
was given earlier that day) and Asclera's label, table by table."""

from __future__ import annotations

import pytest

from app.policy import DoseLimits
from app.sessions.dosing import (
    MILLIGRAM,
    MILLILITRE,
    SOURCES,
    Earlier,
    FoamRatio,
    Injection,
    Limit,
    check_doses,
    foam_ratio,
    totals,
)
from app.vocabulary import FlagCode, Sclerosant, SclerosantForm, Site, Vessel

LIMITS = DoseLimits(polidocanol_mg_per_kg_per_day=2.0, sts_mg_per_session=300.0)
POLIDOCANOL = Sclerosant.POLIDOCANOL
STS = Sclerosant.SODIUM_TETRADECYL_SULFATE
LIQUID = SclerosantForm.LIQUID
FOAM = SclerosantForm.FOAM


def liquid(
    concentration: float,
    volume: float,
    *,
    count: int | None = None,
    vessel: Vessel | None = None,
    sclerosant: Sclerosant = POLIDOCANOL,
) -> Injection:
    return Injection(
        sclerosant, concentration, LIQUID, volume, site=Site.LEFT_CALF, vessel=vessel, count=count
    )


def foam(
    concentration: float, volume: float, ratio: str = "1:4", sclerosant: Sclerosant = POLIDOCANOL
) -> Injection:
    return Injection(sclerosant, concentration, FOAM, volume, foam_ratio(ratio), count=4)


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        ("1:4", FoamRatio(1, 4)),
        ("01:04", FoamRatio(1, 4)),
        ("1:1", FoamRatio(1, 1)),
        ("2:10", FoamRatio(2, 10)),
        ("10:10", FoamRatio(10, 10)),
    ],
)
def test_a_foam_ratio_is_liquid_to_gas_parts(text: str, ratio: FoamRatio) -> None:
    assert foam_ratio(text) == ratio


@pytest.mark.parametrize(
    "text",
    # no gas, no liquid, mostly liquid (written the wrong way round?), too many parts, not a
    # ratio of whole numbers, digits of another script
    [
        *("4:0", "0:4", "0:0", "4:1", "1:11", "1:100"),
        *("1-4", "1/4", "1:4:1", "1.5:4", "a:b", "", " 1:4", "1:4 ", "1:"),
        "\u0661:\u0664",
    ],
)
def test_an_implausible_foam_ratio_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="1:4"):
        foam_ratio(text)


@pytest.mark.parametrize(
    ("line", "liquid_ml", "dose_mg"),
    [
        (liquid(0.5, 4), 4, 20),  # 0.5% = 5 mg per mL
        (liquid(3, 10), 10, 300),
        (foam(1, 5, "1:4"), 1, 10),  # a fifth of the foam is the solution
        (foam(3, 2, "1:3"), 0.5, 15),  # a quarter
        (foam(2, 4, "1:1"), 2, 40),  # half
        (foam(1, 3, "2:4"), 1, 10),  # a third, as 1:2
    ],
)
def test_the_dose_comes_from_the_liquid(line: Injection, liquid_ml: float, dose_mg: float) -> None:
    assert line.liquid_ml == pytest.approx(liquid_ml)
    assert line.dose_mg == pytest.approx(dose_mg)


def test_totals_sum_each_sclerosant_and_each_form() -> None:
    given = totals([liquid(0.5, 4), foam(1, 5), liquid(1, 2, sclerosant=STS), foam(1, 5, "1:1")])
    assert dict(given.mg) == pytest.approx({POLIDOCANOL: 20 + 10 + 25, STS: 20})
    assert (given.liquid_ml, given.foam_ml) == (6, 10)


# (what was given, the weight, what was given earlier that day) -> the limit broken, the
# total that counts against it, its value, and this session's share; None: none broken.
LIMIT_CASES = [
    # Each line under 100 mg (50 kg), together over it.
    (
        [liquid(1, 6), liquid(1, 5)],
        50,
        Earlier(),
        (Limit.POLIDOCANOL_PER_KG_PER_DAY, 110, 100, 110),
    ),
    ([liquid(1, 6)], 50, Earlier(), None),
    ([liquid(2.5, 4)], 50, Earlier(), None),  # 100 mg: the limit itself is allowed
    (
        [liquid(2.5, 4.00001)],
        50,
        Earlier(),
        (Limit.POLIDOCANOL_PER_KG_PER_DAY, 100.00025, 100, 100.00025),
    ),
    # Earlier that day: 100 mg (a session since marked entered in error counts too).
    (
        [liquid(1, 3)],
        60,
        Earlier({POLIDOCANOL: 100}),
        (Limit.POLIDOCANOL_PER_KG_PER_DAY, 130, 120, 30),
    ),
    ([liquid(1, 2)], 60, Earlier({POLIDOCANOL: 100}), None),
    # Sodium tetradecyl sulfate given earlier does not count against polidocanol's limit.
    ([liquid(1, 2)], 60, Earlier({STS: 300}), None),
    # Without a weight the limit per kilogram is not checked (a warning says so).
    ([liquid(3, 20)], None, Earlier({POLIDOCANOL: 500}), None),
    # Sodium tetradecyl sulfate: per session, whatever the weight and the day.
    ([liquid(3, 10, sclerosant=STS)], None, Earlier({STS: 300}), None),
    (
        [liquid(3, 6, sclerosant=STS), liquid(3, 5, sclerosant=STS)],
        90,
        Earlier(),
        (Limit.SODIUM_TETRADECYL_SULFATE_PER_SESSION, 330, 300, 330),
    ),
    # Foam: 10 mL per session, whatever the weight, of any sclerosant, as lines add up.
    ([foam(1, 6), foam(1, 5, sclerosant=STS)], 90, Earlier(), (Limit.FOAM_PER_SESSION, 11, 10, 11)),
    ([foam(1, 6), foam(1, 5)], None, Earlier(), (Limit.FOAM_PER_SESSION, 11, 10, 11)),
    ([foam(1, 6), foam(1, 4), liquid(0.5, 4)], 90, Earlier(), None),  # 10 mL of foam
    # ... and per day: with the foam given earlier.
    ([foam(1, 5)], 90, Earlier(foam_ml=6), (Limit.FOAM_PER_DAY, 11, 10, 5)),
    ([foam(1, 4)], 90, Earlier(foam_ml=6), None),
    ([liquid(0.5, 4)], 90, Earlier(foam_ml=10), None),  # no foam today: nothing to add
    # The session's own limits first: its foam before the day's polidocanol.
    ([foam(3, 11)], 10, Earlier({POLIDOCANOL: 100}), (Limit.FOAM_PER_SESSION, 11, 10, 11)),
]


@pytest.mark.parametrize(("given", "weight", "earlier", "expected"), LIMIT_CASES)
def test_hard_limits(
    given: list[Injection],
    weight: float | None,
    earlier: Earlier,
    expected: tuple[Limit, float, float, float] | None,
) -> None:
    found = check_doses(injections=given, weight_kg=weight, earlier=earlier, limits=LIMITS)
    if expected is None:
        assert found.exceeded is None
        return
    assert found.exceeded is not None
    limit, total, allowed, session = expected
    assert found.exceeded.limit is limit
    assert (found.exceeded.total, found.exceeded.allowed, found.exceeded.session) == (
        pytest.approx(total),
        pytest.approx(allowed),
        pytest.approx(session),
    )
    foam_limit = limit in (Limit.FOAM_PER_SESSION, Limit.FOAM_PER_DAY)
    assert found.exceeded.unit == (MILLILITRE if foam_limit else MILLIGRAM)
    assert found.exceeded.source == SOURCES[limit]
    assert limit.value in found.exceeded.describe()


def test_every_limit_names_its_source() -> None:
    assert set(SOURCES) == set(Limit)
    assert "Aethoxysklerol" in SOURCES[Limit.POLIDOCANOL_PER_KG_PER_DAY]
    assert "Aethoxysklerol" in SOURCES[Limit.FOAM_PER_DAY] == SOURCES[Limit.FOAM_PER_SESSION]
    assert "Sotradecol" in SOURCES[Limit.SODIUM_TETRADECYL_SULFATE_PER_SESSION]


@pytest.mark.parametrize(
    ("given", "weight", "warned"),
    [
        ([liquid(0.5, 4)], None, ["weight-missing"]),
        ([foam(1, 4)], None, ["weight-missing"]),
        ([liquid(0.5, 4)], 60, []),
        ([liquid(3, 10, sclerosant=STS)], None, []),  # no limit per kilogram to check
    ],
)
def test_without_a_weight_the_check_is_said_not_done(
    given: list[Injection], weight: float | None, warned: list[str]
) -> None:
    found = check_doses(injections=given, weight_kg=weight, earlier=Earlier(), limits=LIMITS)
    assert [w.code for w in found.warnings] == warned


TELANGIECTASIA, RETICULAR = Vessel.TELANGIECTASIA, Vessel.RETICULAR
CONCENTRATION = FlagCode.OUTSIDE_LABEL_CONCENTRATION
PER_INJECTION = FlagCode.OUTSIDE_LABEL_INJECTION_VOLUME
PER_SESSION = FlagCode.OUTSIDE_LABEL_SESSION_VOLUME


@pytest.mark.parametrize(
    ("given", "warned"),
    [
        ([liquid(0.5, 2, count=10, vessel=TELANGIECTASIA)], []),
        ([liquid(1, 2, count=10, vessel=RETICULAR)], []),
        ([liquid(1, 2, count=10, vessel=TELANGIECTASIA)], [CONCENTRATION]),
        ([liquid(0.5, 2, count=10, vessel=RETICULAR)], [CONCENTRATION]),
        ([liquid(0.25, 2, count=10, vessel=TELANGIECTASIA)], [CONCENTRATION]),
        ([liquid(0.5, 1, count=10, vessel=TELANGIECTASIA)], []),  # 0.1 mL each
        ([liquid(0.5, 3, count=10, vessel=TELANGIECTASIA)], []),  # 0.3 mL each
        ([liquid(0.5, 0.9, count=10, vessel=TELANGIECTASIA)], [PER_INJECTION]),
        ([liquid(0.5, 4, count=10, vessel=TELANGIECTASIA)], [PER_INJECTION]),
        ([liquid(1, 2, count=2, vessel=TELANGIECTASIA)], [CONCENTRATION, PER_INJECTION]),
        # 10 mL of liquid polidocanol in the session, then more, over several lines
        (
            [
                liquid(0.5, 6, count=30, vessel=TELANGIECTASIA),
                liquid(1, 4, count=20, vessel=RETICULAR),
            ],
            [],
        ),
        (
            [
                liquid(0.5, 6, count=30, vessel=TELANGIECTASIA),
                liquid(1, 5, count=25, vessel=RETICULAR),
            ],
            [PER_SESSION],
        ),
        # Asclera is labelled for the liquid: a foam, or another sclerosant, is not asked.
        ([foam(2, 4), foam(2, 4, sclerosant=STS)], []),
        ([liquid(1, 12, count=4, vessel=TELANGIECTASIA, sclerosant=STS)], []),
        # A line recorded without a vessel or a count: only what it says is asked.
        ([liquid(3, 4)], []),
        ([liquid(3, 11)], [PER_SESSION]),
    ],
)
def test_asclera_label_warnings(given: list[Injection], warned: list[FlagCode]) -> None:
    found = check_doses(injections=given, weight_kg=200, earlier=Earlier(), limits=LIMITS)
    assert found.exceeded is None  # a warning, never a refusal
    assert [w.code for w in found.warnings] == warned
    assert all(w.severity.value == "warning" and "Asclera" in w.message for w in found.warnings)


def test_a_label_warning_names_the_lines_at_fault() -> None:
    given = [
        liquid(0.5, 2, count=10, vessel=TELANGIECTASIA),
        liquid(1, 2, count=10, vessel=TELANGIECTASIA),
    ]
    [flag] = check_doses(injections=given, weight_kg=60, earlier=Earlier(), limits=LIMITS).warnings
    assert "line 2 (left-calf: 1% into telangiectasia)" in flag.message
    assert "line 1" not in flag.message
