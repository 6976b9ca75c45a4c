"""Sclerosant doses: a pure check of a treatment's injections against the clinic's limits and
the products' information, each limit beside its source.

A treatment is recorded as lines of injections: one sclerosant, at one concentration, as a
liquid or as a foam, into one kind of vein at one site, so many times. A foam is the solution
mixed with a gas in a stated liquid-to-gas ratio, and only its liquid part holds the drug: the
liquid in a foam is its volume x liquid / (liquid + gas) (for the usual 1:G, volume x 1/(1+G):
5 mL of a 1:4 foam hold 1 mL of solution), and its milligrams come from that liquid part
alone (5 mL of 1% foam at 1:4 give 10 mg, not 50).

Hard limits refuse the treatment (`Exceeded`); what only a product's label advises is said in
a warning flag. Nothing here reads a database or knows of HTTP.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.policy import DoseLimits
from app.vocabulary import (
    WEIGHT_MISSING,
    Flag,
    FlagCode,
    FoamGas,
    Sclerosant,
    SclerosantForm,
    Severity,
    Site,
    Vessel,
)

MG_PER_ML_PER_PERCENT = 10.0  # a 1% solution holds 10 mg per mL
MILLIGRAM = "mg"  # units as UCUM spells them (`app.fhir.procedures` cites the value set)
MILLILITRE = "mL"

# Float arithmetic noise (0.1 x 3 = 0.30000000000000004) is not a dose over a limit.
_NOISE = 1e-9


# --- A foam's liquid-to-gas ratio ------------------------------------------------------------

_RATIO = re.compile(r"^([0-9]{1,2}):([0-9]{1,2})$")
# The bounds of a plausible foam, the service's own (not a clinical rule): whole parts from 1
# to 10, and at least as much gas as liquid. The usual mixture is 1:4 (Tessari's method);
# "4:1" is mostly liquid, most likely a ratio written the wrong way round (its milligrams would
# be counted four times over), and "4:0" or "0:4" is no foam at all.
MOST_PARTS = 10


@dataclass(frozen=True)
class FoamRatio:
    liquid: int
    gas: int

    @property
    def liquid_fraction(self) -> float:
        """The share of a foam's volume that is the sclerosant solution."""
        return self.liquid / (self.liquid + self.gas)

    def __str__(self) -> str:
        return f"{self.liquid}:{self.gas}"


def foam_ratio(text: str) -> FoamRatio:
    """A liquid-to-gas ratio as written ("1:4"), or ValueError saying what is wrong."""
    found = _RATIO.match(text)
    if found is None:
        raise ValueError("must be the liquid and gas parts as whole numbers, e.g. 1:4")
    ratio = FoamRatio(int(found[1]), int(found[2]))
    if not (1 <= ratio.liquid <= MOST_PARTS and 1 <= ratio.gas <= MOST_PARTS):
        raise ValueError(f"each part must be a whole number from 1 to {MOST_PARTS}, e.g. 1:4")
    if ratio.gas < ratio.liquid:
        raise ValueError("must hold at least as much gas as liquid (liquid:gas, e.g. 1:4)")
    return ratio


# --- Injections and what they add up to ------------------------------------------------------


@dataclass(frozen=True)
class Injection:
    """One line of injections. `site`, `vessel` and `count` are None on a line recorded
    without them: a record written before lines were kept, or through the single-agent body."""

    sclerosant: Sclerosant
    concentration_percent: float
    form: SclerosantForm
    volume_ml: float  # a foam's: the foam's volume
    foam_ratio: FoamRatio | None = None  # a foam's, required for one
    gas: FoamGas | None = None  # a foam's
    site: Site | None = None
    vessel: Vessel | None = None
    count: int | None = None

    @property
    def liquid_ml(self) -> float:
        """The sclerosant solution given: all of a liquid, the liquid part of a foam."""
        if self.form is SclerosantForm.FOAM:
            if self.foam_ratio is None:
                raise ValueError("a foam needs its liquid-to-gas ratio")
            return self.volume_ml * self.foam_ratio.liquid_fraction
        return self.volume_ml

    @property
    def exact_mg(self) -> float:
        """The drug given, unrounded, as compared with a limit."""
        return self.concentration_percent * MG_PER_ML_PER_PERCENT * self.liquid_ml

    @property
    def dose_mg(self) -> float:
        """The drug given as recorded and shown: to the microgram."""
        return round(self.exact_mg, 3)


@dataclass(frozen=True)
class Totals:
    """What a session's injections add up to (unrounded)."""

    mg: Mapping[Sclerosant, float]  # the drug, per sclerosant
    liquid_ml: float  # given as a liquid
    foam_ml: float  # given as a foam (its volume, gas included)


