"""The kit's own mutation testing: defects that HA platforms have shipped, switched on one at a time
in a copy of the reference platform, each run against the scenario tests that should catch it.

A *mutant* is a small, named change to the reference platform's code (``catalogue.py``): split
brain, lost or duplicated commands, a stuck transitional state, stale reads, lost logins, wrong VNC
frames, hub keys not re-created after a Redis restart, a missing column, lost cross-replica
routing, leaked volumes, ownership or quotas not enforced... ``workspace.py`` copies the platform's
code to a temporary folder, applies the change there (never to the kit's own files) and writes a
platform file that runs the copy; ``runner.py`` runs the mutant's tests with ``robot`` against it and
reads the verdict from Robot's ``output.xml``. ``python -m environments.local.mutants`` (``./kit
mutants``) runs them all, or the ``--fast`` subset, or the ones named (docs/mutants.md).
"""

from environments.local.mutants.catalogue import MUTANTS, Mutant, Patch, TestRef, by_name

__all__ = ["MUTANTS", "Mutant", "Patch", "TestRef", "by_name"]
