"""Waitlist routes: patients waiting for an earlier visit, and the freed slots offered to them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session
from starlette.routing import Match
from starlette.types import Scope

from app.auditing import Access, AuditTrail, Resource
from app.errors import DomainError, InvalidCursor, NotFound, VersionMismatch
from app.models import WaitlistEntry, WaitlistOffer
from app.patients.service import PatientArchived
from app.plans.service import UnknownPlan
from app.practitioners.service import UnknownPractitioner
from app.roles import Permission
from app.sessions import errors
from app.sessions.errors import UnknownPatient
from app.vocabulary import OfferStatus, RemovalAsked, WaitlistRemoval, WaitlistStatus
from app.waitlist import offers, service
from app.waitlist.schemas import (
    WaitlistEntryCreate,
    WaitlistEntryPage,
    WaitlistEntryRead,
    WaitlistOfferPage,
    WaitlistOfferRead,
)
from app.web.access import AuditDep, holds, requires
from app.web.clock import Now
from app.web.db import ChangingDb, Db
from app.web.params import Cursor, ExpectedVersion, Limit, sends, set_etag
from app.web.policy import Policy
from app.web.problems import problem_responses
from app.web.routes import ApiRoute


class WaitlistRoute(ApiRoute):
    """`/api/v1/waitlist/offers` is the offers' path, never an entry's (`/{entry_id}`): a
    concrete path is matched before a templated one, as OpenAPI says, so a method the offers
    do not take there is a 405 naming the ones they do."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if child.get("path_params", {}).get("entry_id") == _OFFERS:
            return Match.NONE, {}
        return match, child

    # It only ever refuses a path its pattern takes: the route index may file it under its
    # path (`app.web.dispatch`).
    matches_within_path = True


_OFFERS = "offers"
router = APIRouter(prefix="/api/v1/waitlist", tags=["waitlist"], route_class=WaitlistRoute)

SeesEligibility = Annotated[bool, holds(Permission.EVALUATIONS_READ_OUTCOME)]

# What accepting may answer: a booking's refusals (the offer then passes on), and the offer's.
_ACCEPT_ERRORS = (
    NotFound,
    VersionMismatch,
    offers.OfferNotStanding,
    offers.OfferExpired,
    *errors.BOOKING_ERRORS,
)


def _rules(policy: Policy) -> offers.OfferRules:
    return offers.OfferRules(booking=policy.booking, waitlist=policy.waitlist)


def _swept(db: Session, now: datetime, policy: Policy) -> None:
    """Offers read are never stale: those whose time is up expire (their slots passed on)
    before the answer, whether or not the worker has run."""
    offers.sweep(db=db, now=now, rules=_rules(policy))


def _entry(entry: WaitlistEntry) -> WaitlistEntryRead:
    return WaitlistEntryRead.model_validate(entry)


def _offer(offer: WaitlistOffer) -> WaitlistOfferRead:
    return WaitlistOfferRead.model_validate(offer)


def _audited_offers(
    audit: AuditTrail, items: list[WaitlistOffer], patient_id: uuid.UUID | None
) -> None:
    audit.record_list(
        Resource.WAITLIST_OFFER, (Access(o.id, o.patient_id) for o in items), of_patient=patient_id
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Put a patient on the waitlist",
    dependencies=[requires(Permission.WAITLIST_MANAGE)],
    responses=problem_responses(
        UnknownPatient, PatientArchived, service.AlreadyWaitlisted, UnknownPractitioner, UnknownPlan
    ),
    response_description="The entry, waiting",
    openapi_extra=sends("ETag", "Location"),
)
def add_to_waitlist(
    body: WaitlistEntryCreate,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    now: Now,
) -> WaitlistEntryRead:
    """Put a patient on the waitlist for an earlier visit: between `earliest` and `latest`
    (days where the session takes place), with the practitioners, sites (`location_ids`) and
    weekdays they prefer (each empty: any), for a course (`plan_id`; default their newest
    active one). When a session is cancelled or moved away, its slot is offered to the
    best-placed patient on the list whom every booking check allows there (see the README's
    Waitlist section). One entry on the list a patient (409 `already-waitlisted`); a patient
    booked in their window leaves the list."""
    today = now.astimezone(policy.scheduling.clinic_zone).date()
    entry = service.add_entry(db=db, data=body, today=today, now=now)
    audit.record("create", Resource.WAITLIST_ENTRY, entry.id, patient_id=entry.patient_id)
    response.headers["Location"] = f"{router.prefix}/{entry.id}"
    set_etag(response, entry.version)
    return _entry(entry)


