"""Profile + Scan → per-partition contexts → checks, Estimate and Plan, one stage a module.

contexts (made once) → checks and estimate (pure over the contexts) →
staging and assembly (the Plan). All three views come from the same contexts,
so what the estimate promises, what validation refuses and what the plan runs
never drift apart.
"""

from __future__ import annotations

from .assembly import make_plan
from .checks import check_profile, validate
from .contexts import contexts, needs_staging
from .estimate import DiskEstimate, Estimate, PartEstimate, estimate

__all__ = [
    "DiskEstimate",
    "Estimate",
    "PartEstimate",
    "check_profile",
    "contexts",
    "estimate",
    "make_plan",
    "needs_staging",
    "validate",
]
