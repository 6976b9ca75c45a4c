"""The clinical vocabulary: every site, risk factor, flag, outcome and status, declared once.

This is the page to open to learn the words the service speaks. The request schemas, the
eligibility rules, the completion checks and the README's flag table all come from here (a
test holds the README to it). Nothing here does anything: no database, no HTTP, no rule.

Conventions: JSON field names and object keys are snake_case (`risk_factors.
history_of_blood_clots`); code values are kebab-case, as FHIR codes are (`left-thigh`,
`not-suitable`, `entered-in-error`). A risk factor raises the flag of the same words in
kebab-case, so one search finds both: `history.of.blood.clots`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# --- Where: the sites of spider veins --------------------------------------------------------


# The longest buffer kept free around a practitioner's sessions (an hour before and after
# each is already a long clean-down), and the longest minimum notice a booking may need.
LONGEST_BUFFER_MINUTES = 120
LONGEST_NOTICE_MINUTES = 30 * 24 * 60


class Site(enum.StrEnum):
    LEFT_THIGH = "left-thigh"
    RIGHT_THIGH = "right-thigh"
    LEFT_KNEE = "left-knee"
    RIGHT_KNEE = "right-knee"
    LEFT_CALF = "left-calf"
    RIGHT_CALF = "right-calf"
    LEFT_ANKLE_FOOT = "left-ankle-foot"
    RIGHT_ANKLE_FOOT = "right-ankle-foot"
    FACE = "face"  # recorded so that it can be refused: never treated (scarring risk)


# --- What the clinician finds ----------------------------------------------------------------


class CeapClass(enum.StrEnum):
    """CEAP clinical class, as revised in 2020 (Lurie F, Passman M, Meisner M, et al. The 2020
    update of the CEAP classification system and reporting standards. J Vasc Surg Venous
    Lymphat Disord 2020;8(3):342-352, doi:10.1016/j.jvsv.2019.12.075), which added C2r, C4c
    and C6r. C4 alone is the class of evaluations recorded before: skin changes, subclass not
    recorded. An evaluation writes the class with s (symptomatic) or a (asymptomatic)
    appended, or neither: C2, C2s, C4as."""

    C0 = "C0"  # no visible or palpable signs of venous disease
    C1 = "C1"  # telangiectasias (spider veins) or reticular veins
    C2 = "C2"  # varicose veins
    C2R = "C2r"  # recurrent varicose veins
    C3 = "C3"  # oedema
    # Skin changes without their subclass: evaluations recorded before the 2020 classes
    # (C0 to C6 then) keep it, read as C4a to C4c unspecified; a new evaluation names one.
    C4 = "C4"
    C4A = "C4a"  # pigmentation or eczema
    C4B = "C4b"  # lipodermatosclerosis or atrophie blanche
    C4C = "C4c"  # corona phlebectatica
    C5 = "C5"  # healed venous ulcer
    C6 = "C6"  # active venous ulcer
    C6R = "C6r"  # recurrent active venous ulcer

    @property
    def grade(self) -> int:
        """The class's number: C2r is a C2, C4b a C4."""
        return int(self.value[1])


# The classes a new evaluation may record: the 2020 ones, not the bare pre-2020 C4.
CEAP_2020_CLASSES = tuple(c for c in CeapClass if c is not CeapClass.C4)


class CeapModifier(enum.StrEnum):
    """Appended to the clinical class: with or without symptoms (pain, heaviness, cramps...)."""

    SYMPTOMATIC = "s"
    ASYMPTOMATIC = "a"


# Every value an evaluation's `ceap_class` may hold (the database holds it to them): a 2020
# class alone or with its modifier (`C2ra`), or the bare C4 of evaluations recorded before.
CEAP_CLASS_VALUES: tuple[str, ...] = (
    *(c.value + m for c in CEAP_2020_CLASSES for m in ("", *CeapModifier)),
    CeapClass.C4.value,
)


class VaricoseVeins(enum.StrEnum):
    ABSENT = "absent"
    PRESENT = "present"  # treated first: micro-sclerotherapy is refused until then
    TREATED = "treated"


