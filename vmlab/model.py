"""The model entry point: `simulate(cfg)`, SimConfig -> jitted engine -> Result."""
from __future__ import annotations

import time

from . import engine
from .config import SimConfig
from .policies import PurgePolicy
from .result import Result, build_result
from .version import MODEL_VERSION


def model_version_of(cfg: SimConfig) -> str:
    """The model version a run of ``cfg`` reports: `MODEL_VERSION`, plus the custom policy's hash."""
    if isinstance(cfg.policy, PurgePolicy):
        return f"{MODEL_VERSION}+policy-{cfg.policy.key}"
    return MODEL_VERSION


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
    fn = cfg.policy.compiled() if isinstance(cfg.policy, PurgePolicy) else None
    out = engine.run(P, orders, fn)
    wall = time.perf_counter() - t0
    return build_result(cfg, resolved, orders, out, wall, model_version_of(cfg))
