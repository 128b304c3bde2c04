"""The recordings shipped in the repository (``data/kernel/raw``): `SHIPPED_DIR`, `shipped_runs`,
`load_shipped`, and `recording_id` (``tag/run``, the name the fit and the validation use)."""
from __future__ import annotations

from pathlib import Path

from .kernel_run import KernelRun
from .load import load_kernel_run

#: The repository's copy of the shipped recordings (raw/<tag>/<run>_trace.txt.gz, dmesg, params, ...).
SHIPPED_DIR = Path(__file__).resolve().parent.parent.parent / "data" / "kernel" / "raw"
#: The host cores every shipped recording's QEMU ran on (data/kernel/README.md, "host | 2 cores (AMD
#: EPYC, itself a VM)"; no file under raw/ records it: env.txt's nproc is the guest's). smp8's 8 vCPU
#: threads shared them: `TraceConfig.sim_config` models it with ``host_cpus=2``.
SHIPPED_HOST_CORES = 2


def shipped_runs(root=None) -> list[tuple[str, str]]:
    """(tag, run) of every recording under ``data/kernel/raw`` (the repository's copy)."""
    root = Path(root) if root is not None else SHIPPED_DIR
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        for t in sorted(d.glob("*_trace.txt.gz")):
            out.append((d.name, t.name[: -len("_trace.txt.gz")]))
    return out


def load_shipped(tag: str, run: str, **kw) -> KernelRun:
    """`load_kernel_run` of a shipped recording, e.g. ``load_shipped("smp2", "fix_size")``."""
    d = SHIPPED_DIR / tag
    if not d.is_dir():
        raise ValueError(f"no shipped recording {tag!r}; there are {sorted({t for t, _ in shipped_runs()})}")
    return load_kernel_run(d, run=run, **kw)


def recording_id(kernel_run: KernelRun) -> str:
    """``<tag>/<run>`` of a recording: its directory's name and the run, e.g. ``smp2/fix_size``."""
    path = kernel_run.config.path
    tag = Path(path).parent.name if path else "?"
    return f"{tag}/{kernel_run.name}"
