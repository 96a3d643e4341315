"""Where a case stands: its statuses and the four phases of the law they belong to.

Published with the case events (statistics count by status and phase), so shared through the
kernel rather than owned by one service.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    INTERVIEW_SCHEDULED = "interview-scheduled"
    IN_TREATMENT = "in-treatment"
    INQUIRY = "inquiry"
    CLOSED = "closed"
    TRANSFERRED = "transferred"
    ERASED = "erased"


PHASES = {
    Status.RECEIVED: "recueil",
    Status.ACKNOWLEDGED: "recueil",
    Status.INTERVIEW_SCHEDULED: "entretien",
    Status.IN_TREATMENT: "traitement",
    Status.INQUIRY: "clôture",
    Status.CLOSED: "clôture",
    Status.TRANSFERRED: "clôture",
    Status.ERASED: "clôture",
}
