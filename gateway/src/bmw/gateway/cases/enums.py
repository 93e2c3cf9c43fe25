"""Intake's vocabularies of cases and consent, as GraphQL enums that also parse intake's answers.

Each member's value is intake's wire value, so the pydantic bodies in ``bodies.py`` parse intake's JSON
straight into these members; the GraphQL names are the member names.
"""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="Where a case stands: REGISTERED → TRIAGED → INTAKE_SCHEDULED → IN_PROGRESS → CLOSED.")
class CaseStatus(Enum):
    REGISTERED = strawberry.enum_value("registered", description="Opened from a referral; not triaged yet.")
    TRIAGED = strawberry.enum_value(
        "triaged", description="The social worker confirmed category, urgency, specialism and language."
    )
    INTAKE_SCHEDULED = strawberry.enum_value("intake_scheduled", description="An intake appointment is booked.")
    IN_PROGRESS = strawberry.enum_value(
        "in_progress", description="The intake took place; the social worker works the case."
    )
    CLOSED = strawberry.enum_value("closed", description="Closed with an outcome; it can be reopened within 90 days.")


@strawberry.enum(description="Which cases of the caseload to list.")
class CaseloadStatus(Enum):
    OPEN = strawberry.enum_value("open", description="Cases that are not closed (the default).")
    ALL = strawberry.enum_value("all", description="Open cases and closed ones.")


@strawberry.enum(description="How a case ended.")
class CaseOutcome(Enum):
    RESOLVED = strawberry.enum_value("resolved", description="The help request was resolved.")
    REFERRED_ELSEWHERE = strawberry.enum_value(
        "referred_elsewhere", description="The employee was referred to other care (e.g. a GP or a specialist)."
    )
    DROPPED_OUT = strawberry.enum_value("dropped_out", description="The employee stopped before it was resolved.")
    NO_SHOW = strawberry.enum_value("no_show", description="The employee did not come to the intake.")


@strawberry.enum(description="The two layers of a case's dossier.")
class DossierLayer(Enum):
    FORMAL = strawberry.enum_value(
        "formal", description="The formal dossier; part of what the employee receives on a right-of-access request."
    )
    WORKING = strawberry.enum_value(
        "working",
        description="The social worker's private working notes (werkaantekeningen); outside the right of access.",
    )


@strawberry.enum(description="Which document of the dossier an entry is.")
class DossierEntryKind(Enum):
    INTAKE_REPORT = strawberry.enum_value("intake_report", description="Report of the intake conversation.")
    PLAN = strawberry.enum_value("plan", description="The plan agreed with the employee.")
    PROGRESS = strawberry.enum_value("progress", description="A progress note.")
    CLOSING_REPORT = strawberry.enum_value("closing_report", description="The report written when the case closed.")
    WORKING_NOTE = strawberry.enum_value("working_note", description="A private working note (working layer).")


@strawberry.enum(description="Who may receive something about the employee, under a consent.")
class ConsentRecipient(Enum):
    MANAGER = strawberry.enum_value("manager", description="The employee's manager.")
    HR = strawberry.enum_value("hr", description="HR (P&O) of the client organisation.")
    COMPANY_DOCTOR = strawberry.enum_value("company_doctor", description="The company doctor (bedrijfsarts).")
    PROVIDER = strawberry.enum_value(
        "provider", description="The provider itself: for REFERRAL and ANONYMISED_STATISTICS only."
    )


@strawberry.enum(description="What a consent allows.")
class ConsentItem(Enum):
    REFERRAL = strawberry.enum_value(
        "referral", description="The referral itself (recipient PROVIDER): giving it opens the case."
    )
    ATTENDANCE = strawberry.enum_value(
        "attendance", description="Whether the employee attended, and nothing more (e.g. for the manager)."
    )
    CLOSING_REPORT = strawberry.enum_value(
        "closing_report", description="The closing report of the case (e.g. for the company doctor)."
    )
    ANONYMISED_STATISTICS = strawberry.enum_value(
        "anonymised_statistics", description="Counting the case in anonymised statistics (recipient PROVIDER)."
    )


@strawberry.enum(description="How a consent was given or withdrawn.")
class ConsentMethod(Enum):
    PORTAL = strawberry.enum_value("portal", description="By the employee themselves, in the portal.")
    VERBAL = strawberry.enum_value("verbal", description="Told to a social worker, who recorded it.")
    WRITTEN = strawberry.enum_value("written", description="In writing; a social worker recorded it.")
    ATTESTED_BY_REFERRER = strawberry.enum_value(
        "attested_by_referrer",
        description="The referrer stated the employee agreed, when submitting the referral. Recorded by intake "
        "itself; not accepted as input.",
    )


@strawberry.enum(description="What eraseClient made intake forget.")
class ErasedData(Enum):
    PERSONAL_DATA = strawberry.enum_value(
        "personal_data",
        description="Name, contact details and the referral's own words: the person's key was destroyed "
        "(crypto-shredding), so copies in backups are unreadable too.",
    )
    DOSSIER = strawberry.enum_value(
        "dossier", description="Every dossier entry of the person's cases, formal and working notes alike."
    )
    CONSENTS = strawberry.enum_value("consents", description="The person's consent history.")
    PSEUDONYM = strawberry.enum_value(
        "pseudonym",
        description="The client reference: cases, referrals and the access log now carry an irreversible "
        "replacement, and the events intake keeps for replay no longer name it.",
    )
