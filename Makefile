# The two commands a user needs (see README.md):
#   make demo   build .venv if needed, then run the whole workflow on the embedded demo world
#   make test   build .venv if needed, then run the test suite and the lint/format checks
# Everything is installed from envs/requirements.lock into .venv; nothing else is assumed
# beyond Python 3.11 with venv (Debian: python3.11 python3.11-venv).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
CORES  ?= 2
STAMP  := $(VENV)/.installed

.PHONY: demo run skill test unit workflow-test slurm-test lint format dryrun report lock clean-venv

$(STAMP): envs/requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r envs/requirements.lock
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)
	$(MAKE) --no-print-directory report

# Your own configuration: `make run CONFIG=my_region.yaml [TARGET=<rule or file>]`. The
# config files are checked first (a missing file or a YAML error is named with its line),
# then merged and validated, then the workflow runs with them.
run: $(STAMP)
	@test -n "$(CONFIG)" || { echo "usage: make run CONFIG=<file.yaml> [TARGET=<rule or file>]" >&2; exit 2; }
	PYTHONPATH=workflow_scripts $(BIN)/python -m smdownscale.configfile $(CONFIG)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --configfile $(CONFIG) $(TARGET)

# The multi-world skill table (rules/skill.smk): the workflow on the demo and the worlds of
# config/skill/, one at a time, each brought up to date by its own Snakemake run (hence
# --forcerun skill_world; the target comes first, as --forcerun takes every name after
# it); writes results/skill/skill.csv and skill.md, printed at the end.
skill: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/snakemake skill --profile profiles/default --cores $(CORES) --forcerun skill_world && \
	cat results/skill/skill.md && \
	echo "make skill: wall time $$(( $$(date +%s) - start )) s"

# the Snakemake HTML report of the demo run (every figure and table with its caption)
report: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) --report results/demo/report.html

dryrun: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) -n

test: $(STAMP)
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory lint

unit: $(STAMP)
	$(BIN)/python -m pytest -m "not workflow"

# The tiny world through profiles/slurm on a one-node SLURM cluster started on localhost
# (tests/workflow/slurm_cluster.sh installs slurm-wlm and munge with apt-get when missing;
# skipped, saying why, where it cannot). Part of `make test`; this runs it alone.
slurm-test: $(STAMP)
	$(BIN)/python -m pytest tests/workflow/test_slurm.py -s

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --lint --cores 1

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile rules

# Re-resolve the lock from pyproject.toml's direct dependencies (needs the package registry).
lock:
	rm -rf /tmp/smdownscale-lock && $(PYTHON) -m venv /tmp/smdownscale-lock
	/tmp/smdownscale-lock/bin/pip install --quiet .[dev] && /tmp/smdownscale-lock/bin/pip uninstall --quiet -y smdownscale
	{ grep '^#' envs/requirements.lock; /tmp/smdownscale-lock/bin/pip freeze --exclude-editable | sort -f; } > /tmp/smdownscale-lock/requirements.lock
	mv /tmp/smdownscale-lock/requirements.lock envs/requirements.lock
	rm -rf build  # setuptools' in-tree build of the package, left by the install above

clean-venv:
	rm -rf $(VENV)