class VaricoseTreatmentKind(enum.StrEnum):
    ENDOVENOUS_THERMAL_ABLATION = "endovenous-thermal-ablation"
    ENDOVENOUS_CHEMICAL_ABLATION = "endovenous-chemical-ablation"
    SURGERY = "surgery"
    FOAM_SCLEROTHERAPY = "foam-sclerotherapy"
    COMPRESSION_SCLEROTHERAPY = "compression-sclerotherapy"
    OTHER = "other"


class RiskFactor(enum.StrEnum):
    """Asked at every evaluation, each recorded yes, no or not known. The value is the key in
    an evaluation's `risk_factors`; `RISK_FACTORS` below gives the question and the flag."""

    HORMONAL_CONTRACEPTION = "hormonal_contraception"
    HORMONE_REPLACEMENT_THERAPY = "hormone_replacement_therapy"
    HISTORY_OF_BLOOD_CLOTS = "history_of_blood_clots"
    THROMBOPHILIA = "thrombophilia"
    PREGNANCY = "pregnancy"
    BREASTFEEDING = "breastfeeding"
    SCLEROSANT_ALLERGY = "sclerosant_allergy"
    ACUTE_THROMBOSIS = "acute_thrombosis"
    LOCAL_INFECTION = "local_infection"
    IMMOBILITY = "immobility"
    RIGHT_TO_LEFT_SHUNT = "right_to_left_shunt"
    PERIPHERAL_ARTERIAL_DISEASE = "peripheral_arterial_disease"


# --- What the service concludes --------------------------------------------------------------


class Severity(enum.StrEnum):
    ABSOLUTE = "absolute"  # a contraindication nothing can clear
    # Booking refused until a later evaluation records otherwise; `facial-veins-excluded`
    # with leg sites blocks only the face (never treated), not the legs.
    BLOCKING = "blocking"
    RELATIVE = "relative"  # booking needs a clinician's documented clearance
    WARNING = "warning"  # shown to staff; does not stop booking


class FlagCode(enum.StrEnum):
    """Every flag the service raises, on an evaluation, a patient's eligibility, a booked
    session's review or a treatment record."""

    # An evaluation's findings (the table in the README)
    VARICOSE_TREATMENT_FIRST = "varicose-treatment-first"
    VENOUS_WORK_UP_NEEDED = "venous-work-up-needed"
    FACIAL_VEINS_EXCLUDED = "facial-veins-excluded"
    COUNSELLING_INCOMPLETE = "counselling-incomplete"
    RISK_FACTOR_UNKNOWN = "risk-factor-unknown"
    SCLEROSANT_ALLERGY = "sclerosant-allergy"
    ACUTE_THROMBOSIS = "acute-thrombosis"
    LOCAL_INFECTION = "local-infection"
    IMMOBILITY = "immobility"
    RIGHT_TO_LEFT_SHUNT = "right-to-left-shunt"
    HORMONAL_CONTRACEPTION = "hormonal-contraception"
    HISTORY_OF_BLOOD_CLOTS = "history-of-blood-clots"
    THROMBOPHILIA = "thrombophilia"
    HORMONE_REPLACEMENT_THERAPY = "hormone-replacement-therapy"
    PREGNANCY = "pregnancy"
    BREASTFEEDING = "breastfeeding"
    PERIPHERAL_ARTERIAL_DISEASE = "peripheral-arterial-disease"
    # A patient's standing: no evaluation to go by, or one that still stands in the way
    EVALUATION_MISSING = "evaluation-missing"
    EVALUATION_EXPIRED = "evaluation-expired"
    EVALUATION_EXPIRES_BEFORE_SESSION = "evaluation-expires-before-session"
    EVALUATION_RECORDED_LATER = "evaluation-recorded-later"
    PATIENT_ARCHIVED = "patient-archived"
    # Why a booked session needs review
    INACTIVE_PRACTITIONER = "inactive-practitioner"
    OUTSIDE_AVAILABILITY = "outside-availability"
    INACTIVE_ROOM = "inactive-room"
    ROOM_CLOSED = "room-closed"
    INTERVAL_TOO_SHORT = "interval-too-short"
    PLAN_NOT_ACTIVE = "plan-not-active"
    # Warnings on a treatment record
    WEIGHT_MISSING = "weight-missing"
    WEIGHT_FROM_EARLIER_RECORD = "weight-from-earlier-record"
    WEIGHT_NOT_CLINICAL = "weight-not-clinical"
    LOWER_WEIGHT_ON_RECORD = "lower-weight-on-record"
    STATED_WEIGHT_ABOVE_RECORD = "stated-weight-above-record"
    FOUND_SINCE_TREATMENT = "found-since-treatment"
    # Outside a product's label, as a warning: `app.sessions.dosing` says which and why
    OUTSIDE_LABEL_CONCENTRATION = "outside-label-concentration"
    OUTSIDE_LABEL_INJECTION_VOLUME = "outside-label-injection-volume"
    OUTSIDE_LABEL_SESSION_VOLUME = "outside-label-session-volume"


