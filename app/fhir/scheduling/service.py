"""The IHE ITI Scheduling operations (which follow the Argonaut Scheduling IG): `$find`
(ITI-115), `$hold` (ITI-116) and `$book` (ITI-117) on Appointment, and cancelling an
Appointment by `PUT`, each through the very services the REST API uses, so that every safety
gate is the same: the patient's standing (varicose veins first, contraindications, clearance,
a valid evaluation), the practitioner's hours and time off, overlaps, the interval between
treatments, the plan.

What the operations take, read here from `Parameters` (no web framework):
- `$find`: `start` and `end` (`valueDate` or `valueDateTime`), `patient` and optionally
  `practitioner` (`valueReference`), optionally `visit-type` (`valueCoding` or
  `valueCodeableConcept`: the one visit type the clinic books).
- `$hold` and `$book`: `appt-resource` (Argonaut; IHE's `appointment-resource` too), an
  Appointment: a `proposed` one from `$find` (patient, practitioner, start, end, and
  optionally the room: a participant `Location/<room id>`), or, for `$book`, a `pending` one
  from `$hold` (its id); `$book` also takes IHE's `appointment-reference` to a pending
  Appointment.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.errors import DomainError
from app.fhir.appointments import appointment, proposed_appointment
from app.fhir.codes import MICRO_SCLEROTHERAPY_SESSION, CodeSystem
from app.fhir.datatypes import instant
from app.models import Room
from app.plans.service import current_plan_id
from app.policy import ClinicPolicy
from app.practitioners.hours import Interval
from app.scheduling.proposals import Proposal, Unplaced
from app.scheduling.schemas import LONGEST_MINUTES, SHORTEST_MINUTES
from app.scheduling.service import ProposalRequest, propose
from app.sessions import booking
from app.sessions.errors import UnknownRoom
from app.sessions.schemas import SessionCreate
from app.vocabulary import SessionStatus

# The IHE ITI Scheduling profile's OperationDefinitions, as published (Official URL on each
# page of the IG: https://profiles.ihe.net/ITI/Scheduling/, "Artifacts Summary").
FIND_DEFINITION = "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-find"
HOLD_DEFINITION = "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-hold"
BOOK_DEFINITION = "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-book"

# When a hold expires, on the pending Appointment that stands for it (FHIR has no element).
HOLD_EXPIRES_EXTENSION = "https://sclerosched.org/fhir/StructureDefinition/hold-expires-at"

# The longest window `$find` searches: proposals look as far ahead for a first visit.
LONGEST_FIND = timedelta(days=92)
_APPOINTMENT_RESOURCE = ("appt-resource", "appointment-resource")


class InvalidParameters(DomainError):
    """A `Parameters` body the operation cannot read: 422, as a malformed REST body is."""

    status = 422
    code = "validation-error"
    title = "Invalid operation parameters"

    def __init__(self, detail: str, *, where: str) -> None:
        super().__init__(detail, errors=[{"loc": ["body", where], "msg": detail}])


class AppointmentChangeRefused(DomainError):
    """A `PUT` of an Appointment that changes more than its status to `cancelled`."""

    status = 422
    code = "appointment-change-refused"
    title = "Only cancelling an Appointment is supported"


@dataclass(frozen=True)
class FindRequest:
    """What `$find` asks: a window, the patient, perhaps a practitioner."""

    start: datetime
    end: datetime
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID | None


@dataclass(frozen=True)
class AppointmentRequest:
    """The Appointment `$hold` or `$book` was given: a proposal (patient, practitioner,
    start, end, perhaps the room), or a hold to book (`hold_id`), perhaps with its plan."""

    hold_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    practitioner_id: uuid.UUID | None
    start: datetime | None
    end: datetime | None
    plan_id: uuid.UUID | None
    room_id: uuid.UUID | None = None


def _parameters(body: object) -> list[Mapping[str, Any]]:
    if not isinstance(body, Mapping) or body.get("resourceType") != "Parameters":
        raise InvalidParameters("The body is a FHIR `Parameters` resource.", where="resourceType")
    found = body.get("parameter", [])
    if not isinstance(found, list) or not all(isinstance(p, Mapping) for p in found):
        raise InvalidParameters("`parameter` is a list of parameters.", where="parameter")
    return found


def _one(parameters: Sequence[Mapping[str, Any]], *names: str) -> Mapping[str, Any] | None:
    named = [p for p in parameters if p.get("name") in names]
    if len(named) > 1:
        raise InvalidParameters(f"`{names[0]}` is given once.", where=names[0])
    return named[0] if named else None


def _known(parameters: Sequence[Mapping[str, Any]], known: set[str]) -> None:
    unknown = sorted({str(p.get("name")) for p in parameters} - known)
    if unknown:
        raise InvalidParameters(
            f"Unknown parameter(s): {', '.join(unknown)}; this operation takes "
            f"{', '.join(sorted(known))}.",
            where=unknown[0],
        )


def _moment(value: object, where: str, zone: ZoneInfo, *, end: bool = False) -> datetime:
    """A `valueDateTime` with its offset, or a `valueDate` (its day in the clinic's zone:
    from its start, or, for an `end`, to its end)."""
    if not isinstance(value, str):
        raise InvalidParameters(f"`{where}` is a date or a date-time.", where=where)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), tzinfo=zone)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        moment.astimezone(UTC)  # a moment past the calendar's end in UTC is none
    except (ValueError, OverflowError):
        raise InvalidParameters(
            f"`{where}` is not a date (YYYY-MM-DD) or a date-time: {value[:40]!r}.", where=where
        ) from None
    if moment.tzinfo is None:
        raise InvalidParameters(
            f"`{where}` has a time, so it needs its offset (e.g. `Z` or `+01:00`).", where=where
        )
    return moment


def _instant(value: object, where: str) -> datetime:
    """An Appointment's `start` or `end`: an instant, with its offset."""
    if not isinstance(value, str) or len(value) <= 10:
        raise InvalidParameters(f"`{where}` is an instant, e.g. 2027-01-04T08:00:00Z.", where=where)
    return _moment(value, where, ZoneInfo("UTC"))


