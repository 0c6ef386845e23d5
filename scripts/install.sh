#!/usr/bin/env bash
# Installs the whole odapi-tuner stack into .venv (idempotent).
#
# Why a script and not `pip install -e .`: the OD API's only registry package
# (tf-models-research-object-detection) declares dependencies that cannot be resolved
# (it pins pyparsing==2.4.7 and pulls the newest TensorFlow through tf-models-official),
# so it and tensorflow-io are installed with --no-deps on top of a stack pinned in
# requirements/constraints.txt (the one place where versions are pinned).
#
# Environment: PYTHON (interpreter to build the venv from, 3.9-3.11), VENV (default .venv),
# GPU=1 (install the CUDA build of the same TensorFlow).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
GPU=${GPU:-0}
CONSTRAINTS=requirements/constraints.txt
OD_API="tf-models-research-object-detection==2.8.0.post1"
TF_IO="tensorflow-io==0.35.0"

stamp_of() {
  cat "$CONSTRAINTS" requirements/stack.txt setup.cfg scripts/install.sh | sha256sum | cut -c1-16
  echo "gpu=$GPU"
}
want=$(stamp_of)
if [ -f "$VENV/.odapi-tuner-stamp" ] && [ "$(cat "$VENV/.odapi-tuner-stamp")" = "$want" ] \
   && "$VENV/bin/python" -c "import object_detection, tuner" 2>/dev/null; then
  echo "setup: $VENV is up to date (nothing to do)"
  exit 0
fi

pick_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  for p in python3.11 python3.10 python3.9 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(0 if (3,9) <= sys.version_info[:2] <= (3,11) else 1)'; then
      echo "$p"; return
    fi
  done
  echo "setup: error: no Python 3.9-3.11 found (TensorFlow 2.15, the newest that runs the OD API, needs one); set PYTHON=/path/to/python3.11" >&2
  exit 2
}

if [ ! -x "$VENV/bin/python" ]; then
  py=$(pick_python)
  echo "setup: creating $VENV with $py"
  "$py" -m venv "$VENV"
fi
PIP=(pip_quiet "$VENV/bin/python" -m pip --disable-pip-version-check)
# pip on some machines warns once per package about configured local index folders that do not
# exist; keep the output readable but never hide a real error (pip's exit code is kept).
pip_quiet() { "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; }; }
start=$(date +%s)
"${PIP[@]}" install -q --upgrade "pip>=23" "setuptools>=61" wheel
echo "setup: installing the pinned stack (first run: a few minutes, about 3.5 GB)"
"${PIP[@]}" install -q -c "$CONSTRAINTS" -r requirements/stack.txt
if [ "$GPU" = "1" ]; then
  tf_version=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("tensorflow"))')
  "${PIP[@]}" install -q -c "$CONSTRAINTS" "tensorflow[and-cuda]==$tf_version"
fi
echo "setup: installing the OD API and tensorflow-io without their unresolvable dependencies"
"${PIP[@]}" install -q --no-deps "$OD_API" "$TF_IO"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c "import object_detection, tuner" 
echo "$want" > "$VENV/.odapi-tuner-stamp"
echo "setup: done in $(( $(date +%s) - start )) s"
