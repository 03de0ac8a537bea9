# The two commands a user needs (see README.md):
#   make demo   build .venv if needed, then run the whole workflow on the embedded demo world
#   make test   build .venv if needed, then run the test suite and the lint/format checks
# Everything is installed from envs/requirements.lock into .venv; nothing else is assumed
# beyond Python 3.11 with venv (Debian: python3.11 python3.11-venv). `make test` also
# installs Debian's chromium when it is missing (the report test opens the report in it).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
CORES  ?= 2
STAMP  := $(VENV)/.installed

.PHONY: demo plan run skill test unit slurm-test lint format dryrun report browser lock clean-venv

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
# then merged and validated, then the workflow runs with them; a whole run (no TARGET)
# ends with its report, as `make demo` does. Several files, merged in order (later wins):
# CONFIG="config/three_north.yaml config/paper_period.yaml". TARGET comes before
# --configfile, which takes every name after it as a config file.
# Before a run: the config checked, the input files present and missing (counts, bytes),
# the jobs a dry run would start, and a run-time estimate from the measured per-cell costs.
plan: $(STAMP)
	@test -n "$(CONFIG)" || { echo "usage: make plan CONFIG=<file.yaml>" >&2; exit 2; }
	PYTHONPATH=workflow_scripts $(BIN)/python -m smdownscale.configfile $(CONFIG)
	@PYTHONPATH=workflow_scripts $(BIN)/python -m smdownscale.download.plan $(CONFIG)
	@$(BIN)/snakemake --profile profiles/default --cores $(CORES) --configfile $(CONFIG) -n --quiet rules 2>&1 | \
	  sed -n '/^Job stats/,/^total/p'
	@PYTHONPATH=workflow_scripts $(BIN)/python -m smdownscale.runplan --cores $(CORES) $(CONFIG)

run: $(STAMP)
	@test -n "$(CONFIG)" || { echo "usage: make run CONFIG=<file.yaml> [TARGET=<rule or file>]" >&2; exit 2; }
	PYTHONPATH=workflow_scripts $(BIN)/python -m smdownscale.configfile $(CONFIG)
	$(BIN)/snakemake $(TARGET) --profile profiles/default --cores $(CORES) --configfile $(CONFIG)
	$(if $(TARGET),,$(MAKE) --no-print-directory report CONFIG="$(CONFIG)")

# The multi-world skill table (rules/skill.smk): the workflow on the demo and the worlds of
# config/skill/, one at a time, each brought up to date by its own Snakemake run (hence
# --forcerun skill_world; the target comes first, as --forcerun takes every name after
# it); writes results/skill/skill.csv and skill.md, printed at the end.
skill: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/snakemake skill --profile profiles/default --cores $(CORES) --forcerun skill_world && \
	cat results/skill/skill.md && \
	echo "make skill: wall time $$(( $$(date +%s) - start )) s"

# The Snakemake HTML report of a run (every figure and table with its caption), written to
# results/<run>/report.html: the demo's by default, any run's with the config files of
# `make run`: `make report CONFIG=my_region.yaml` (the run's name comes from the config).
REPORT = $(BIN)/snakemake --profile profiles/default --cores $(CORES) $(if $(CONFIG),--configfile $(CONFIG) )--report
report: $(STAMP)
	@run=$$(PYTHONPATH=workflow_scripts $(BIN)/python -m smdownscale.configfile --run-name $(or $(CONFIG),config/config.yaml)) && \
	echo "$(REPORT) results/$$run/report.html" && $(REPORT) results/$$run/report.html && \
	echo "report: results/$$run/report.html"

dryrun: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES) -n

test: $(STAMP) browser
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory lint

# Headless Chromium, with which tests/workflow/test_report.py opens the tiny run's report
# (Debian's chromium package; installed when missing, as root or through sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else \
		echo "make browser: chromium is missing and cannot be installed here (needs root or sudo: apt-get install chromium); the report's browser check will be skipped" >&2; \
	fi

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
