"""The house's structure: no import cycle in tuner/ and tflite/, and deciding what a trial trains
(the planner) needs no TensorFlow. (The study parses its base config once:
tests/study/test_inputs.py.)"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("tuner", "tflite")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (at any level, TYPE_CHECKING blocks included): a
    ``from package import submodule`` is an edge to the submodule, not to the package."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            out |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names}
    return {m for m in out if m in modules and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert "tuner.trial.spec" in graph["tuner.trial.base"] and "tuner.anchors.truth" in graph["tuner.anchors.frame"]
    assert _cycles(graph) == []


def test_the_walker_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.timeout(120)
def test_deciding_a_trial_imports_no_tensorflow(tmp_path) -> None:
    """The planner (the study's objective turning Optuna trials into configs, as the dry run draws
    them) runs in a fresh interpreter without TensorFlow ever being imported."""
    code = f"""
import sys, optuna
from tuner import config, space
from tuner.study.anchors import AnchorPlan
from tuner.study.preflight import Role, plan_variants
base = config.load({str(REPO / 'pipelines' / 'ssd_mobilenet_v2_shapes.config')!r})
sp = space.load_space({str(REPO / 'pipelines' / 'spaces' / 'ssd.yaml')!r})
variants = plan_variants(base, sp, anchors=AnchorPlan(), sampler=optuna.samplers.RandomSampler(seed=0), n_sampled=3,
                         steps=20)
assert [v.role for v in variants] == [Role.BASELINE] + [Role.SAMPLED] * 3, variants
assert all(v.cfg is not None for v in variants)
print("tensorflow" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"
