# odapi-tuner: two commands set up a fresh machine (see README):
#   make demo   installs the stack, then runs the main job on the generated demo dataset
#   make test   installs the stack, then runs the test suite
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo demo-tflite test doctor bench clean-demo

setup:
	bash scripts/install.sh

# A short real study on the generated demo data (trial 0 = the base config, then 3 variants).
# Running it again resumes the same study (nothing finished is redone) and prints the summary.
DEMO_ARGS ?= --base ssd_mobilenet_v2_shapes --study-name demo --run-dir runs/demo --n-trials 4 --steps 200 --eval-every 100 --seed 0
demo: setup
	$(PY) -m tuner.study $(DEMO_ARGS)

# The demo study's best trial as measured TFLite files (after `make demo`).
demo-tflite: setup
	$(PY) -m tflite.convert --study runs/demo --overwrite

test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)

doctor: setup
	$(PY) -m tuner.doctor

bench: setup
	$(PY) bench/trial_overhead.py
	$(PY) bench/event_latency.py

clean-demo:
	rm -rf runs/demo data/shapes
