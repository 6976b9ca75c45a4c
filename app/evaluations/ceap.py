"""A CEAP clinical class as an evaluation writes it: the class, then s or a, or neither.

`C4as` is class C4a (pigmentation or eczema), symptomatic; `C2` is class C2, symptoms not
recorded. The 2020 classes alone make that reading unambiguous: `C4a` is class C4a, since a
bare C4 is no longer a class a new evaluation records. One spelling only, CEAP's own (capital
C, lower-case suffixes), so that what is stored is what was sent. The classes are
`app.vocabulary.CeapClass`'s, with the paper they come from.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.vocabulary import CEAP_2020_CLASSES, CeapClass, CeapModifier

# Longest first: `C2r` is tried before `C2`, so `C2ra` is C2r asymptomatic.
_LONGEST_FIRST = sorted(CeapClass, key=lambda c: -len(c.value))
_NEW_CLASSES = ", ".join(c.value for c in CEAP_2020_CLASSES)
_MODIFIERS = frozenset(m.value for m in CeapModifier)
_HOW = "with s (symptomatic) or a (asymptomatic) appended if recorded, e.g. C2s or C4as"


@dataclass(frozen=True)
class CeapFinding:
    """The clinical class an evaluation found, and whether the patient has symptoms (None:
    not recorded)."""

    clinical_class: CeapClass
    modifier: CeapModifier | None = None

    def __str__(self) -> str:
        return self.clinical_class.value + (self.modifier.value if self.modifier else "")

    @property
    def symptomatic(self) -> bool | None:
        return None if self.modifier is None else self.modifier is CeapModifier.SYMPTOMATIC


# What a new evaluation may send, as its JSON Schema says it.
NEW_PATTERN = "^C(0|1|2r?|3|4[abc]|5|6r?)[sa]?$"
# What an evaluation may hold: those, and the bare C4 of before.
STORED_PATTERN = "^(C(0|1|2r?|3|4[abc]|5|6r?)[sa]?|C4)$"


def _split(text: str) -> CeapFinding | None:
    """The class and modifier `text` spells, pre-2020 C4 included; None if it spells none."""
    for clinical_class in _LONGEST_FIRST:
        if text.startswith(clinical_class.value):
            rest = text.removeprefix(clinical_class.value)
            if rest == "":
                return CeapFinding(clinical_class)
            if rest in _MODIFIERS:
                return CeapFinding(clinical_class, CeapModifier(rest))
            return None
    return None


def stored_finding(text: str) -> CeapFinding:
    """What a stored `ceap_class` says (the database holds it to `CEAP_CLASS_VALUES`)."""
    finding = _split(text)
    if finding is None:
        raise ValueError(f"not a stored CEAP clinical class: {text!r}")
    return finding


def new_finding(text: str) -> CeapFinding:
    """The class a new evaluation records, or a `ValueError` saying how to write it."""
    finding = _split(text)
    if finding is not None and finding.clinical_class is CeapClass.C4:
        raise ValueError(
            "C4 alone is the pre-2020 class, not recorded any more: use C4a (pigmentation or "
            "eczema), C4b (lipodermatosclerosis or atrophie blanche) or C4c (corona "
            f"phlebectatica), {_HOW}"
        )
    if finding is not None:
        return finding
    canonical = text[:1].upper() + text[1:].lower()
    correct = _split(canonical) if canonical != text else None
    if correct is not None:
        new_finding(canonical)  # the pre-2020 C4 is refused as itself
        raise ValueError(f"is written {correct} (capital C, lower-case suffixes, as CEAP does)")
    for clinical_class in _LONGEST_FIRST:
        if clinical_class in CEAP_2020_CLASSES and text.startswith(clinical_class.value):
            raise ValueError(
                f"{clinical_class.value} takes the modifier s (symptomatic) or a "
                f"(asymptomatic) after it, or none: e.g. {clinical_class.value}s"
            )
    raise ValueError(f"is not a CEAP clinical class: one of {_NEW_CLASSES}, {_HOW}")
