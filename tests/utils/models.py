"""A match model with made-up m and u on every level: for tests that need one to score with, not a trained one."""

from __future__ import annotations

import random
from typing import Any

from identity import settings as model_settings


def made_up_model(seed: int = 7) -> dict[str, Any]:
    """The model's settings with random m and u on every trainable level (training takes a minute)."""
    rng = random.Random(seed)
    model = model_settings.settings() | {"probability_two_random_records_match": 0.002}
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level") and not level.get("fix_m_probability"):
                level |= {"m_probability": rng.uniform(0.01, 0.9), "u_probability": rng.uniform(0.0005, 0.5)}
    return model
