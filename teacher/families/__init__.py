"""Template families: question/SQL pairs for any schema, bound by column role and type.

    from teacher.families import FAMILIES, generate_candidates
    from teacher.slots import SchemaView
    view = SchemaView(schema, executor, lexicon)
    cands = generate_candidates(view, n=5000, rng=random.Random(0), weights={"window": 2.0})

Each family is a template under ``templates/families/`` plus a bind function registered with
``@family`` in one of the modules below (grouped by phase and kind); see
:mod:`teacher.families.registry` and :mod:`teacher.families.engine`.
"""

from teacher.families import aggregates, edge, joins, metrics, nav, timeseries, windows  # noqa: F401  (registers the families)
from teacher.families.engine import FamilyStats, family_shares, generate_candidates
from teacher.families.registry import FAMILIES, FEATURES, FamilySpec, family

__all__ = ["FAMILIES", "FEATURES", "FamilySpec", "FamilyStats", "family", "family_shares",
           "generate_candidates"]