@router.get(
    "",
    summary="List the waitlist",
    dependencies=[requires(Permission.WAITLIST_READ)],
    responses=problem_responses(InvalidCursor),
    response_description="A page of the waitlist, longest waiting first",
)
def list_waitlist(
    db: Db,
    cursor: Cursor,
    audit: AuditDep,
    patient_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
    status_: Annotated[
        list[WaitlistStatus] | None,
        Query(alias="status", description="Repeat for several; default: waiting and offered"),
    ] = None,
    limit: Limit = 50,
) -> WaitlistEntryPage:
    """The patients on the waitlist, longest waiting first; by patient, course and status
    (default: those still on the list, `waiting` or `offered`)."""
    items, next_cursor = service.list_entries(
        db=db,
        patient_id=patient_id,
        plan_id=plan_id,
        statuses=status_ or (),
        limit=limit,
        cursor=cursor.after,
    )
    audit.record_list(
        Resource.WAITLIST_ENTRY, (Access(e.id, e.patient_id) for e in items), of_patient=patient_id
    )
    return WaitlistEntryPage(
        items=[_entry(e) for e in items], next_cursor=cursor.next_page(next_cursor)
    )


@router.get(
    "/offers",
    summary="List waitlist offers",
    dependencies=[requires(Permission.WAITLIST_READ)],
    responses=problem_responses(InvalidCursor),
    response_description="A page of offers, newest first",
)
def list_waitlist_offers(
    db: ChangingDb,
    cursor: Cursor,
    audit: AuditDep,
    policy: Policy,
    now: Now,
    entry_id: Annotated[uuid.UUID | None, Query(description="One entry's offers")] = None,
    patient_id: uuid.UUID | None = None,
    status_: Annotated[
        list[OfferStatus] | None, Query(alias="status", description="Repeat for several")
    ] = None,
    limit: Limit = 50,
) -> WaitlistOfferPage:
    """Freed slots offered to waiting patients, newest first; by entry, patient and status
    (`offered`: those standing). Offers whose time is up expire first, and their slots pass
    to the next patient."""
    _swept(db, now, policy)
    items, next_cursor = service.list_offers(
        db=db,
        entry_id=entry_id,
        patient_id=patient_id,
        statuses=status_ or (),
        limit=limit,
        cursor=cursor.after,
    )
    _audited_offers(audit, list(items), patient_id)
    return WaitlistOfferPage(
        items=[_offer(o) for o in items], next_cursor=cursor.next_page(next_cursor)
    )


@router.get(
    "/offers/{offer_id}",
    summary="Read a waitlist offer",
    dependencies=[requires(Permission.WAITLIST_READ)],
    responses=problem_responses(NotFound),
    response_description="The offer",
    openapi_extra=sends("ETag"),
)
def read_waitlist_offer(
    offer_id: uuid.UUID,
    db: ChangingDb,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    now: Now,
) -> WaitlistOfferRead:
    """One offer: the slot, until when it is held for the patient, and what became of it."""
    _swept(db, now, policy)
    offer = service.get_offer(db=db, offer_id=offer_id)
    audit.record("read", Resource.WAITLIST_OFFER, offer.id, patient_id=offer.patient_id)
    set_etag(response, offer.version)
    return _offer(offer)


def _passed_on(db: Session, audit: AuditTrail, passed: offers.PassedOn) -> DomainError:
    """The refusal to answer, once the offer's closing and its slot's passing on are kept
    (committed, with their audit event: the refusal's answer rolls back nothing of them)."""
    refusal, offer = passed.refusal, passed.offer
    audit.record(
        "pass-on",
        Resource.WAITLIST_OFFER,
        offer.id,
        patient_id=offer.patient_id,
        detail=f"{offer.status.value}: {refusal.status} {refusal.code}",
    )
    db.commit()
    return refusal