@dataclass(frozen=True)
class Flag:
    code: FlagCode
    severity: Severity
    message: str


@dataclass(frozen=True)
class RiskFactorEntry:
    question: str  # what the clinician asks: the request schema's description
    flag: Flag  # raised when the answer is yes


# Risk factors with the flag each raises (2014 European guidelines for sclerotherapy in chronic
# venous disorders): the absolute contraindications first, then the relative ones.
RISK_FACTORS: dict[RiskFactor, RiskFactorEntry] = {
    RiskFactor.SCLEROSANT_ALLERGY: RiskFactorEntry(
        "Known allergy to a sclerosant",
        Flag(
            FlagCode.SCLEROSANT_ALLERGY,
            Severity.ABSOLUTE,
            "Known allergy to a sclerosant: sclerotherapy is contraindicated.",
        ),
    ),
    RiskFactor.ACUTE_THROMBOSIS: RiskFactorEntry(
        "Acute deep vein thrombosis or pulmonary embolism now",
        Flag(
            FlagCode.ACUTE_THROMBOSIS,
            Severity.ABSOLUTE,
            "Acute deep vein thrombosis or pulmonary embolism: sclerotherapy is contraindicated.",
        ),
    ),
    RiskFactor.LOCAL_INFECTION: RiskFactorEntry(
        "Local infection or severe skin disease at the sites",
        Flag(
            FlagCode.LOCAL_INFECTION,
            Severity.ABSOLUTE,
            "Local infection or severe skin disease at the sites: not to be injected.",
        ),
    ),
    RiskFactor.IMMOBILITY: RiskFactorEntry(
        "Long-lasting immobility or bed confinement",
        Flag(
            FlagCode.IMMOBILITY,
            Severity.ABSOLUTE,
            "Long-lasting immobility or bed confinement: thrombosis risk too high.",
        ),
    ),
    RiskFactor.RIGHT_TO_LEFT_SHUNT: RiskFactorEntry(
        "Known symptomatic right-to-left shunt, e.g. a patent foramen ovale",
        Flag(
            FlagCode.RIGHT_TO_LEFT_SHUNT,
            Severity.ABSOLUTE,
            "Known symptomatic right-to-left shunt (e.g. patent foramen ovale): "
            "sclerosant could reach the arterial circulation.",
        ),
    ),
    RiskFactor.HORMONAL_CONTRACEPTION: RiskFactorEntry(
        "Takes the birth-control pill",
        Flag(
            FlagCode.HORMONAL_CONTRACEPTION,
            Severity.RELATIVE,
            "Takes the birth-control pill: higher thrombosis risk; a clinician must clear "
            "treatment.",
        ),
    ),
    RiskFactor.HISTORY_OF_BLOOD_CLOTS: RiskFactorEntry(
        "Past deep vein thrombosis or pulmonary embolism",
        Flag(
            FlagCode.HISTORY_OF_BLOOD_CLOTS,
            Severity.RELATIVE,
            "History of blood clots (DVT or PE): a clinician must clear treatment.",
        ),
    ),
    RiskFactor.THROMBOPHILIA: RiskFactorEntry(
        "Known thrombophilia",
        Flag(
            FlagCode.THROMBOPHILIA,
            Severity.RELATIVE,
            "Known thrombophilia: a clinician must clear treatment.",
        ),
    ),
    RiskFactor.HORMONE_REPLACEMENT_THERAPY: RiskFactorEntry(
        "Takes hormone replacement therapy",
        Flag(
            FlagCode.HORMONE_REPLACEMENT_THERAPY,
            Severity.RELATIVE,
            "Hormone replacement therapy: higher thrombosis risk; a clinician must clear "
            "treatment.",
        ),
    ),
    RiskFactor.PREGNANCY: RiskFactorEntry(
        "Pregnant",
        Flag(
            FlagCode.PREGNANCY,
            Severity.RELATIVE,
            "Pregnant: treatment is usually deferred; a clinician must clear it.",
        ),
    ),
    RiskFactor.BREASTFEEDING: RiskFactorEntry(
        "Breastfeeding",
        Flag(
            FlagCode.BREASTFEEDING,
            Severity.RELATIVE,
            "Breastfeeding: a clinician must clear treatment.",
        ),
    ),
    RiskFactor.PERIPHERAL_ARTERIAL_DISEASE: RiskFactorEntry(
        "Severe peripheral arterial disease",
        Flag(
            FlagCode.PERIPHERAL_ARTERIAL_DISEASE,
            Severity.RELATIVE,
            "Severe peripheral arterial disease: a clinician must clear treatment.",
        ),
    ),
}

