# odapi-tuner: two commands set up a fresh machine (see README):
#   make demo   installs the stack, then runs the main job on the generated demo dataset
#   make test   installs the stack, then runs the test suite
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo demo-tflite lint test test-fast doctor bench bench-search bench-pruning bench-anchors pretrain clean-demo

setup:
	bash scripts/install.sh

# A short real study on the generated demo data: the demo model fine-tuned from the bundled
# pretrained checkpoint (as a user fine-tunes from a zoo checkpoint), trial 0 = the base config,
# trial 1 = fitted anchors, then 8 variants from the fine-tuning space; the baseline and the best
# trial are then trained twice more each with other seeds (the confirmation: the pick's 2 fresh
# runs against the baseline's 3). Two trials run at once (--jobs 2: on 2 cores a trial keeps about
# one busy). The study does not prune at 200 steps, so each trial evaluates its last checkpoint
# only, in its slot's warm trainer (docs/usage/study.md, "Evaluations"): 7 rounds of two trials.
# Running it again resumes the same study (nothing finished is redone) and prints the summary.
DEMO_ARGS ?= --base ssd_mobilenet_v2_shapes --fine-tune-checkpoint pipelines/checkpoints/shapes_pretrained/ckpt \
	--space pipelines/spaces/ssd_finetune.yaml --study-name demo --run-dir runs/demo --n-trials 10 --steps 200 \
	--seed 0 --confirm 1 --repeats 2 --jobs 2
demo: setup
	$(PY) -m tuner.study $(DEMO_ARGS)

# The demo study's best trial as measured TFLite files (after `make demo`).
demo-tflite: setup
	$(PY) -m tflite.convert --study runs/demo --overwrite

# Two pytest-xdist workers: a real-OD-API test keeps about one core busy (trainer and evaluator take
# turns), so two run side by side in about the time of one; tests/conftest.py hands each worker whole
# modules (pytest_xdist_make_scheduler).
TEST_WORKERS ?= 2
# ruff (pyproject.toml [tool.ruff]): seconds, so every test run starts with it.
lint: setup
	$(PY) -m ruff check tuner tflite bench tests

test: lint
	$(PY) -m pytest tests -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

# Every test that needs no OD API training (the `odapi` marker is applied by the fixtures).
test-fast: setup
	$(PY) -m pytest tests -m "not odapi" -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

doctor: setup
	$(PY) -m tuner.doctor

bench: setup
	$(PY) bench/trial_overhead.py --shapes 200 --modes before,last-only,warm
	$(PY) bench/warm_memory.py
	$(PY) bench/event_latency.py
	$(PY) bench/anchors.py --fit-only

# Search quality (README "Search quality"): TPE vs random vs the baseline over 3 seeds on a
# fresh shapes variant (about 70 min on 2 cores), then the pruning replay of the same studies.
BENCH_SEARCH_ARGS ?= --seeds 0,1,2 --samplers tpe,random --n-trials 6 --steps 200 --eval-every 50 --pruner none \
	--fine-tune-checkpoint pipelines/checkpoints/shapes_pretrained/ckpt --space pipelines/spaces/ssd_finetune.yaml \
	--data-seed 1 --classes circle,triangle,pillar,ellipse --out runs/bench-search
bench-search: setup
	$(PY) bench/search.py $(BENCH_SEARCH_ARGS)

# Base vs fitted anchors (README "Anchors"): 3 fresh thin-bar datasets x {base, grid fit, shape fit},
# 300 fine-tuning steps each (about 30 min on 2 cores), and the fit's speed on 50,000 boxes.
bench-anchors: setup
	$(PY) bench/anchors.py

bench-pruning: setup
	$(PY) bench/pruning.py $(foreach d,$(wildcard runs/bench-search/*-s*/),--run-dir $(d))

# Re-make the bundled pretrained checkpoint the demo fine-tunes from (about 10 min on 2 cores).
pretrain: setup
	$(PY) -m tuner.data.pretrain

clean-demo:
	rm -rf runs/demo data/shapes
