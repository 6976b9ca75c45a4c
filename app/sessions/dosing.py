"""Sclerosant dose limits: a pure check of a completion record against the clinic's limits."""

from __future__ import annotations

from dataclasses import dataclass

from app.policy import DoseLimits
from app.vocabulary import WEIGHT_MISSING, Flag, Sclerosant

MG_PER_ML_PER_PERCENT = 10.0  # a 1% solution holds 10 mg per mL


@dataclass(frozen=True)
class DoseCheck:
    dose_mg: float  # as recorded and shown: to the microgram
    limit_mg: float | None  # None when the limit cannot be known (no weight)
    exceeded: bool
    warnings: tuple[Flag, ...]
    exact_mg: float = 0.0  # unrounded, as compared
    day_total_mg: float = 0.0  # with what was given earlier that day (polidocanol)


# Float arithmetic noise (0.1 x 3 = 0.30000000000000004) is not a dose over the limit.
_NOISE_MG = 1e-9


def dose_mg(concentration_percent: float, volume_ml: float) -> float:
    """The dose as recorded and shown: to the microgram."""
    return round(_exact_mg(concentration_percent, volume_ml), 3)


def _exact_mg(concentration_percent: float, volume_ml: float) -> float:
    return concentration_percent * MG_PER_ML_PER_PERCENT * volume_ml


def check_dose(
    *,
    sclerosant: Sclerosant,
    concentration_percent: float,
    volume_ml: float,
    weight_kg: float | None,
    same_day_mg: float,
    limits: DoseLimits,
) -> DoseCheck:
    """`same_day_mg`: what the patient already received today (polidocanol's limit is daily)."""
    dose = dose_mg(concentration_percent, volume_ml)
    # Compared unrounded: 300.0003 mg is over a 300 mg limit, though it is shown as 300.
    exact = _exact_mg(concentration_percent, volume_ml)
    if sclerosant is Sclerosant.SODIUM_TETRADECYL_SULFATE:
        limit = limits.sts_mg_per_session
        return DoseCheck(dose, limit, exact > limit + _NOISE_MG, (), exact, exact)
    total = same_day_mg + exact
    if weight_kg is None:
        return DoseCheck(dose, None, False, (WEIGHT_MISSING,), exact, total)
    limit = limits.polidocanol_mg_per_kg_per_day * weight_kg
    return DoseCheck(dose, round(limit, 3), total > limit + _NOISE_MG, (), exact, total)