VARICOSE_TREATMENT_FIRST = Flag(
    FlagCode.VARICOSE_TREATMENT_FIRST,
    Severity.BLOCKING,
    "Varicose veins without recorded treatment: they are the likely cause of the spider veins "
    "and are treated first. Book micro-sclerotherapy after an evaluation records them treated.",
)
# Recurrent varicose veins came back after a treatment: the treatment recorded then no longer
# counts, whatever the evaluation says of it (a later one finding them absent or treated, at a
# lower class, does).
VARICOSE_RECURRENT = Flag(
    FlagCode.VARICOSE_TREATMENT_FIRST,
    Severity.BLOCKING,
    "Recurrent varicose veins (CEAP C2r): they came back after their treatment, which no "
    "longer counts. Book micro-sclerotherapy after a later evaluation finds them absent or "
    "treated.",
)
# Relative: lifted by a clinician's clearance, as a relative contraindication is, once the
# work-up is done. Without a recorded varicose treatment `varicose-treatment-first` stands
# beside it, which no clearance lifts: the work-up flag never loosens that.
VENOUS_WORK_UP_NEEDED = Flag(
    FlagCode.VENOUS_WORK_UP_NEEDED,
    Severity.RELATIVE,
    "Skin changes or a venous ulcer (CEAP C4 to C6): advanced venous disease, which needs a "
    "venous work-up (duplex ultrasound) before micro-sclerotherapy. A clinician clears "
    "treatment once it is done.",
)
FACE_ONLY = Flag(
    FlagCode.FACIAL_VEINS_EXCLUDED,
    Severity.BLOCKING,
    "Only facial spider veins: the face is not treated by micro-sclerotherapy (scarring risk).",
)
# Blocking for the face only: the face is never a treatment site (completion records refuse
# it), and the legs' outcome follows from the other flags.
FACE_WITH_LEGS = Flag(
    FlagCode.FACIAL_VEINS_EXCLUDED,
    Severity.BLOCKING,
    "Facial spider veins are recorded but never treated (scarring risk): the face is "
    "excluded, the legs may proceed.",
)
COUNSELLING_INCOMPLETE = Flag(
    FlagCode.COUNSELLING_INCOMPLETE,
    Severity.BLOCKING,
    "Benefits and risks have not been explained to the patient.",
)
EVALUATION_MISSING = Flag(
    FlagCode.EVALUATION_MISSING,
    Severity.BLOCKING,
    "No evaluation on record: a clinician evaluates the patient before any booking.",
)
EVALUATION_EXPIRED = Flag(
    FlagCode.EVALUATION_EXPIRED,
    Severity.BLOCKING,
    "The latest evaluation is past its validity: a new evaluation is needed before booking.",
)
PATIENT_ARCHIVED = Flag(FlagCode.PATIENT_ARCHIVED, Severity.BLOCKING, "The patient is archived.")
WEIGHT_MISSING = Flag(
    FlagCode.WEIGHT_MISSING,
    Severity.WARNING,
    "No body weight recorded by a clinician (on the current evaluation or in this treatment "
    "record): the polidocanol limit (mg per kg per day) was not checked.",
)


