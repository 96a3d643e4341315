"""Every projection of the platform, by name: what `allodiscri projections …` operates on."""

from __future__ import annotations

from allodiscri.platform.projections import Projection
from services.cases.views import PROJECTION as CASE_VIEWS
from services.referrals.views import PROJECTION as REFERRAL_VIEWS
from services.reporting.statistics import PROJECTION as STATISTICS

PROJECTIONS: dict[str, Projection] = {
    projection.name: projection for projection in (CASE_VIEWS, REFERRAL_VIEWS, STATISTICS)
}
