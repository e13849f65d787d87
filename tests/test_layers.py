"""The import rules of the tree, checked on the source (AST over every module; imports inside functions
count, ``if TYPE_CHECKING:`` blocks do not):

- no import cycle between modules;
- ``config`` imports nothing of ours; ``storage`` only ``config``; ``ingest`` only ``storage`` and
  ``config``; ``engine`` never ``bot`` or ``ingest``;
- only one folder per chat SDK: ``discord`` only under ``bot/platforms/discord/``, ``slack_bolt`` /
  ``slack_sdk`` only under ``bot/platforms/slack/``;
- the service layer, the job registry, the scheduler and the digest import no platform module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "config", "engine", "ingest", "storage")
ALLOWED = {
    "config": {"config"},
    "storage": {"storage", "config"},
    "ingest": {"ingest", "storage", "config"},
    "engine": {"engine", "storage", "config"},
    "bot": {"bot", "engine", "ingest", "storage", "config"},
}
SDKS = {
    "discord": "bot.platforms.discord",
    "slack_bolt": "bot.platforms.slack",
    "slack_sdk": "bot.platforms.slack",
}
PLATFORM_FREE = ("bot.service", "bot.jobs", "bot.scheduler", "bot.digest", "bot.render", "bot.parsing")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path) -> Iterator[str]:
    """Every module name ``module`` imports at run time (absolute; relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def walk(node: ast.AST) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.orelse:
                    yield from walk(sub)
                continue
            if isinstance(child, ast.Import):
                yield from (a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    stem = ".".join(base + ([child.module] if child.module else []))
                else:
                    stem = child.module or ""
                yield stem
                yield from (f"{stem}.{a.name}" for a in child.names)  # `from pkg import module`
            yield from walk(child)

    yield from walk(tree)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = _modules()
    out: dict[str, set[str]] = {}
    for name, path in mods.items():
        targets = set()
        for imported in _imports(name, path):
            # the longest prefix that is one of our modules; or the top-level name of a third-party one
            parts = imported.split(".")
            ours = next(
                (".".join(parts[:k]) for k in range(len(parts), 0, -1) if ".".join(parts[:k]) in mods), None
            )
            targets.add(ours if ours is not None else f"<ext>{parts[0]}")
        targets.discard(name)
        out[name] = targets
    return out


def test_the_graph_is_read(graph: dict[str, set[str]]) -> None:
    assert {"bot.service", "bot.jobs", "engine.batch", "storage.db", "storage.visibility"} <= set(graph)
    assert "storage.visibility" in graph["bot.service"]
    assert "<ext>sqlalchemy" in graph["storage.db"]


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(t for t in graph[node] if t in graph):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


def test_lower_layers_never_import_upper_ones(graph: dict[str, set[str]]) -> None:
    wrong = [
        f"{src} -> {dst}"
        for src, targets in graph.items()
        for dst in targets
        if not dst.startswith("<ext>") and dst.split(".")[0] not in ALLOWED[src.split(".")[0]]
    ]
    assert wrong == []


def test_one_folder_per_chat_sdk(graph: dict[str, set[str]]) -> None:
    wrong = [
        f"{src} imports {sdk}"
        for src, targets in graph.items()
        for sdk, home in SDKS.items()
        if f"<ext>{sdk}" in targets and not (src == home or src.startswith(home + "."))
    ]
    assert wrong == []


def test_service_jobs_and_scheduler_import_no_platform(graph: dict[str, set[str]]) -> None:
    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            for t in graph.get(node, ()):
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return seen

    for module in PLATFORM_FREE:
        if module not in graph:
            continue
        bad = {
            t for t in reach(module) if t.startswith("bot.platforms.") or t in {f"<ext>{sdk}" for sdk in SDKS}
        }
        assert bad == set(), f"{module} reaches {sorted(bad)}"