class Outcome(enum.StrEnum):
    """An evaluation's verdict, listed from the strongest to the weakest."""

    CONTRAINDICATED = "contraindicated"
    NOT_SUITABLE = "not-suitable"
    VARICOSE_TREATMENT_FIRST = "varicose-treatment-first"
    INCOMPLETE = "incomplete"
    CLEARANCE_REQUIRED = "clearance-required"
    ELIGIBLE = "eligible"


class EligibilityOutcome(enum.StrEnum):
    """A patient's standing: their current evaluation's outcome, or why there is none."""

    CONTRAINDICATED = Outcome.CONTRAINDICATED.value
    NOT_SUITABLE = Outcome.NOT_SUITABLE.value
    VARICOSE_TREATMENT_FIRST = Outcome.VARICOSE_TREATMENT_FIRST.value
    INCOMPLETE = Outcome.INCOMPLETE.value
    CLEARANCE_REQUIRED = Outcome.CLEARANCE_REQUIRED.value
    ELIGIBLE = Outcome.ELIGIBLE.value
    EVALUATION_MISSING = "evaluation-missing"
    EVALUATION_EXPIRED = "evaluation-expired"
    PATIENT_ARCHIVED = "patient-archived"


# --- The treatment ---------------------------------------------------------------------------


class Sclerosant(enum.StrEnum):
    POLIDOCANOL = "polidocanol"
    SODIUM_TETRADECYL_SULFATE = "sodium-tetradecyl-sulfate"


class Vessel(enum.StrEnum):
    """The veins a line of injections treated: spider veins (telangiectasias, up to 1 mm
    across) or the reticular veins that feed them (1 to 3 mm)."""

    TELANGIECTASIA = "telangiectasia"
    RETICULAR = "reticular"


class SclerosantForm(enum.StrEnum):
    LIQUID = "liquid"
    FOAM = "foam"  # the solution mixed with a gas (`FoamGas`), in a stated liquid-to-gas ratio


class FoamGas(enum.StrEnum):
    AIR = "air"
    CO2_O2 = "co2-o2"  # carbon dioxide and oxygen


class Anaesthetic(enum.StrEnum):
    NONE = "none"  # as usual: micro-sclerotherapy needs none
    TOPICAL = "topical"


class Complication(enum.StrEnum):
    PAIN = "pain"
    IRRITATION = "irritation"
    HYPERPIGMENTATION = "hyperpigmentation"
    MATTING = "matting"
    EXTRAVASATION = "extravasation"
    OTHER = "other"


# --- How the treated sites respond (reviews, later in the course) ------------------------------


class TreatmentResponse(enum.StrEnum):
    """How a treated site has answered the treatment, as a clinician sees it at a review."""

    NONE = "none"
    PARTIAL = "partial"
    GOOD = "good"
    CLEARED = "cleared"


class ReviewComplication(enum.StrEnum):
    """A complication seen at a review, since the site was treated. Apart from `Complication`,
    what the completion record notes during the session itself: the later ones (ulceration,
    thrombophlebitis) are not seen on the day, and the record's contract stays as it is."""

    HYPERPIGMENTATION = "hyperpigmentation"
    MATTING = "matting"
    ULCERATION = "ulceration"
    THROMBOPHLEBITIS = "thrombophlebitis"
    ALLERGIC_REACTION = "allergic-reaction"
    EXTRAVASATION = "extravasation"
    OTHER = "other"  # described in a few words


class Aftercare(enum.StrEnum):
    WALK = "walk"
    AVOID_PROLONGED_STANDING_OR_SITTING = "avoid-prolonged-standing-or-sitting"
    AVOID_HOT_BATHS = "avoid-hot-baths"
    AVOID_SUN_EXPOSURE = "avoid-sun-exposure"
    AVOID_STRENUOUS_EXERCISE = "avoid-strenuous-exercise"


# --- Informed consent ------------------------------------------------------------------------


class ConsentProcedure(enum.StrEnum):
    """What a patient consents to (a value each procedure the clinic may take consent for)."""

    MICRO_SCLEROTHERAPY = "micro-sclerotherapy"


