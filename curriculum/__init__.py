"""The curriculum stage: phase assignment, difficulty order, held-out splits and replay mixes.

    from curriculum import build_curriculum
    manifest = build_curriculum(pairs_path, out_dir, cfg)   # cfg: schemadistill.config.CurriculumConfig

``assign`` decides each pair's phase (teacher hint checked against the AST), ``split`` makes
the held-out sets (whole families, unseen instances, leakage guard), ``mix`` orders each phase
and adds replay of earlier phases, ``build`` reads ``pairs.jsonl`` and writes everything.
"""

from curriculum.assign import PhaseDecision, assign_phase, phase2_features
from curriculum.build import build_curriculum, load_pairs
from curriculum.mix import make_mix, order_easy_to_hard
from curriculum.split import SplitResult, choose_heldout_families, split_pairs

__all__ = ["PhaseDecision", "SplitResult", "assign_phase", "build_curriculum", "choose_heldout_families",
           "load_pairs", "make_mix", "order_easy_to_hard", "phase2_features", "split_pairs"]
