"""vmlab: a workbench for the Linux vmalloc lazy purge.

>>> from vmlab import SimConfig, simulate
>>> res = simulate(SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="stress"))
"""
from .config import SimConfig, kernel_formula_lazy_max_pages, KERNELS
from .platforms import PLATFORMS, Platform, get_platform
from .result import Result, SUMMARY_KEYS
from .model import simulate
from .sweep import sweep
from .version import MODEL_VERSION, __version__

__all__ = ["SimConfig", "simulate", "sweep", "Result", "SUMMARY_KEYS", "Platform", "PLATFORMS", "get_platform",
           "KERNELS", "kernel_formula_lazy_max_pages", "MODEL_VERSION", "__version__"]

# Kernel traces (issue 5): load a recording in the Result schema, compare it with the model, calibrate.
from .trace import KernelRun, TraceParseError, load_kernel_run, read_ftrace, read_test_summary  # noqa: E402
from .calibrate import calibrate, compare  # noqa: E402
from .validation import validate  # noqa: E402

__all__ += ["KernelRun", "TraceParseError", "load_kernel_run", "read_ftrace", "read_test_summary", "calibrate",
            "compare", "validate"]

# Policy lab (issue 12): Pareto search and sensitivity over SimConfig fields, via the sweep cache.
from .optimize import optimize, dominates_default, proposals  # noqa: E402
from .sensitivity import sensitivity, sensitivity_of  # noqa: E402
from .policies import PurgePolicy, purge_policy, BUILTIN_POLICIES  # noqa: E402

__all__ += ["optimize", "dominates_default", "proposals", "sensitivity", "sensitivity_of", "PurgePolicy",
            "purge_policy", "BUILTIN_POLICIES"]
