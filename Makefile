# schemadistill: one schema in, one tiny text-to-SQL model out.
#   make distill SCHEMA=examples/ecommerce/schema.sql   # the whole pipeline
#   make test                                          # the test suite (what CI runs)
# The first target that needs it creates .venv and installs the pinned set (CPU).

# A make run from another make (a CI wrapper, a test) would print 'Entering directory' lines
# after the one JSON line the benchmarks promise to end with.
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-cpu

SCHEMA   ?=
DATA     ?=
OUT      ?=
TEACHER  ?=
STUDENT  ?=
DIALECT  ?=
EXAMPLES ?=
GOLDEN   ?=
CONFIG   ?=
RESUME   ?= 1
UNTIL    ?=
ARTIFACT ?=
PYTEST_ARGS ?=

opt = $(if $(2),$(1) $(2))

.PHONY: help install install-gpu distill test test-fast lint bench clean

help:
	@echo "make distill SCHEMA=path [DATA=path] [OUT=runs/NAME] [TEACHER=offline|openai:MODEL]"
	@echo "             [STUDENT=scratch|HF_ID_OR_PATH] [DIALECT=...] [EXAMPLES=file.jsonl] [GOLDEN=file.jsonl] [RESUME=0]"
	@echo "make test | make test-fast | make lint | make bench [ARTIFACT=path] | make install-gpu"

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "schemadistill needs Python >= 3.10"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[cpu,dev]'
	@touch $@

# onnxruntime and onnxruntime-gpu write the same package folder: swap, never install both.
install-gpu: $(STAMP)
	$(BIN)/python -m pip uninstall -y -q onnxruntime
	$(BIN)/python -m pip install -q -e '.[gpu,dev]'

distill: $(STAMP)
	@test -n "$(SCHEMA)" || { echo "usage: make distill SCHEMA=path/to/schema.sql [DATA=...] [OUT=...]"; exit 2; }
	$(BIN)/schemadistill distill "$(SCHEMA)" $(call opt,--data,$(DATA)) $(call opt,--out,$(OUT)) \
		$(call opt,--teacher,$(TEACHER)) $(call opt,--student,$(STUDENT)) $(call opt,--dialect,$(DIALECT)) \
		$(call opt,--examples,$(EXAMPLES)) $(call opt,--golden,$(GOLDEN)) $(call opt,--config,$(CONFIG)) \
		$(call opt,--until,$(UNTIL)) $(if $(filter 0 no false,$(RESUME)),--fresh)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check $(wildcard schemadistill teacher curriculum student export tests)
	$(BIN)/mypy schemadistill

# Without ARTIFACT: the benchmarks of the stages that exist (one JSON line each).
# With ARTIFACT: the latency benchmark of an exported artifact; its size (questions, batch sizes,
# max new tokens, backends) is the config's bench section, as in the pipeline (CONFIG=run.yaml).
bench: $(STAMP)
ifeq ($(ARTIFACT),)
	$(BIN)/python -m schemadistill.bench_sandbox
else
	$(BIN)/python -m export.bench --artifact "$(ARTIFACT)" $(call opt,--config,$(CONFIG))
endif

clean:
	rm -rf runs .pytest_cache .ruff_cache .mypy_cache
