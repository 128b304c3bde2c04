"""The policy-lab panel: `policy_lab` and `PolicyLabPanel`, one purge policy (built in, or a
`vmlab.purge_policy` function from a notebook cell) against the kernel's own on the same platform,
CPUs, workload, duration and seed; then a small `vmlab.optimize` search of its knobs and
lazy_max_pages, drawn as a Pareto front, and **Export** of the figures and the email text.
"""
from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ..config import KERNELS, SimConfig
from ..frames import fmt_ms, run_label
from ..paths import data_root
from ..policies import POLICY_NAMES, PurgePolicy
from .base import (
    field_control,
    _CSS,
    _error_html,
    _ok_html,
    _Panel,
    _round3,
    _table_html,
    _table_text,
    figure_png,
    figures_dir,
    message_of,
    run_controls,
)

#: The platform, CPUs, workload, simulated duration (s) and seed the panel starts with (the seed's
#: experiment: stress on an 8-CPU hikey960; 2 s so the list era's first purges happen).
POLICY_LAB_DEFAULTS = dict(platform="hikey960", ncpus=8, workload="stress", duration_s=2.0, seed=1)
#: Each built-in policy's knobs in the optimisation: log ranges (`vmlab.space`), except
#: hysteresis's two marks, searched as choices because every pair must keep low_factor <=
#: threshold_factor (SimConfig refuses the others); lazy_max_pages (pages) is always searched as a
#: log range.
POLICY_SPACES: dict[str, dict[str, Any]] = {
    "threshold": {"threshold_factor": (0.25, 32.0)},
    "hysteresis": {"threshold_factor": [2.0, 4.0, 8.0, 16.0], "low_factor": [0.25, 0.5, 1.0, 2.0]},
    "batch": {"batch_entries": (8, 2048)},
    "hold-budget": {"hold_budget_us": (10.0, 3000.0)},
}
LAZY_MAX_RANGE = (4096, 131072)   #: pages searched for lazy_max_pages (16 MiB .. 512 MiB at 4 KiB)
#: The rows of the comparison table: (label, summary key, formatter).
ROWS = (("peak vmap_lazy_nr / lazy_max_pages", "peak_lazy_ratio", lambda v: f"{float(v):.2f}×"),
        ("purge p99", "purge_p99_ns", fmt_ms),
        ("longest vmap_area_lock wait", "lock_wait_max_ns", fmt_ms),
        ("purges", "purges", lambda v: f"{int(v):,}" if pd.notna(v) else "—"))


def policy_name(policy) -> str:
    """The name of a policy: a built-in's name, or a `PurgePolicy`'s ``name``."""
    return policy.name if isinstance(policy, PurgePolicy) else str(policy)


def policy_label(cfg: SimConfig) -> str:
    """The legend text of a policy run: its name and the knobs it reads, e.g. 'batch 64 entries',
    'hysteresis ×4 / ×1', 'hold-budget 100 µs', 'threshold ×2', 'my_policy (custom)'."""
    p = cfg.policy
    if isinstance(p, PurgePolicy):
        return f"{p.name} (custom)"
    if p == "threshold":
        return f"threshold ×{cfg.threshold_factor:g}"
    if p == "hysteresis":
        return f"hysteresis ×{cfg.threshold_factor:g} / ×{cfg.low_factor:g}"
    if p == "batch":
        return f"batch {cfg.batch_entries} entries"
    if p == "hold-budget":
        return f"hold-budget {cfg.hold_budget_us:g} µs"
    return str(p)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text).strip("_.") or "policy"


