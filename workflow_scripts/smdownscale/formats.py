"""Versions of the binary files the workflow writes for its own later steps.

Kept apart from the code that writes them so the Snakefile can read them without importing
the machine-learning libraries: a rule whose output format changes lists the version in
its ``params``, so Snakemake reruns it instead of leaving files a newer step cannot read.
"""

#: Serialised members (:mod:`smdownscale.members`); bumped whenever the stored state changes
#: incompatibly (2: the tree members store packed trees instead of an XGBoost booster; 3:
#: every member stores its features' training range, to which it clamps what it is given).
MEMBER_FORMAT = "smdownscale-member/3"
