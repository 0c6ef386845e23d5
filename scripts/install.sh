#!/usr/bin/env bash
# Installs the whole odapi-tuner stack into .venv (idempotent).
#
# Why a script and not `pip install -e .`: the OD API's only registry package
# (tf-models-research-object-detection) declares dependencies that cannot be resolved
# (it pins pyparsing==2.4.7 and pulls the newest TensorFlow through tf-models-official),
# so it and tensorflow-io are installed with --no-deps on top of a stack pinned in
# requirements/constraints.txt (the one place where versions are pinned, theirs included).
#
# Environment: PYTHON (interpreter to build the venv from; must be Python 3.11), VENV (default
# .venv), GPU=1 (install the CUDA build of the same TensorFlow; remembered by the venv, GPU=0
# switches back).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# GPU unset: keep the venv's own choice (recorded below), so `make setup GPU=1` followed by
# `make doctor` or `make demo` is a no-op rather than a CPU reinstall.
GPU_FILE="$VENV/.odapi-tuner-gpu"
GPU=${GPU:-$(cat "$GPU_FILE" 2>/dev/null || echo 0)}
[ "$GPU" = "0" ] || [ "$GPU" = "1" ] || { echo "setup: error: GPU must be 0 or 1 (got '$GPU')" >&2; exit 2; }
CONSTRAINTS=requirements/constraints.txt
# The pinned stack needs exactly this Python (TensorFlow 2.15 supports nothing newer; the
# locked versions of pandas, scipy, ipython, pillow... need nothing older).
WANT_PY=3.11
# Installed with --no-deps, at the versions pinned in $CONSTRAINTS.
NODEPS=(tf-models-research-object-detection tensorflow-io)
# Imports the OD API's training code under our compat shims: a broken stack fails here.
IMPORT_CHECK="import tuner.odapi, object_detection.model_lib_v2"

die() { echo "setup: error: $*" >&2; exit 2; }

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi
}

# pinned NAME: NAME's `name==version` line in $CONSTRAINTS (- _ . compared alike, any case).
pinned() {
  local pattern line
  pattern=$(printf '%s' "$1" | sed -E 's/[-_.]+/[-_.]+/g')
  line=$(grep -iE "^${pattern}==" "$CONSTRAINTS" | head -n 1) || true
  [ -n "$line" ] || die "$1 is not pinned in $CONSTRAINTS; add its exact version there (name==version)"
  echo "$line"
}

# py_version PYTHON: prints "3.11" for a working interpreter, fails otherwise.
py_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }

check_python_var() {
  local v
  v=$(py_version "$PYTHON") || die "PYTHON=$PYTHON does not run; set PYTHON=/path/to/python$WANT_PY"
  [ "$v" = "$WANT_PY" ] || die "PYTHON=$PYTHON is Python $v, the pinned stack needs Python $WANT_PY; set PYTHON=/path/to/python$WANT_PY"
}

pick_python() {
  local p
  if [ -n "${PYTHON:-}" ]; then
    echo "$PYTHON"  # checked by check_python_var
    return
  fi
  for p in "python$WANT_PY" python3; do
    if command -v "$p" >/dev/null 2>&1 && [ "$(py_version "$p" || true)" = "$WANT_PY" ]; then
      echo "$p"
      return
    fi
  done
  die "no Python $WANT_PY on the PATH (neither python$WANT_PY nor a python3 that is $WANT_PY); the pinned stack (TensorFlow 2.15) needs it: install Python $WANT_PY or set PYTHON=/path/to/python$WANT_PY"
}

if [ -n "${PYTHON:-}" ]; then
  check_python_var
fi
nodeps=()
for name in "${NODEPS[@]}"; do
  line=$(pinned "$name") || exit 2
  nodeps+=("$line")
done

if [ -x "$VENV/bin/python" ]; then
  if ! have=$(py_version "$VENV/bin/python"); then
    die "$VENV/bin/python no longer runs (its base Python was removed or moved); remove the venv (rm -rf $VENV) and run make setup again"
  elif [ "$have" != "$WANT_PY" ]; then
    die "$VENV was built with Python $have, the pinned stack needs Python $WANT_PY; remove it (rm -rf $VENV) and run make setup again"
  fi
fi

stamp_of() {
  { cat "$CONSTRAINTS" requirements/stack.txt setup.cfg scripts/install.sh; echo "gpu=$GPU"; } \
    | sha256 | cut -c1-16
}
want=$(stamp_of)
if [ -f "$VENV/.odapi-tuner-stamp" ] && [ "$(cat "$VENV/.odapi-tuner-stamp")" = "$want" ] \
   && "$VENV/bin/python" -c "$IMPORT_CHECK" 2>/dev/null; then
  echo "setup: $VENV is up to date (nothing to do)"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  py=$(pick_python) || exit 2
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
echo "setup: installing ${nodeps[*]} without their unresolvable dependencies"
"${PIP[@]}" install -q --no-deps "${nodeps[@]}"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e .
# The OD API's old-style *_pb2 modules rewritten for protobuf 4 (tuner/protoregen.py says why).
"$VENV/bin/python" -m tuner.protoregen
if ! "$VENV/bin/python" -c "$IMPORT_CHECK"; then
  die "the stack is installed but \`$IMPORT_CHECK\` fails (traceback above); run $VENV/bin/python -m tuner.doctor for the fix"
fi
echo "$GPU" > "$GPU_FILE"
echo "$want" > "$VENV/.odapi-tuner-stamp"
echo "setup: done in $(( $(date +%s) - start )) s"
