"""What makes a password acceptable, in the spirit of NIST SP 800-63B (section 5.1.1.2): long
enough, and not one an attacker tries first: not a single character repeated, not the
username, not one of the most common passwords (with digits or symbols around it). No rules
on character classes and no forced changes: those only make people pick worse ones."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from app.errors import DomainError

MIN_LENGTH = 12
# What people put around a word to pass length rules: "password1234", "Welcome2024!".
_PADDING = " 0123456789!@#$%^&*()-_=+.,;:?~'\"`"
# Words of this service and its trade, which a guesser tries next.
_OWN_WORDS = frozenset({"sclerosched", "sclerotherapy", "clinic", "vein", "veins"})


class WeakPassword(DomainError):
    status = 422
    code = "weak-password"
    title = "The password is too easy to guess"


def check_password_strength(password: str, *, username: str) -> None:
    """Raise `WeakPassword`, saying why, when the password is too easy to guess."""
    folded = password.casefold()
    core = folded.strip(_PADDING)
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"The password needs at least {MIN_LENGTH} characters.")
    if len(set(password)) == 1 or _repeats_a_short_pattern(folded):
        raise WeakPassword("The password repeats one character or a short pattern.")
    name = username.strip().casefold()
    # The username, alone or with digits and symbols around it ("m.durand2024!").
    if name and not folded.replace(name, "").strip(_PADDING):
        raise WeakPassword("The password is too close to the username.")
    common = common_passwords()
    if folded in common or (core and (core in common or core in _OWN_WORDS)):
        raise WeakPassword(
            "The password is one of the most common ones (or one with digits or symbols "
            "added): choose another, e.g. a few unrelated words."
        )


def _repeats_a_short_pattern(folded: str) -> bool:
    """'abababababab', '123123123123': a pattern of up to 3 characters over and over."""
    return any(
        len(folded) % size == 0 and folded == folded[:size] * (len(folded) // size)
        for size in (1, 2, 3)
    )


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The list shipped with the package (`common-passwords.txt`, its source in its head)."""
    text = resources.files("app.accounts").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line and not line.startswith("#")
    )