def _when(
    parameter: Mapping[str, Any] | None, where: str, zone: ZoneInfo, *, end: bool
) -> datetime:
    if parameter is None:
        raise InvalidParameters(f"`{where}` is required.", where=where)
    value = parameter.get("valueDateTime", parameter.get("valueDate"))
    return _moment(value, where, zone, end=end and "valueDate" in parameter)


def _literal(text: str) -> tuple[str, str] | None:
    """A literal reference's resource type and id: `Kind/<id>`, or an absolute URL ending so,
    either perhaps with `/_history/<version>`. None: it names no record by its type here (a
    `urn:uuid:` or `urn:oid:`, a `#contained` resource)."""
    if text.startswith(("urn:", "#")):
        return None
    parts = text.rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return (parts[-2], parts[-1]) if len(parts) >= 2 else None


def reference_id(value: object, kind: str, where: str) -> uuid.UUID:
    """The id in a reference `Kind/<id>` (or an absolute URL ending so, perhaps with its
    version); a reference to anything else is refused."""
    text = value.get("reference") if isinstance(value, Mapping) else None
    if not isinstance(text, str):
        raise InvalidParameters(f"`{where}` is a reference, `{kind}/<id>`.", where=where)
    literal = _literal(text)
    if literal is None or literal[0] != kind:
        raise InvalidParameters(f"`{where}` refers to a {kind}: `{kind}/<id>`.", where=where)
    try:
        return uuid.UUID(literal[1])
    except ValueError:
        raise InvalidParameters(f"No {kind} has the id {literal[1][:64]!r}.", where=where) from None


def _visit_type(parameter: Mapping[str, Any] | None) -> None:
    if parameter is None:
        return
    codings = parameter.get("valueCodeableConcept", {}).get("coding") or [
        parameter.get("valueCoding")
    ]
    ours = {"system": CodeSystem.VISIT_TYPE.value, "code": MICRO_SCLEROTHERAPY_SESSION}
    if not any(isinstance(c, Mapping) and {k: c.get(k) for k in ours} == ours for c in codings):
        raise InvalidParameters(
            f"This clinic books one visit type: {CodeSystem.VISIT_TYPE.value}|"
            f"{MICRO_SCLEROTHERAPY_SESSION}.",
            where="visit-type",
        )


