"""Whose name an evaluation or a clearance is signed in: the logged-in clinician's own
practitioner, and no one else's; an admin alone records one on another practitioner's behalf.

A user account is linked to the practitioner the person is (`User.practitioner_id`, set by an
admin). An API key is no person: it signs nothing, whatever its role. Whether the practitioner
exists and is active is the recording's own check (`app.evaluations.service`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access.principals import Principal
from app.errors import DomainError
from app.models import User
from app.roles import Role

# Who may record an evaluation or a clearance in another practitioner's name (audited as such).
SIGNS_ON_BEHALF = frozenset({Role.ADMIN})


class NoLinkedPractitioner(DomainError):
    status = 403
    code = "no-linked-practitioner"
    title = "Your account is not linked to a practitioner"


class NotOwnPractitioner(DomainError):
    status = 403
    code = "not-own-practitioner"
    title = "You sign only as your own practitioner"


@dataclass(frozen=True)
class Signature:
    """The practitioner a record is signed in, and whether someone else recorded it for them."""

    practitioner_id: uuid.UUID
    on_behalf: bool


def signature(*, db: Session, caller: Principal, named: uuid.UUID | None, record: str) -> Signature:
    """The practitioner `caller` signs `record` ("an evaluation", "a clearance") as: their own
    (`named` may say so, or be left out); another one only for an admin naming them, on their
    behalf. Refused (403): a key, an account not linked to a practitioner, a clinician naming
    someone else."""
    if caller.kind != "user":
        raise NoLinkedPractitioner(
            f"An API key is not a clinician: {record} is signed by a clinician logged in with "
            "their own account."
        )
    own = db.scalar(select(User.practitioner_id).where(User.id == caller.id))
    may_act_for_others = caller.role in SIGNS_ON_BEHALF
    if named is not None and named != own and may_act_for_others:
        return Signature(named, on_behalf=True)
    if own is None:
        also = " (or name the practitioner you record it for)" if may_act_for_others else ""
        raise NoLinkedPractitioner(
            f"Your account is not linked to a practitioner, so {record} cannot be signed in "
            f"your name: ask an admin to link it{also}."
        )
    if named is not None and named != own:
        raise NotOwnPractitioner(
            f"Practitioner {named} is not yours (yours is {own}): you record {record} only in "
            "your own name. Leave `practitioner_id` out to sign as yourself.",
            practitioner_id=str(named),
        )
    return Signature(own, on_behalf=False)