def totals(injections: Sequence[Injection]) -> Totals:
    mg: dict[Sclerosant, float] = {}
    for line in injections:
        mg[line.sclerosant] = mg.get(line.sclerosant, 0.0) + line.exact_mg
    return Totals(
        mg=mg,
        liquid_ml=sum(i.volume_ml for i in injections if i.form is SclerosantForm.LIQUID),
        foam_ml=sum(i.volume_ml for i in injections if i.form is SclerosantForm.FOAM),
    )


@dataclass(frozen=True)
class Earlier:
    """What the patient was already given that day, in their other sessions (one since marked
    entered in error too: it was given all the same)."""

    mg: Mapping[Sclerosant, float] = field(default_factory=dict)
    foam_ml: float = 0.0


# --- Hard limits -----------------------------------------------------------------------------


class Limit(enum.StrEnum):
    """The hard limits, by the name a refusal gives them."""

    POLIDOCANOL_PER_KG_PER_DAY = "polidocanol-per-kg-per-day"
    SODIUM_TETRADECYL_SULFATE_PER_SESSION = "sodium-tetradecyl-sulfate-per-session"
    FOAM_PER_SESSION = "foam-per-session"
    FOAM_PER_DAY = "foam-per-day"


# Where each hard limit comes from, said in a refusal. The numbers are the clinic's
# (`DoseLimits`), by default those of these sources.
SOURCES: dict[Limit, str] = {
    # Aethoxysklerol (polidocanol) summary of product characteristics, posology: "the dose of
    # 2 mg polidocanol per kg body weight per day should not be exceeded" (70 kg: 140 mg).
    Limit.POLIDOCANOL_PER_KG_PER_DAY: "Aethoxysklerol (polidocanol) product information, "
    "posology: at most 2 mg per kg of body weight per day",
    # Sotradecol (sodium tetradecyl sulfate injection) US label, dosage and administration:
    # "the maximum single treatment should not exceed 10 mL", of the 3% solution: 300 mg.
    Limit.SODIUM_TETRADECYL_SULFATE_PER_SESSION: "Sotradecol (sodium tetradecyl sulfate) US "
    "label, dosage: at most 10 mL of the 3% solution in one treatment",
    # Aethoxysklerol product information, foam sclerotherapy: at most 10 mL of foam per
    # session and per day, whatever the body weight.
    Limit.FOAM_PER_SESSION: "Aethoxysklerol (polidocanol) product information, foam "
    "sclerotherapy: at most 10 mL of foam per session and per day, whatever the body weight",
    Limit.FOAM_PER_DAY: "Aethoxysklerol (polidocanol) product information, foam "
    "sclerotherapy: at most 10 mL of foam per session and per day, whatever the body weight",
}


@dataclass(frozen=True)
class Exceeded:
    """A hard limit the treatment would break."""

    limit: Limit
    total: float  # what counts against it: this session's, plus that day's for a daily one
    allowed: float
    unit: str  # MILLIGRAM or MILLILITRE
    session: float  # this session's share of `total`
    sclerosant: Sclerosant | None = None  # a limit in milligrams: of which drug

    @property
    def source(self) -> str:
        return SOURCES[self.limit]

    def describe(self) -> str:
        what = f"{self.sclerosant.value}" if self.sclerosant else "foam"
        daily = self.limit in (Limit.POLIDOCANOL_PER_KG_PER_DAY, Limit.FOAM_PER_DAY)
        that_day = f" (that day: {self.total:.10g} {self.unit})" if daily else " in this session"
        return (
            f"{self.session:.10g} {self.unit} of {what}{that_day} is over the limit of "
            f"{self.allowed:.10g} {self.unit} ({self.limit.value}; {self.source})."
        )


def _over(total: float, allowed: float) -> bool:
    return total > allowed + _NOISE


def _first_exceeded(
    given: Totals, earlier: Earlier, weight_kg: float | None, limits: DoseLimits
) -> Exceeded | None:
    """The first hard limit broken, the session's own before the day's: foam in the session,
    sodium tetradecyl sulfate in the session, polidocanol over the day, foam over the day."""
    if _over(given.foam_ml, limits.foam_ml_per_day):
        return Exceeded(
            Limit.FOAM_PER_SESSION,
            given.foam_ml,
            limits.foam_ml_per_day,
            MILLILITRE,
            given.foam_ml,
        )
    sts = given.mg.get(Sclerosant.SODIUM_TETRADECYL_SULFATE, 0.0)
    if _over(sts, limits.sts_mg_per_session):
        return Exceeded(
            Limit.SODIUM_TETRADECYL_SULFATE_PER_SESSION,
            sts,
            limits.sts_mg_per_session,
            MILLIGRAM,
            sts,
            Sclerosant.SODIUM_TETRADECYL_SULFATE,
        )
    polidocanol = given.mg.get(Sclerosant.POLIDOCANOL, 0.0)
    if polidocanol and weight_kg is not None:
        allowed = limits.polidocanol_mg_per_kg_per_day * weight_kg
        day = earlier.mg.get(Sclerosant.POLIDOCANOL, 0.0) + polidocanol
        if _over(day, allowed):
            return Exceeded(
                Limit.POLIDOCANOL_PER_KG_PER_DAY,
                day,
                allowed,
                MILLIGRAM,
                polidocanol,
                Sclerosant.POLIDOCANOL,
            )
    foam_day = earlier.foam_ml + given.foam_ml
    if given.foam_ml and _over(foam_day, limits.foam_ml_per_day):
        return Exceeded(
            Limit.FOAM_PER_DAY, foam_day, limits.foam_ml_per_day, MILLILITRE, given.foam_ml
        )
    return None


