"""What makes a password acceptable, in the spirit of NIST SP 800-63B (section 5.1.1.2): long
enough, typeable (no control character), and not one an attacker tries first: not a character,
word or pattern repeated, not the username, not one of the most common passwords (with digits
or symbols around it), and not one zxcvbn guesses in under 10^8 tries (keyboard rows,
sequences, words with the usual substitutions). No rules on character classes and no forced
changes: those only make people pick worse ones."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from importlib import resources

from app.access.guesses import estimate
from app.errors import DomainError
from app.schemas import renders_as_nothing

MIN_LENGTH = 12
# zxcvbn's score 3: at least 10^8 guesses, out of reach online and slow offline against the
# Argon2id hashes (score 4 would refuse many memorable four-word phrases).
MIN_SCORE = 3
# What people put around a word to pass length rules: "password1234", "Welcome2024!".
_PADDING = " 0123456789!@#$%^&*()-_=+.,;:?~'\"`"
# Words of this service and its trade, which a guesser tries next.
_OWN_WORDS = frozenset({"sclerosched", "sclerotherapy", "clinic", "vein", "veins"})


class WeakPassword(DomainError):
    status = 422
    code = "weak-password"
    title = "The password is too easy to guess"


class SamePassword(DomainError):
    status = 422
    code = "same-password"
    title = "The new password is the current one"


def check_password_change(*, current: str, new: str, username: str) -> None:
    """A user changing their own password: `SamePassword` when it would stay the same (a
    change that changes nothing), else the strength rules of `check_password_strength`."""
    if new == current:
        raise SamePassword("The new password is the current one: choose a different one.")
    check_password_strength(new, username=username)


def check_password_strength(password: str, *, username: str) -> None:
    """Raise `WeakPassword`, saying why, when the password is too easy to guess. It is judged
    as a guesser would type it: compatibility forms folded (fullwidth or bold letters
    are plain ones), case ignored, and spaces left out when compared with common passwords."""
    folded = unicodedata.normalize("NFKC", password).casefold()
    core = folded.strip(_PADDING)
    spaceless = "".join(folded.split()).strip(_PADDING)
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"The password needs at least {MIN_LENGTH} characters.")
    untypeable = next((c for c in password if unicodedata.category(c) in ("Cc", "Cs")), None)
    hidden = next((c for c in password if renders_as_nothing(c)), None)
    if untypeable is None and hidden is not None:
        # A zero-width space or soft hyphen: invisible, so `password1234` with one inside
        # passes for another password, and a client that strips it logs in with a common one.
        raise WeakPassword(
            f"The password holds a character that shows nothing (U+{ord(hidden):04X}): use "
            "only letters, digits, spaces and symbols."
        )
    if untypeable is not None:
        # NUL, line breaks, escape, a lone surrogate: no keyboard types them, and a NUL cuts
        # the password short in tools written in C.
        raise WeakPassword(
            f"The password holds a control character (U+{ord(untypeable):04X}): use only "
            "letters, digits, spaces and symbols."
        )
    if len(set(password)) == 1 or _repeats_itself(folded):
        raise WeakPassword("The password repeats one character, word or pattern.")
    name = username.strip().casefold()
    # The username, alone or with digits and symbols around it ("m.durand2024!").
    if name and not folded.replace(name, "").strip(_PADDING):
        raise WeakPassword("The password is too close to the username.")
    common = common_passwords()
    if folded in common or any(
        part and (part in common or part in _OWN_WORDS) for part in (core, spaceless)
    ):
        raise WeakPassword(
            "The password is one of the most common ones (or one with digits or symbols "
            "added): choose another, e.g. a few unrelated words."
        )
    guessed = estimate(folded, known_words=(username, *_OWN_WORDS))
    if guessed.score < MIN_SCORE:
        advice = " ".join(filter(None, (guessed.warning, *guessed.suggestions)))
        raise WeakPassword(
            "The password is too easy to guess (keyboard rows, sequences, repeats, common "
            f"words): {advice or 'add another word or two, uncommon ones.'}"
        )


def _repeats_itself(folded: str) -> bool:
    """'abababababab', '123123123123', 'password password': one piece over and over, the
    spaces and symbols between the pieces left out."""
    kept = "".join(c for c in folded if c.isalnum()) or folded
    return (kept + kept).find(kept, 1) < len(kept)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The list shipped with the package (`common-passwords.txt`, its source in its head)."""
    text = resources.files("app.accounts").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line and not line.startswith("#")
    )
