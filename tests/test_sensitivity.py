"""vmlab.sensitivity: Sobol and Morris indices on toy functions with known answers (no model
runs), bad inputs, the model path through the sweep cache, and the figure."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import vmlab.model
from vmlab import SimConfig
from vmlab.sensitivity import sensitivity, sensitivity_of
from vmlab.space import Space

SPACE = {"threshold_factor": (0.5, 16.0), "lazy_max_pages": (4096, 131072), "duration_s": (0.1, 1.0)}


def toy(X: pd.DataFrame):
    """Mostly the threshold, a little lazy_max_pages, and duration_s not at all (log-uniform inputs,
    so log(x) is uniform: variance shares 100 : 1 : 0)."""
    return 10 * np.log(X.threshold_factor) + np.log(X.lazy_max_pages) * np.log(32) / np.log(32)


def test_sobol_on_a_toy_function():
    df = sensitivity_of(toy, SPACE, method="sobol", n=256, seed=1)
    assert list(df.index) == list(SPACE) and df.index.name == "field"
    assert list(df.columns) == ["S1", "S1_conf", "ST", "ST_conf"]
    assert df.attrs["evaluations"] == 256 * (3 + 2)
    assert abs(df.loc["duration_s", "ST"]) < 0.02          # ignored by the output
    assert df.loc["threshold_factor", "ST"] == df.ST.max() and df.loc["threshold_factor", "S1"] > 0.9
    assert 0 < df.loc["lazy_max_pages", "ST"] < 0.1
    # an additive function: first-order and total agree
    assert np.allclose(df.S1, df.ST, atol=0.05)
    assert (df.S1_conf >= 0).all() and (df.ST_conf >= 0).all()
    for seed in (0, 1):      # the bootstrap intervals too
        pd.testing.assert_frame_equal(sensitivity_of(toy, SPACE, n=64, seed=seed),
                                      sensitivity_of(toy, SPACE, n=64, seed=seed))


def test_sobol_sees_an_interaction_in_the_total_index():
    # y = log(tf) * log(lmp / 4096): lazy_max_pages matters only through the product
    sp = {"threshold_factor": (1.0, 16.0), "lazy_max_pages": (4096, 65536)}
    df = sensitivity_of(lambda X: np.log(X.threshold_factor) * np.log(X.lazy_max_pages / 4096), sp, n=512, seed=2)
    assert (df.ST - df.S1).min() > 0.1


def test_morris_on_a_toy_function_and_choices():
    df = sensitivity_of(toy, SPACE, method="morris", n=20, seed=3)
    assert list(df.columns) == ["mu_star", "mu_star_conf", "sigma", "mu"]
    assert df.loc["duration_s", "mu_star"] == 0
    assert df.loc["threshold_factor", "mu_star"] > df.loc["lazy_max_pages", "mu_star"] > 0
    assert df.attrs["evaluations"] == 20 * (3 + 1)
    # a choice field the output depends on, next to one it ignores
    sp = {"policy": ["threshold", "always-resched"], "nr_pages": (1, 64)}
    s = sensitivity_of(lambda X: (X.policy == "threshold") * 5.0, sp, n=64, seed=0)
    assert s.loc["policy", "ST"] > 0.9 and abs(s.loc["nr_pages", "ST"]) < 0.02


def test_log_and_int_fields_are_sampled_on_their_scale():
    seen = {}

    def grab(X):
        seen["X"] = X
        return np.zeros(len(X)) + np.arange(len(X))
    sensitivity_of(grab, {"lazy_max_pages": (4096, 131072), "threshold_factor": (0.5, 16.0)}, n=64, seed=0)
    X = seen["X"]
    assert X.lazy_max_pages.map(lambda v: isinstance(v, int)).all()
    assert X.lazy_max_pages.between(4096, 131072).all() and X.threshold_factor.between(0.5, 16).all()
    # log-uniform: about half the samples lie below the geometric midpoint
    assert 0.4 < (X.threshold_factor < np.sqrt(0.5 * 16)).mean() < 0.6
    assert Space.parse({"threshold_factor": (0.5, 16.0)}).dims[0].log


@pytest.mark.parametrize("kw,needle", [
    (dict(method="sobol", n=48), "power of 2"),
    (dict(method="fast"), "method='fast'"),
    (dict(n=1), "n=1"),
])
def test_bad_arguments(kw, needle):
    with pytest.raises(ValueError) as e:
        sensitivity_of(toy, SPACE, **kw)
    assert needle in str(e.value)


def test_missing_outputs_and_bad_functions_are_reported():
    with pytest.raises(ValueError, match="have no out value"):
        sensitivity_of(lambda X: np.where(X.threshold_factor > 8, np.nan, 1.0), SPACE, n=8, output="out")
    with pytest.raises(ValueError, match="returned 3 values"):
        sensitivity_of(lambda X: [1.0, 2.0, 3.0], SPACE, n=8)
    with pytest.raises(ValueError, match="'bogus' is not a SimConfig field"):
        sensitivity_of(toy, {"bogus": (1, 2)}, n=8)
    with pytest.raises(ValueError, match="'latency' is not a summary key"):
        sensitivity(SimConfig(), SPACE, output="latency", n=8)


def test_model_path_runs_through_the_sweep_cache(tmp_path, engine_warm):
    base = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="stress", ncpus=2)
    sp = {"duration_s": (0.02, 0.08), "threshold_factor": (0.5, 16.0)}
    # simulated time is the duration and nothing else: an exact answer through the whole path
    df = sensitivity(base, sp, output="sim_ns", method="sobol", n=8, seed=0, workers=1, out=tmp_path,
                     progress=False)
    assert list(df.index) == list(sp) and np.isfinite(df.to_numpy()).all()
    assert df.loc["threshold_factor", "ST"] == 0 and df.loc["duration_s", "ST"] > 0.5
    files = list((tmp_path / "runs").glob("*.parquet"))
    assert len(files) == df.attrs["evaluations"] == 8 * 4
    calls = []
    real = vmlab.model.simulate
    vmlab.model.simulate = lambda cfg: calls.append(cfg) or real(cfg)
    try:
        again = sensitivity(base, sp, output="sim_ns", method="sobol", n=8, seed=0, workers=1, out=tmp_path,
                            progress=False)
    finally:
        vmlab.model.simulate = real
    assert calls == []
    pd.testing.assert_frame_equal(df, again)


def test_plot_sensitivity_bars_and_intervals():
    from vmlab.plots import plot_sensitivity

    df = sensitivity_of(toy, SPACE, n=64, seed=0, output="purge_p99_ns")
    fig = plot_sensitivity(df)
    ax = fig.axes[0]
    bars = {g: [p for p in ax.patches if p.get_gid() == g] for g in ("bars:S1", "bars:ST")}
    assert [p.get_width() for p in bars["bars:ST"]] == pytest.approx(list(df.ST))
    assert [p.get_width() for p in bars["bars:S1"]] == pytest.approx(list(df.S1))
    assert len(ax.containers) >= 2 and any(c.has_xerr for c in ax.containers if hasattr(c, "has_xerr"))
    assert [t.get_text() for t in ax.get_yticklabels()] == list(SPACE)
    assert "Sobol index" in ax.get_xlabel()
    m = plot_sensitivity(sensitivity_of(toy, SPACE, method="morris", n=8, seed=0, output="purge_p99_ns"))
    assert "(ms per full range of the field)" in m.axes[0].get_xlabel()
