"""The model entry point: `simulate(cfg)`, SimConfig -> jitted engine -> Result."""
from __future__ import annotations

import time

from . import engine
from .config import SimConfig
from .result import Result, build_result
from .version import MODEL_VERSION


def simulate(cfg: SimConfig | None = None, **fields) -> Result:
    """Run the model once. ``simulate(cfg)`` or ``simulate(platform=..., ncpus=..., ...)``."""
    if cfg is None:
        cfg = SimConfig(**fields)
    elif fields:
        cfg = cfg.replace(**fields)
    if not isinstance(cfg, SimConfig):
        raise TypeError(f"simulate() takes a SimConfig, not {type(cfg).__name__}")
    P, orders, resolved = cfg.engine_inputs()
    t0 = time.perf_counter()
    out = engine.run(P, orders)
    wall = time.perf_counter() - t0
    return build_result(cfg, resolved, orders, out, wall, MODEL_VERSION)