@router.post(
    "/offers/{offer_id}/accept",
    summary="Accept a waitlist offer",
    dependencies=[requires(Permission.WAITLIST_MANAGE)],
    responses=problem_responses(*_ACCEPT_ERRORS),
    response_description="The offer, accepted, with the session it booked",
    openapi_extra=sends("ETag"),
)
def accept_waitlist_offer(
    offer_id: uuid.UUID,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    now: Now,
    if_match: ExpectedVersion,
) -> WaitlistOfferRead:
    """The patient takes the slot: its hold is booked (`session_id`), with every check a
    booking makes, made again now (their standing, their course, the practitioner's hours, the
    14-day interval). A refusal answers with the booking's code (e.g. 409
    `eligibility-blocked`, 422 `interval-too-short`), and the offer is `refused`, its slot
    passed to the next patient; an offer whose time is up is 409 `offer-expired` (passed on
    likewise); one answered already, 409 `invalid-transition`."""
    try:
        accepted = offers.accept(
            db=db, offer_id=offer_id, now=now, rules=_rules(policy), expected_version=if_match
        )
    except offers.PassedOn as passed:
        raise _passed_on(db, audit, passed) from None
    offer = accepted.offer
    audit.record("accept", Resource.WAITLIST_OFFER, offer.id, patient_id=offer.patient_id)
    audit.record("book", Resource.SESSION, accepted.session.id, patient_id=offer.patient_id)
    set_etag(response, offer.version)
    return _offer(offer)


@router.post(
    "/offers/{offer_id}/decline",
    summary="Decline a waitlist offer",
    dependencies=[requires(Permission.WAITLIST_MANAGE)],
    responses=problem_responses(
        NotFound, VersionMismatch, offers.OfferNotStanding, offers.OfferExpired
    ),
    response_description="The offer, declined",
    openapi_extra=sends("ETag"),
)
def decline_waitlist_offer(
    offer_id: uuid.UUID,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    now: Now,
    if_match: ExpectedVersion,
) -> WaitlistOfferRead:
    """The patient does not take the slot: it is given back and offered to the next patient
    at once; the patient stays on the list for another slot. An offer whose time is up is
    409 `offer-expired` (it was passed on already)."""
    offer = offers.decline(
        db=db, offer_id=offer_id, now=now, rules=_rules(policy), expected_version=if_match
    )
    audit.record("decline", Resource.WAITLIST_OFFER, offer.id, patient_id=offer.patient_id)
    set_etag(response, offer.version)
    return _offer(offer)


@router.get(
    "/{entry_id}",
    summary="Read a waitlist entry",
    dependencies=[requires(Permission.WAITLIST_READ)],
    responses=problem_responses(NotFound),
    response_description="The entry",
    openapi_extra=sends("ETag"),
)
def read_waitlist_entry(
    entry_id: uuid.UUID, db: Db, audit: AuditDep, response: Response
) -> WaitlistEntryRead:
    """One entry: the patient's window and preferences, and whether they still wait."""
    entry = service.get_entry(db=db, entry_id=entry_id)
    audit.record("read", Resource.WAITLIST_ENTRY, entry.id, patient_id=entry.patient_id)
    set_etag(response, entry.version)
    return _entry(entry)


@router.delete(
    "/{entry_id}",
    summary="Take a patient off the waitlist",
    dependencies=[requires(Permission.WAITLIST_MANAGE)],
    responses=problem_responses(NotFound, VersionMismatch, service.NotOnTheList),
    response_description="The entry, removed",
    openapi_extra=sends("ETag"),
)
def remove_from_waitlist(
    entry_id: uuid.UUID,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    now: Now,
    if_match: ExpectedVersion,
    reason: Annotated[
        RemovalAsked,
        Query(description="Why: a code (free text would travel in the URL)"),
    ],
) -> WaitlistEntryRead:
    """Take the patient off the list, with the reason; the entry stays, `removed`. An offer
    standing for them is withdrawn and its slot offered to the next patient. An entry off the
    list already is 409 `invalid-transition`."""
    entry = service.remove_entry(
        db=db,
        entry_id=entry_id,
        reason=WaitlistRemoval(reason.value),
        now=now,
        rules=_rules(policy),
        expected_version=if_match,
    )
    audit.record(
        "remove",
        Resource.WAITLIST_ENTRY,
        entry.id,
        patient_id=entry.patient_id,
        detail=reason.value,
    )
    set_etag(response, entry.version)
    return _entry(entry)
