"""``snakemake`` for test_slurm.py: the command line's Snakemake, whose SLURM executor looks
at its jobs every ``CAP`` seconds at most.

snakemake-executor-plugin-slurm waits 10 s longer after each status check that finds no
finished job (up to 180 s; back to --slurm-init-seconds-before-status-checks when one has
finished), which spares a busy cluster's controller but leaves the test's idle one-node
cluster with finished jobs unnoticed for up to half a minute between the tiny world's
short jobs. No option sets that step, so here the interval is capped; nothing else of the
executor changes (the status still comes from squeue, the jobs run as in a user's run).
Usage: ``python slurm_snakemake.py <snakemake arguments>``.
"""

from __future__ import annotations

import sys

from snakemake.cli import main
from snakemake_executor_plugin_slurm import Executor
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor

#: The longest wait between two status checks, in seconds.
CAP = 2

interval = RemoteExecutor.__dict__.get("next_seconds_between_status_checks")
if not isinstance(interval, property) or interval.fset is None:
    # the executor interface changed: the cap would be lost without a word
    raise RuntimeError(
        "snakemake-interface-executor-plugins: RemoteExecutor has no settable property "
        "next_seconds_between_status_checks any more; update tests/workflow/slurm_snakemake.py"
    )
Executor.next_seconds_between_status_checks = interval.setter(
    lambda self, seconds: interval.fset(self, min(seconds, CAP))
)

if __name__ == "__main__":
    sys.argv[0] = "snakemake"
    sys.exit(main())