class ConsentRisk(enum.StrEnum):
    """A risk the clinician explained before the patient consented. The adverse events of
    sclerotherapy in the European guidelines (Rabe E, Breu FX, Cavezzi A, et al. European
    guidelines for sclerotherapy in chronic venous disorders. Phlebology 2014;29(6):338-354)
    and the International Union of Phlebology's consensus (Wong M, Parsi K, Myers K, et al.
    Sclerotherapy of lower limb veins: indications, contraindications and treatment strategies
    to prevent complications. A consensus document of the International Union of
    Phlebology-2023. Phlebology 2023): the local ones of any injection, then the visual and
    neurological disturbances both report mainly after foam."""

    HYPERPIGMENTATION = "hyperpigmentation"
    MATTING = "matting"  # new fine vessels near the treated ones (telangiectatic matting)
    ULCERATION = "ulceration"  # skin necrosis, e.g. after extravasation
    ALLERGIC_REACTION = "allergic-reaction"
    EXTRAVASATION = "extravasation"  # sclerosant outside the vein: pain, necrosis
    VISUAL_DISTURBANCE = "visual-disturbance"  # foam: scotomas, blurred vision, transient
    NEUROLOGICAL_DISTURBANCE = "neurological-disturbance"  # foam: migraine-like, rarely a TIA


# What must have been explained before a patient's consent to each procedure counts: for
# micro-sclerotherapy (liquid) the five risks both sources name for it. Foam adds the visual
# and neurological disturbances (`FOAM_RISKS`); a consent may list them without foam.
RISKS_TO_EXPLAIN: dict[ConsentProcedure, frozenset[ConsentRisk]] = {
    ConsentProcedure.MICRO_SCLEROTHERAPY: frozenset(
        {
            ConsentRisk.HYPERPIGMENTATION,
            ConsentRisk.MATTING,
            ConsentRisk.ULCERATION,
            ConsentRisk.ALLERGIC_REACTION,
            ConsentRisk.EXTRAVASATION,
        }
    ),
}
FOAM_RISKS = frozenset({ConsentRisk.VISUAL_DISTURBANCE, ConsentRisk.NEUROLOGICAL_DISTURBANCE})


