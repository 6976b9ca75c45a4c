"""How many guesses a secret would take an attacker who tries words, names, keyboard rows,
sequences, repeats and dates first: zxcvbn's estimate (the Dropbox estimator's Python port),
used for passwords (`app.accounts.password_rules`) and the production secret key
(`app.config`)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from zxcvbn import zxcvbn

from app.db import off_the_event_loop

# zxcvbn's matching grows faster than the square of the length: about 0.04 s for 100
# characters but 0.3-0.5 s for 256 (the longest password), on one core. Characters past the
# first 100 only add guesses, so they are left out: the estimate stays a floor.
ESTIMATED_LENGTH = 100
# zxcvbn keeps the words it is given in a module-wide dictionary for the call: two calls at
# once (requests run on worker threads) would mix their words, so they take turns.
_ONE_AT_A_TIME = threading.Lock()


@dataclass(frozen=True, slots=True)
class Estimate:
    score: int  # zxcvbn's 0 (guessed at once) to 4 (more than 10^10 guesses)
    guesses_log10: float
    warning: str  # zxcvbn's own words on what makes it guessable, or ""
    suggestions: tuple[str, ...]
    word_share: float  # how much of the text is dictionary words (0 to 1)


def _zxcvbn(text: str, known_words: list[str]) -> dict[str, Any]:
    with _ONE_AT_A_TIME:
        result: dict[str, Any] = zxcvbn(text, user_inputs=known_words, max_length=ESTIMATED_LENGTH)
    return result


def estimate(secret: str, *, known_words: Iterable[str] = ()) -> Estimate:
    """zxcvbn's estimate for the first `ESTIMATED_LENGTH` characters of `secret`; the
    `known_words` (a username, the service's name) are tried as an attacker's first words."""
    text = secret[:ESTIMATED_LENGTH]
    # Tens of milliseconds of CPU: in a worker thread, not on the event loop, in a request.
    result = off_the_event_loop(_zxcvbn, text, [w for w in known_words if w])
    words = sum(len(m["token"]) for m in result["sequence"] if m["pattern"] == "dictionary")
    feedback = result["feedback"]
    return Estimate(
        score=int(result["score"]),
        guesses_log10=float(result["guesses_log10"]),
        warning=str(feedback.get("warning") or ""),
        suggestions=tuple(str(s) for s in feedback.get("suggestions") or ()),
        word_share=words / len(text) if text else 0.0,
    )