# --- What a label advises: warnings ----------------------------------------------------------

# Asclera (polidocanol injection, US prescribing information, dosage and administration):
# 0.5% for spider veins (telangiectasias, up to 1 mm), 1% for reticular veins (1 to 3 mm);
# 0.1 to 0.3 mL per injection; at most 10 mL per treatment session. Asclera is labelled for
# the liquid, so these are asked of liquid polidocanol only. Each is a warning, not a refusal:
# the label is one country's, and the hard limit on polidocanol is the European product
# information's per kilogram (2 mg/kg/day: 140 mg for 70 kg, 28 mL at 0.5%), checked above;
# the 10 mL of the US label is stricter for most patients, so it is said, and the clinician
# decides.
ASCLERA_CONCENTRATION_PERCENT: dict[Vessel, float] = {
    Vessel.TELANGIECTASIA: 0.5,
    Vessel.RETICULAR: 1.0,
}
ASCLERA_ML_PER_INJECTION = (0.1, 0.3)
ASCLERA_ML_PER_SESSION = 10.0


def _line(number: int, line: Injection) -> str:
    where = line.site.value if line.site else "no site recorded"
    into = f" into {line.vessel.value}" if line.vessel else ""
    return f"line {number} ({where}: {line.concentration_percent:g}%{into})"


def label_warnings(injections: Sequence[Injection]) -> tuple[Flag, ...]:
    """Where the liquid polidocanol given departs from Asclera's US label: the concentration
    for the veins treated, the volume per injection, the volume in the session."""
    asked = [
        (number, line)
        for number, line in enumerate(injections, start=1)
        if line.sclerosant is Sclerosant.POLIDOCANOL and line.form is SclerosantForm.LIQUID
    ]
    flags: list[Flag] = []
    concentration = [
        _line(number, line)
        for number, line in asked
        if line.vessel is not None
        and not math.isclose(
            line.concentration_percent, ASCLERA_CONCENTRATION_PERCENT[line.vessel], abs_tol=_NOISE
        )
    ]
    if concentration:
        flags.append(
            Flag(
                FlagCode.OUTSIDE_LABEL_CONCENTRATION,
                Severity.WARNING,
                f"Outside Asclera's US label, which gives polidocanol 0.5% for spider veins "
                f"(telangiectasia) and 1% for reticular veins: {', '.join(concentration)}.",
            )
        )
    low, high = ASCLERA_ML_PER_INJECTION
    per_injection = [
        f"{_line(number, line)}: {line.volume_ml / line.count:.3g} mL each"
        for number, line in asked
        if line.count is not None
        and not low - _NOISE <= line.volume_ml / line.count <= high + _NOISE
    ]
    if per_injection:
        flags.append(
            Flag(
                FlagCode.OUTSIDE_LABEL_INJECTION_VOLUME,
                Severity.WARNING,
                f"Outside Asclera's US label, which gives 0.1 to 0.3 mL per injection: "
                f"{', '.join(per_injection)}.",
            )
        )
    session_ml = sum(line.volume_ml for _, line in asked)
    if _over(session_ml, ASCLERA_ML_PER_SESSION):
        flags.append(
            Flag(
                FlagCode.OUTSIDE_LABEL_SESSION_VOLUME,
                Severity.WARNING,
                f"{session_ml:.10g} mL of liquid polidocanol in this session: over the 10 mL "
                "per session of Asclera's US label (the European limit, per kilogram of body "
                "weight, was checked).",
            )
        )
    return tuple(flags)


# --- The check -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoseCheck:
    totals: Totals
    exceeded: Exceeded | None  # the first hard limit broken; None: none
    warnings: tuple[Flag, ...]


def check_doses(
    *,
    injections: Sequence[Injection],
    weight_kg: float | None,
    earlier: Earlier,
    limits: DoseLimits,
) -> DoseCheck:
    """A session's injections against the hard limits (with what the patient was given
    earlier that day, for the daily ones) and the labels' advice. Without a weight, the
    polidocanol limit per kilogram is not checked, and a `weight-missing` warning says so."""
    given = totals(injections)
    warnings: list[Flag] = []
    if given.mg.get(Sclerosant.POLIDOCANOL) and weight_kg is None:
        warnings.append(WEIGHT_MISSING)
    warnings.extend(label_warnings(injections))
    return DoseCheck(given, _first_exceeded(given, earlier, weight_kg, limits), tuple(warnings))