class PolicyLabPanel(_Panel):
    """One policy against the kernel's, and a small optimisation of it; see `policy_lab`."""

    name = "policy-lab"

    def __init__(self, policies=(), policy=None, kernel: str = "5.0+threshold", out_dir=None,
                 optimize_dir=None, n_trials: int = 8, opt_seed: int = 0, workers: int | None = 1,
                 dpi: float = 96, **fields):
        import ipywidgets as W

        self.kernel = str(kernel)
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel={kernel!r} is not a kernel era; allowed: {list(KERNELS)}")
        self.custom = [p for p in policies]
        for p in self.custom:
            if not isinstance(p, PurgePolicy):
                raise TypeError(f"policies: {p!r} is not a @vmlab.purge_policy function")
        if policy is None:
            policy = self.custom[-1] if self.custom else "adaptive"
        if isinstance(policy, PurgePolicy) and policy not in self.custom:
            self.custom.append(policy)
        self.out_dir = out_dir
        self.optimize_dir = optimize_dir
        self.workers = workers
        self.dpi = dpi
        kw = dict(POLICY_LAB_DEFAULTS)
        kw.update(fields)
        self.base = SimConfig.for_kernel(self.kernel, **kw)
        self.results: list = []           # [kernel's run, the policy's run]
        self.opt: pd.DataFrame | None = None
        self.error: str | None = None
        self.timings: dict[str, float] = {}

        pol_opts = [(n, n) for n in POLICY_NAMES] + [(f"{p.name} (custom)", p) for p in self.custom]
        if not any(v is policy or v == policy for _, v in pol_opts):
            raise ValueError(f"policy={policy!r} is not one of {list(POLICY_NAMES)} or a policies= function")
        c: dict[str, Any] = {"policy": W.Dropdown(options=pol_opts, value=policy, description="policy")}
        c.update(run_controls(self.base, {"threshold": "threshold ×", "low": "low ×"}, "90px"))
        c["low"].value = float(self.base.low_factor)
        c["batch"] = field_control("batch_entries", self.base.batch_entries)    # described in vmlab.fields
        c["hold"] = field_control("hold_budget_us", self.base.hold_budget_us)
        c["n_trials"] = W.BoundedIntText(value=int(n_trials), min=2, max=1000, description="trials")
        c["opt_seed"] = W.IntText(value=int(opt_seed), description="search seed")
        for w in c.values():
            w.style.description_width = "90px"
        c["policy"].add_class("vmlab-policy")
        self.controls = c
        self._make_outputs()
        self.opt_button = W.Button(description="Optimise", icon="search", button_style="primary",
                                   tooltip="search the policy's knobs and lazy_max_pages (vmlab.optimize)")
        self.opt_button.add_class("vmlab-optimize")
        self.opt_button.on_click(lambda _b: self.optimize())
        self.progress = W.Output()
        self.opt_status = W.HTML(value="")
        self.pareto_image = W.Image(format="png", value=b"")
        self.pareto_image.add_class("vmlab-pareto")
        self.pareto_image.layout.max_width = "100%"
        col1 = W.VBox([c["policy"], c["threshold"], c["low"], c["batch"], c["hold"]])
        col2 = W.VBox([c["ncpus"], c["workload"], c["platform"], c["duration"], c["seed"]])
        col3 = W.VBox([c["n_trials"], c["opt_seed"], self.opt_button])
        self.widget = W.VBox([W.HTML(_CSS), W.HBox([col1, col2, col3], layout=W.Layout(flex_flow="row wrap")),
                              self.status, self.image,
                              W.HBox([self.summary, self._make_export_box()],
                                     layout=W.Layout(align_items="flex-start", grid_gap="24px")),
                              self.progress, self.opt_status, self.pareto_image])
        self.widget.add_class("vmlab-panel")
        self.widget.add_class("vmlab-policy-lab")
        for k in ("policy", "threshold", "low", "batch", "hold", "ncpus", "workload", "platform",
                  "duration", "seed"):
            c[k].observe(self._on_change, names="value")
        self._sync_enabled()
        self.update()

    # --------------------------------------------------------------- the two runs
    def _on_change(self, _change):
        self._sync_enabled()
        self.update()

    def _sync_enabled(self):
        p = self.controls["policy"].value
        c = self.controls
        c["threshold"].disabled = p not in ("threshold", "hysteresis")
        c["low"].disabled = p != "hysteresis"
        c["batch"].disabled = p != "batch"
        c["hold"].disabled = p != "hold-budget"
        self.opt_button.disabled = False

    def shared_fields(self) -> dict:
        """The fields both runs share (platform, CPUs, workload, duration in s, seed)."""
        c = self.controls
        return dict(platform=c["platform"].value, ncpus=int(c["ncpus"].value), workload=c["workload"].value,
                    duration_s=float(c["duration"].value), seed=int(c["seed"].value))

    def kernel_config(self) -> SimConfig:
        """The kernel's own run: `SimConfig.for_kernel` of the panel's era with its default knobs."""
        return self.base.replace(**self.shared_fields())

    def policy_config(self) -> SimConfig:
        """The chosen policy on the same machine and workload, with the knobs the controls set."""
        c = self.controls
        return self.kernel_config().replace(
            policy=c["policy"].value, threshold_factor=_round3(c["threshold"].value),
            low_factor=_round3(c["low"].value), batch_entries=int(c["batch"].value),
            hold_budget_us=float(c["hold"].value))

    def labels(self) -> list[str]:
        """Legend texts: ``kernel: <era>`` and ``policy: <policy_label>``."""
        k, p = (r.config for r in self.results)
        return [f"kernel: {run_label(k)}", f"policy: {policy_label(p)}"]

    def _update(self):
        from ..model import simulate

        t0 = time.perf_counter()
        try:
            cfgs = [self.kernel_config(), self.policy_config()]
        except (ValueError, TypeError) as e:
            return self._fail("This combination is not valid:", message_of(e))
        self.status.value = _ok_html("running the kernel's policy and the chosen one…")
        try:
            self.results = [simulate(cf) for cf in cfgs]
        except Exception as e:  # noqa: BLE001 - shown in the panel
            return self._fail("The model could not run this configuration:", message_of(e))
        self.timings["simulate"] = time.perf_counter() - t0
        self.error = None
        self._draw()

    def _fail(self, what, msg):
        self.error = f"{what} {msg}"
        self.status.value = _error_html(what, msg + ("\nThe figure below is still the last pair that worked."
                                                     if self.results else ""))

    def table(self) -> pd.DataFrame:
        """The comparison: one row per `ROWS` quantity, one column per run (display strings;
        ``attrs["raw"]``: {column: {summary key: number}} in the summary's units, ns and ratios)."""
        labs = self.labels()
        df = pd.DataFrame({lab: [fmt(r.summary[key]) for _, key, fmt in ROWS]
                           for lab, r in zip(labs, self.results)}, index=[n for n, _, _ in ROWS])
        df.attrs["raw"] = {lab: {key: float(r.summary[key]) for _, key, _ in ROWS}
                           for lab, r in zip(labs, self.results)}
        return df

    def timeseries_figure(self) -> Figure:
        """The two runs' vmap_lazy_nr (pages) over simulated time (s), `vmlab.plots.plot_overlay`."""
        from ..plots import plot_overlay

        return plot_overlay(self.results, self.labels(),
                            title=f"{policy_label(self.results[1].config)} vs the {self.kernel} kernel")

    def _draw(self):
        if not self.results:
            return
        t0 = time.perf_counter()
        try:
            fig = self.timeseries_figure()
            fig.set_size_inches(9.0, 3.6)
            self.image.value = figure_png(fig, self.dpi)
            table = self.table()
        except Exception as e:  # noqa: BLE001
            return self._fail("The figure could not be drawn:", message_of(e))
        self.summary_text = _table_text(table)
        self.summary.value = _table_html(table)
        self.timings["draw"] = time.perf_counter() - t0
        a, b = self.labels()
        self.status.value = _ok_html(f"{a} vs {b} — model {self.timings.get('simulate', 0):.2f} s, "
                                     f"figure {self.timings['draw']:.2f} s")

    # --------------------------------------------------------------- the optimisation
    def space(self) -> dict:
        """The search space of the chosen policy: its knobs (`POLICY_SPACES`) and lazy_max_pages."""
        p = self.controls["policy"].value
        return {**POLICY_SPACES.get(p if isinstance(p, str) else "", {}), "lazy_max_pages": LAZY_MAX_RANGE}

    def study_name(self) -> str:
        """A directory name for the search: policy, platform, CPUs, workload, duration, seeds."""
        cfg = self.policy_config()
        wl = cfg.workload if isinstance(cfg.workload, str) else "+".join(cfg.workload)
        return _slug(f"{policy_name(cfg.policy)}-{cfg.platform}-{cfg.ncpus}cpu-{wl}-{cfg.duration_s:g}s-"
                     f"seed{cfg.seed}-opt{int(self.controls['opt_seed'].value)}")

    def optimize_out(self) -> Path:
        """Where the search's journal and runs go: ``optimize_dir/<name>``, else
        ``<data>/optimize/<name>`` (`vmlab.paths.data_root`)."""
        root = Path(self.optimize_dir) if self.optimize_dir is not None else data_root() / "optimize"
        return root / self.study_name()

    def optimize(self) -> pd.DataFrame | None:
        """Run `vmlab.optimize` over `space` (objectives: peak vmap_lazy_nr / lazy_max_pages and purge
        p99, both minimised), its tqdm bar in the panel; draw the front. Returns the trials (None on error)."""
        from ..optimize import optimize

        c = self.controls
        try:
            base, space = self.policy_config(), self.space()
        except (ValueError, TypeError) as e:
            self.opt_status.value = _error_html("This combination is not valid:", message_of(e))
            return None
        name, out = self.study_name(), self.optimize_out()
        n = int(c["n_trials"].value)
        self.opt_status.value = _ok_html(f"optimising {policy_label(base)}: {n} trials into {out} …")
        self.progress.clear_output()
        t0 = time.perf_counter()
        try:
            with self.progress:
                df = optimize(base, space, n_trials=n, seed=int(c["opt_seed"].value), by=None,
                              workers=self.workers, name=name, out=out, progress=True)
        except Exception as e:  # noqa: BLE001 - shown in the panel
            self.opt_status.value = _error_html("The optimisation could not run:", message_of(e))
            return None
        self.opt, self.opt_base = df, base
        self.opt_command = (f"vmlab.optimize(base, {space!r}, n_trials={n}, seed={int(c['opt_seed'].value)}, "
                            f"name={name!r})  # base = {policy_label(base)} on {base.platform}, "
                            f"{base.ncpus} CPUs, {base.workload}, {base.duration_s:g} s, seed {base.seed}")
        try:
            self.pareto_image.value = figure_png(self.pareto_figure(), self.dpi)
        except Exception as e:  # noqa: BLE001
            self.opt_status.value = _error_html("The front could not be drawn:", message_of(e))
            return df
        nfail = int(df[list(df.attrs["objectives"])].isna().any(axis=1).sum())
        self.opt_status.value = _ok_html(
            f"{len(df)} trials in {time.perf_counter() - t0:.1f} s, {int(df['pareto'].sum())} on the front"
            + (f", {nfail} failed or without a purge" if nfail else "") + f" (runs: {out})")
        return df

    def pareto_figure(self) -> Figure:
        """The front of the last optimisation (`vmlab.plots.plot_pareto`)."""
        from ..plots import plot_pareto

        if self.opt is None:
            raise RuntimeError("no optimisation has run yet: click Optimise")
        # the star is the searched policy at its own defaults (lazy_max_pages: the kernel formula),
        # which `optimize` evaluates beside the trials; the kernel's run is in the comparison table
        return plot_pareto(self.opt, title=f"{policy_label(self.opt_base)}: "
                                           f"Pareto front, {len(self.opt)} trials",
                           default_label=f"{policy_name(self.opt_base.policy)} at its defaults")

    # --------------------------------------------------------------- export
    def export(self, out_dir=None) -> list[Path]:
        """Write the vmap_lazy_nr overlay (PNG, SVG, PDF) and its email text; after an optimisation
        also the Pareto front, the trials (CSV) and the optimisation's email text."""
        from ..export import email_summary, export_figure, optimize_email, write_email

        if not self.results:
            raise RuntimeError("nothing to export: no run has succeeded yet")
        out = figures_dir(self.name, out_dir if out_dir is not None else self.out_dir)
        k, p = (r.config for r in self.results)
        stem = out / _slug(f"{policy_label(p)}--vs--{run_label(k)}-{p.platform}-{p.ncpus}cpu-"
                           f"{p.duration_s:g}s-seed{p.seed}")
        paths = export_figure(self.timeseries_figure(), f"{stem}-timeseries")
        labs = self.labels()
        paths.append(write_email(email_summary(self.results, title=f"vmlab policy lab: {labs[1]} vs {labs[0]}"),
                                 stem))
        if self.opt is not None:
            ostem = out / self.opt.attrs["name"]
            paths += export_figure(self.pareto_figure(), f"{ostem}-pareto",
                                   metadata={"optimize": self.opt.attrs["name"]})
            csv = Path(f"{ostem}-trials.csv")
            self.opt.to_csv(csv, index=False)
            paths.append(csv)
            paths.append(write_email(optimize_email(self.opt, command=self.opt_command), ostem))
        self.exported = paths
        return paths


def policy_lab(policies=(), policy=None, kernel: str = "5.0+threshold", out_dir=None, **fields) -> PolicyLabPanel:
    """The policy-lab panel: ``policy`` (a `vmlab.policies.POLICY_NAMES` name or a
    `vmlab.purge_policy` function; default the last of ``policies``, else "adaptive") against
    ``kernel``'s own (default 5.0+threshold, the seed's patch, threshold ×2) on the same platform,
    CPUs, workload, duration (s) and seed (`POLICY_LAB_DEFAULTS`; any SimConfig field may be given).

    ``policies``: user policies the dropdown offers next to the built-in ones. ``n_trials`` and
    ``opt_seed``: the **Optimise** search's start values; ``workers`` its processes (default 1);
    ``optimize_dir``: where searches go (default ``<data>/optimize``). Files: see `vmlab.widgets`.
    """
    return PolicyLabPanel(policies=policies, policy=policy, kernel=kernel, out_dir=out_dir, **fields)


__all__ = ["PolicyLabPanel", "policy_lab", "policy_label", "POLICY_LAB_DEFAULTS", "POLICY_SPACES"]