class ConsentStatus(enum.StrEnum):
    """A consent stands (`active`) until the patient withdraws it (`withdrawn`)."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


# --- The course of treatment -----------------------------------------------------------------


class PlanStatus(enum.StrEnum):
    ACTIVE = "active"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class SessionStatus(enum.StrEnum):
    """FHIR Appointment statuses, spelt as FHIR spells them (hence `noshow`; the route that
    records one is `/no-show`)."""

    BOOKED = "booked"
    ARRIVED = "arrived"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    NOSHOW = "noshow"
    ENTERED_IN_ERROR = "entered-in-error"
    # A hold: the slot kept for a few minutes while the patient confirms (`/api/v1/holds`,
    # FHIR `$hold`), until booked or expired. Never a session of the REST session routes.
    PENDING = "pending"


# --- The waitlist: freed slots offered to waiting patients ------------------------------------


class WaitlistStatus(enum.StrEnum):
    """A patient on the waitlist: `waiting` for a freed slot, `offered` while an offer to them
    stands; then `booked` (in their window, through an offer or otherwise), `removed` (by the
    clinic, with a reason; or their record archived) or `lapsed` (their window passed)."""

    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    REMOVED = "removed"
    LAPSED = "lapsed"


class WaitlistRemoval(enum.StrEnum):
    """Why a patient was taken off the waitlist: codes, never free text (the clinic's reason
    travels in a `DELETE`'s query string: one of `RemovalAsked`). `patient-archived` is the
    server's own: archiving a patient ends their entry."""

    PATIENT_REQUEST = "patient-request"  # no longer wants an earlier visit
    BOOKED_ELSEWHERE = "booked-elsewhere"  # booked outside the window, or at another clinic
    NOT_SUITABLE = "not-suitable"  # a clinician's call: not to be brought forward
    ADDED_IN_ERROR = "added-in-error"
    OTHER = "other"
    PATIENT_ARCHIVED = "patient-archived"  # never sent: the patient's record was archived


class RemovalAsked(enum.StrEnum):
    """The reasons the clinic gives when it takes a patient off the waitlist: every
    `WaitlistRemoval` but the server's own (a test holds the two together)."""

    PATIENT_REQUEST = WaitlistRemoval.PATIENT_REQUEST.value
    BOOKED_ELSEWHERE = WaitlistRemoval.BOOKED_ELSEWHERE.value
    NOT_SUITABLE = WaitlistRemoval.NOT_SUITABLE.value
    ADDED_IN_ERROR = WaitlistRemoval.ADDED_IN_ERROR.value
    OTHER = WaitlistRemoval.OTHER.value


class OfferStatus(enum.StrEnum):
    """A freed slot offered to one waiting patient (and held for them): `offered` until it is
    `accepted` (booked), `declined`, `expired` (not answered in time), `refused` (accepting it
    failed a booking check: the patient may not be booked there now) or `withdrawn` (their
    entry ended meanwhile: removed, their record archived, or booked otherwise)."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class FreedSlotStatus(enum.StrEnum):
    """A slot a session gave back: `open` (to be offered: at once, else by the next sweep),
    `offered` (an offer of it stands), `filled` (booked through an offer), `unfilled` (nobody on
    the waitlist could take it, or its time came first)."""

    OPEN = "open"
    OFFERED = "offered"
    FILLED = "filled"
    UNFILLED = "unfilled"


class SlotFreedBy(enum.StrEnum):
    """The life-cycle step that gave a slot back (the session's history names it so too)."""

    CANCEL = "cancel"
    NO_SHOW = "no-show"
    RESCHEDULE = "reschedule"
    ENTERED_IN_ERROR = "entered-in-error"  # a session still ahead that should never have been


class NextVisitStatus(enum.StrEnum):
    """A course's next visit, as its summary tells it."""

    BOOKED = "booked"  # a session of the course is booked (or the patient is checked in)
    PROPOSED = "proposed"  # none booked: the proposals engine's slot for it
    NONE = "none"  # `NoNextVisit` says why


class NoNextVisit(enum.StrEnum):
    """Why a course has no next visit to book."""

    PLAN_COMPLETED = "plan-completed"
    PLAN_CANCELLED = "plan-cancelled"
    PLAN_ON_HOLD = "plan-on-hold"
    PLAN_FULL = "plan-full"  # every planned session is booked or done
    PATIENT_BLOCKED = "patient-blocked"  # the patient may not be booked: the flags say why
    NO_FREE_SLOT = "no-free-slot"  # nothing free in the window around the visit's target day


# --- What the service tells the world (webhooks) ---------------------------------------------


class EventType(enum.StrEnum):
    """What an outbox event (and the webhook that carries it) says happened: `thing.what`,
    each part kebab-case."""

    SESSION_BOOKED = "session.booked"
    SESSION_RESCHEDULED = "session.rescheduled"
    SESSION_CANCELLED = "session.cancelled"
    SESSION_CHECKED_IN = "session.checked-in"
    SESSION_COMPLETED = "session.completed"
    SESSION_NO_SHOW = "session.no-show"
    SESSION_ENTERED_IN_ERROR = "session.entered-in-error"
    HOLD_CREATED = "hold.created"
    EVALUATION_RECORDED = "evaluation.recorded"
    ELIGIBILITY_CHANGED = "eligibility.changed"
    PLAN_COMPLETED = "plan.completed"
    SESSION_REMINDER = "session.reminder"
    # A freed slot offered to a waiting patient (held for them), and what became of the offer.
    WAITLIST_OFFERED = "waitlist.offered"
    WAITLIST_ACCEPTED = "waitlist.accepted"
    WAITLIST_DECLINED = "waitlist.declined"
    WAITLIST_EXPIRED = "waitlist.expired"
    WAITLIST_WITHDRAWN = "waitlist.withdrawn"  # refused when accepted, or the entry ended


class ReminderEmailStatus(enum.StrEnum):
    """A reminder's e-mail: `pending` until a worker takes it (`sending`), then `sent`; or
    `skipped` (no address, or the session will not take place), or `failed` (the mail server
    kept refusing it). A worker that dies while sending leaves it `sending`: never sent twice."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"


class DeliveryStatus(enum.StrEnum):
    """A webhook delivery: `pending` until the receiver answers 2xx (`delivered`), or until
    retries have run out (`failed`)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