def find_request(body: object, *, zone: ZoneInfo, now: datetime) -> FindRequest:
    """`$find`'s parameters, checked: a window of at most `LONGEST_FIND` that ends after
    now, the patient, perhaps a practitioner, the clinic's visit type if named."""
    parameters = _parameters(body)
    _known(parameters, {"start", "end", "patient", "practitioner", "visit-type"})
    start = _when(_one(parameters, "start"), "start", zone, end=False)
    end = _when(_one(parameters, "end"), "end", zone, end=True)
    if end <= start or end - start > LONGEST_FIND:
        raise InvalidParameters(
            f"`end` comes after `start`, at most {LONGEST_FIND.days} days later.", where="end"
        )
    if end <= now:
        raise InvalidParameters("The window has passed: `end` is in the past.", where="end")
    patient = _one(parameters, "patient")
    if patient is None:
        raise InvalidParameters("`patient` is required.", where="patient")
    practitioner = _one(parameters, "practitioner")
    _visit_type(_one(parameters, "visit-type"))
    return FindRequest(
        start=start,
        end=end,
        patient_id=reference_id(patient.get("valueReference"), "Patient", "patient"),
        practitioner_id=(
            reference_id(practitioner.get("valueReference"), "Practitioner", "practitioner")
            if practitioner is not None
            else None
        ),
    )


def appointment_request(body: object, *, booking: bool) -> AppointmentRequest:
    """The Appointment `$hold` (`booking=False`) or `$book` was given."""
    parameters = _parameters(body)
    names = (*_APPOINTMENT_RESOURCE, *(("appointment-reference",) if booking else ()))
    _known(parameters, set(names))
    given = _one(parameters, *names)
    if given is None:
        raise InvalidParameters(
            "`appt-resource` holds the Appointment (as `$find` answered it"
            + (", or as `$hold` did)." if booking else ")."),
            where="appt-resource",
        )
    if given.get("name") == "appointment-reference":
        hold = reference_id(given.get("valueReference"), "Appointment", "appointment-reference")
        return AppointmentRequest(hold, None, None, None, None, None)
    resource = given.get("resource")
    if not isinstance(resource, Mapping) or resource.get("resourceType") != "Appointment":
        raise InvalidParameters("`appt-resource` holds an Appointment.", where="appt-resource")
    return _appointment(resource, booking=booking)


def _appointment(resource: Mapping[str, Any], *, booking: bool) -> AppointmentRequest:
    status = resource.get("status")
    plan_id = _plan(resource)
    if status == "pending" and booking:
        if not isinstance(resource.get("id"), str):
            raise InvalidParameters("A pending Appointment is a hold: send its id.", where="id")
        try:
            hold = uuid.UUID(resource["id"])
        except ValueError:
            raise InvalidParameters("No hold has that id.", where="id") from None
        # What else it says is the hold's, or the booking is refused (`hold-mismatch`).
        actors = _actors(resource) if "participant" in resource else {}
        start, end = _when_held(resource) if "start" in resource else (None, None)
        return AppointmentRequest(
            hold,
            actors.get("Patient"),
            actors.get("Practitioner"),
            start,
            end,
            plan_id,
            actors.get("Location"),
        )
    if status != "proposed":
        wanted = "proposed (from `$find`) or pending (from `$hold`)" if booking else "proposed"
        raise InvalidParameters(f"The Appointment's status is {wanted}.", where="status")
    actors = _actors(resource)
    start, end = _when_held(resource)
    return AppointmentRequest(
        None,
        actors.get("Patient"),
        actors.get("Practitioner"),
        start,
        end,
        plan_id,
        actors.get("Location"),
    )


def _when_held(resource: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """An Appointment's start and end: `end`, or `minutesDuration` after the start (both:
    they agree); a whole number of minutes a session may last."""
    start = _instant(resource.get("start"), "start")
    minutes = resource.get("minutesDuration")
    if minutes is not None and (not isinstance(minutes, int) or isinstance(minutes, bool)):
        raise InvalidParameters("`minutesDuration` is a whole number.", where="minutesDuration")
    if "end" in resource or minutes is None:
        end = _instant(resource.get("end"), "end")
    else:
        end = start + timedelta(minutes=minutes)
    length = (end - start) / timedelta(minutes=1)
    if minutes is not None and minutes != length:
        raise InvalidParameters(
            "`minutesDuration` is the time from start to end.", where="minutesDuration"
        )
    if not (SHORTEST_MINUTES <= length <= LONGEST_MINUTES and length == int(length)):
        raise InvalidParameters(
            f"A session lasts whole minutes, {SHORTEST_MINUTES} to {LONGEST_MINUTES}.",
            where="end",
        )
    return start, end


def _actors(resource: Mapping[str, Any]) -> dict[str, uuid.UUID]:
    """The patient and the practitioner among the participants (one of each), and the room
    if one is named (a `Location`, at most one)."""
    participants = resource.get("participant")
    if not isinstance(participants, list):
        raise InvalidParameters(
            "`participant` names the patient and the practitioner.", where="participant"
        )
    found: dict[str, uuid.UUID] = {}
    for participant in participants:
        actor = participant.get("actor") if isinstance(participant, Mapping) else None
        if not isinstance(actor, Mapping):
            continue  # a participant named by its role only
        kind = _booked_kind(actor)
        if kind is None:
            continue  # another participant (a device, say): not one this clinic books
        if kind in found:
            raise InvalidParameters(f"One {kind} per Appointment.", where="participant")
        found[kind] = reference_id(actor, kind, "participant")
    for kind in ("Patient", "Practitioner"):
        if kind not in found:
            raise InvalidParameters(f"No {kind} among the participants.", where="participant")
    return found


# The participants this clinic books: the patient, the practitioner and the room.
_BOOKED_KINDS = ("Patient", "Practitioner", "Location")


def _booked_kind(actor: Mapping[str, Any]) -> str | None:
    """Which of the patient, the practitioner and the room a participant's actor is (None:
    another, a device say). One that might be one of them but names no record here (a
    `urn:uuid:`, a `#contained` resource, a display or identifier alone) is refused, never
    passed over: a room named so and ignored would book another room."""
    said = actor.get("type") if isinstance(actor.get("type"), str) else None
    text = actor.get("reference")
    literal = _literal(text) if isinstance(text, str) else None
    if literal is None:
        if said is not None and said not in _BOOKED_KINDS:
            return None
        if text is None and said is None:
            return None  # named in words only (`display`), as nothing this clinic books
        named = repr(text[:64]) if isinstance(text, str) else "no record by its reference"
        raise InvalidParameters(
            f"A participant names {named}: refer to the patient, the practitioner and the room "
            "as `Patient/<id>`, `Practitioner/<id>` and `Location/<room id>`.",
            where="participant",
        )
    if said is not None and said != literal[0]:
        raise InvalidParameters(
            f"A participant's reference is to a {literal[0][:64]}, its `type` says {said[:64]}.",
            where="participant",
        )
    kind = literal[0]
    if kind not in _BOOKED_KINDS and kind.casefold() in _BOOKED_FOLDED:
        raise InvalidParameters(
            f"A participant's reference names a {kind[:64]!r}: resource types are written as "
            f"FHIR spells them (`{_BOOKED_FOLDED[kind.casefold()]}/<id>`).",
            where="participant",
        )
    if isinstance(text, str) and text != text.strip():
        raise InvalidParameters(
            "A participant's reference has spaces around it: a reference is written without.",
            where="participant",
        )
    return kind if kind in _BOOKED_KINDS else None


_BOOKED_FOLDED = {kind.casefold(): kind for kind in _BOOKED_KINDS}


def _participants_agree(resource: Mapping[str, Any]) -> None:
    """Each participant of an Appointment sent back (a `PUT`) says what it is as `$book`
    would have it: a reference and its `type` agree, the patient, the practitioner and the
    room named by reference (else `InvalidParameters`, as `$hold` and `$book` answer)."""
    participants = resource.get("participant")
    for participant in participants if isinstance(participants, list) else ():
        actor = participant.get("actor") if isinstance(participant, Mapping) else None
        if isinstance(actor, Mapping):
            _booked_kind(actor)


def _plan(resource: Mapping[str, Any]) -> uuid.UUID | None:
    """The course the session is for: a CarePlan in `supportingInformation`."""
    plans = [
        info
        for info in resource.get("supportingInformation") or []
        if isinstance(info, Mapping) and str(info.get("reference", "")).startswith("CarePlan/")
    ]
    if len(plans) > 1:
        raise InvalidParameters("One CarePlan at most.", where="supportingInformation")
    return reference_id(plans[0], "CarePlan", "supportingInformation") if plans else None


# What a `PUT` may not change: everything an Appointment says but its status (and why it was
# cancelled, and what the server keeps: `meta`, `text`).
_KEPT = ("start", "end", "minutesDuration", "participant", "supportingInformation")


def cancellation(sent: object, current: Mapping[str, Any], appointment_id: str) -> str | None:
    """A `PUT` of an Appointment, against what the server has: the reason to cancel it with
    (None: no change at all), or `AppointmentChangeRefused`."""
    if not isinstance(sent, Mapping) or sent.get("resourceType") != "Appointment":
        raise InvalidParameters("The body is the Appointment.", where="resourceType")
    if sent.get("id") != appointment_id:
        raise InvalidParameters("The Appointment's id is the one in the URL.", where="id")
    _participants_agree(sent)
    changed = [
        key for key in _KEPT if _normal(key, sent.get(key)) != _normal(key, current.get(key))
    ]
    if changed:
        raise AppointmentChangeRefused(
            f"Only `status` may change (to cancelled): {', '.join(changed)} differ. Reschedule "
            "through the REST API (`POST /api/v1/sessions/{id}/reschedule`).",
            fields=changed,
        )
    status = sent.get("status")
    if status == current.get("status"):
        reason = sent.get("cancelationReason")
        if reason is not None and reason != current.get("cancelationReason"):
            raise AppointmentChangeRefused(
                "Why an Appointment was cancelled is kept as it was said then.",
                fields=["cancelationReason"],
            )
        return None
    if status != "cancelled":
        raise AppointmentChangeRefused(
            f"An Appointment's status changes here only to cancelled, not to {status!r}.",
            fields=["status"],
        )
    reason = sent.get("cancelationReason")
    text = reason.get("text") if isinstance(reason, Mapping) else None
    if isinstance(text, str) and text.strip():
        return text.strip()[:2000]
    return "Cancelled through the FHIR interface (no reason given)."


def _normal(key: str, value: Any) -> Any:
    """A value as compared: instants as moments, participants and plans by what they name."""
    if value is None:
        return None
    if key in ("start", "end"):
        try:
            return _moment(value, key, ZoneInfo("UTC"))
        except InvalidParameters:
            return value
    if key == "participant" and isinstance(value, list):
        return sorted(
            str((p.get("actor") or {}).get("reference")) for p in value if isinstance(p, Mapping)
        )
    if key == "supportingInformation" and isinstance(value, list):
        return sorted(str(i.get("reference")) for i in value if isinstance(i, Mapping))
    return value


# --- What the operations do --------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """`$find`'s answer: the visits proposed in the window, and those it could not place
    (or that fall after it), with why."""

    request: FindRequest
    proposals: list[Proposal]
    unplaced: list[Unplaced]
    after_window: list[Proposal]


# A session's length when `$find` proposes one: the REST booking's default.
PROPOSED_LENGTH = timedelta(minutes=45)


def find(*, db: Session, asked: FindRequest, policy: ClinicPolicy, now: datetime) -> Found:
    """The patient's next visits in the window, from the proposals engine: their course's
    (the newest active plan: its remaining visits at its interval), or a usual course of
    three about a month apart. A patient who may not be booked is refused first, exactly as
    booking them would be (`PatientArchived`, `EligibilityBlocked` with the flags)."""
    first = max(asked.start, now)
    booking.eligible_for(
        db, asked.patient_id, Interval(first, first + PROPOSED_LENGTH), now, "booked"
    )
    outcome = propose(
        db=db,
        request=ProposalRequest(
            patient_id=asked.patient_id,
            practitioner_id=asked.practitioner_id,
            plan_id=current_plan_id(db=db, patient_id=asked.patient_id),
            sessions=None,
            interval_days=None,
            earliest=first.astimezone(policy.scheduling.clinic_zone).date(),
            duration=PROPOSED_LENGTH,
            not_before=first,
        ),
        rules=policy.scheduling,
        now=now,
    )
    inside = [p for p in outcome.proposals if p.slot.start < asked.end]
    after = [p for p in outcome.proposals if p.slot.start >= asked.end]
    return Found(asked, inside, outcome.unplaced, after)


def found_bundle(found: Found, *, now: datetime, sees_reasons: bool) -> dict[str, Any]:
    """`$find`'s searchset Bundle: a `proposed` Appointment per visit in the window, and an
    OperationOutcome (search mode `outcome`) for the visits it could not place there; why (an
    evaluation that expires first, say) only for callers that may read eligibility."""
    patient_id = found.request.patient_id
    entries: list[dict[str, Any]] = [
        {
            "resource": proposed_appointment(
                patient_id=patient_id,
                practitioner_id=p.practitioner_id,
                start=p.slot.start,
                end=p.slot.end,
            ),
            "search": {"mode": "match"},
        }
        for p in found.proposals
    ]
    warnings = [
        f"Visit {u.sequence} (aimed at {u.target_date.isoformat()}): "
        + (u.reason if sees_reasons else "no free slot could be proposed for it.")
        for u in found.unplaced
    ] + [
        f"Visit {p.sequence} would be at {instant(p.slot.start)}, after the window's end: "
        "ask again with a later `end` to see it."
        for p in found.after_window
    ]
    if warnings:
        entries.append(
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {"severity": "warning", "code": "informational", "diagnostics": text}
                        for text in warnings
                    ],
                },
                "search": {"mode": "outcome"},
            }
        )
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(now),
        "total": len(found.proposals),
        "entry": entries,
    }


def require_named_room(db: Session, asked: AppointmentRequest) -> None:
    """The room the Appointment names (a participant `Location`), if any, is one of the
    clinic's, or 422 `unknown-room`: asked before anything else, so that booking a hold with
    a room that does not exist is told so, not that the hold is for another room."""
    if asked.room_id is not None and db.get(Room, asked.room_id) is None:
        raise UnknownRoom(
            f"No room with id {asked.room_id}: a participant `Location/<id>` names one of the "
            "clinic's rooms.",
            field="participant",
        )


def hold(
    *, db: Session, asked: AppointmentRequest, policy: ClinicPolicy, now: datetime
) -> booking.Hold:
    """`$hold`: keep the proposed Appointment's slot for its patient (`booking.place_hold`:
    every check booking makes)."""
    require_named_room(db, asked)
    assert asked.patient_id
    assert asked.practitioner_id
    assert asked.start
    assert asked.end
    return booking.place_hold(
        db=db,
        patient_id=asked.patient_id,
        practitioner_id=asked.practitioner_id,
        slot=Interval(asked.start, asked.end),
        now=now,
        rules=policy.booking,
        plan_id=asked.plan_id,
        room_id=asked.room_id,
    )


@dataclass(frozen=True)
class _Held:
    """A hold as an Appointment reads a session."""

    hold: booking.Hold
    status: SessionStatus = SessionStatus.PENDING
    cancel_reason: None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.hold, name)

    @property
    def updated_at(self) -> datetime:
        return self.hold.created_at


def held_appointment(held: booking.Hold, *, room: str | None) -> dict[str, Any]:
    """A hold as its `pending` Appointment (`room`: its room's name), with when it expires."""
    resource = appointment(_Held(held), clinical=False, room=room)
    resource["extension"] = [
        {"url": HOLD_EXPIRES_EXTENSION, "valueInstant": instant(held.expires_at)}
    ]
    return resource


def session_create(asked: AppointmentRequest) -> SessionCreate:
    """What `$book` asks, as the REST booking's body: a hold, or a proposal's slot."""
    try:
        if asked.hold_id is not None:
            # Only what the Appointment says is sent: booking compares it with the hold.
            said: dict[str, Any] = {
                "hold_id": asked.hold_id,
                "plan_id": asked.plan_id,
                "room_id": asked.room_id,
            }
            if asked.patient_id is not None:
                said.update(patient_id=asked.patient_id, practitioner_id=asked.practitioner_id)
            if asked.start is not None and asked.end is not None:
                minutes = (asked.end - asked.start) // timedelta(minutes=1)
                said.update(start=asked.start, duration_minutes=minutes)
            return SessionCreate(**{k: v for k, v in said.items() if v is not None})
        assert asked.start is not None
        assert asked.end is not None
        return SessionCreate(
            patient_id=asked.patient_id,
            practitioner_id=asked.practitioner_id,
            start=asked.start,
            duration_minutes=(asked.end - asked.start) // timedelta(minutes=1),
            plan_id=asked.plan_id,
            room_id=asked.room_id,
        )
    except ValidationError as invalid:
        raise InvalidParameters(
            str(invalid.errors()[0].get("msg")), where="appt-resource"
        ) from None
