"""The layers show in the folders, and imports point down only: tools → services → platform →
kernel. Read from the source (every import, also those inside functions), not from what a test
run happens to load."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = ("nameko", "eventlet", "kombu", "amqp", "pymongo", "bson", "gridfs")


def modules_under(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def imported_names(path: Path) -> set[str]:
    """Every module `path` imports, absolute and dotted (`from a.b import c` gives a.b and
    a.b.c, since c may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def offending(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name in imported_names(path)
        if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
    )


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", modules_under("allodiscri/kernel"), ids=relative)
def test_the_kernel_is_pure_and_names_nothing_above_it(path):
    forbidden = (*INFRASTRUCTURE, "allodiscri.platform", "allodiscri.tools", "services")
    assert offending(path, forbidden) == []


@pytest.mark.parametrize("path", modules_under("allodiscri/platform"), ids=relative)
def test_the_platform_names_no_service_and_no_tool(path):
    assert offending(path, ("allodiscri.tools", "services")) == []


@pytest.mark.parametrize("path", modules_under("services"), ids=relative)
def test_services_never_use_the_tools(path):
    assert offending(path, ("allodiscri.tools",)) == []


def test_the_shared_package_holds_only_the_three_layers():
    """A module dropped at the top of `allodiscri/` would belong to no layer."""
    top = sorted(path.name for path in (ROOT / "allodiscri").glob("*.py"))
    folders = sorted(
        path.name
        for path in (ROOT / "allodiscri").iterdir()
        if path.is_dir() and not path.name.startswith("__")
    )
    assert (top, folders) == (["__init__.py"], ["kernel", "platform", "tools"])


def test_the_check_sees_an_import_hidden_inside_a_function(tmp_path):
    """The arrow that `cli.py` once hid in a function body is found like any other."""
    module = tmp_path / "hidden.py"
    module.write_text("def run():\n    from services.cases import replay\n", encoding="utf-8")
    assert offending(module, ("services",)) == ["services.cases", "services.cases.replay"]


SERVICES = sorted(
    path.name for path in (ROOT / "services").iterdir() if (path / "service.py").exists()
)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_uses_no_other_service(service):
    """Services meet through the kernel's contracts (events, case states, deadlines) and the
    broker, never through each other's modules."""
    others = tuple(f"services.{other}" for other in SERVICES if other != service)
    found = {
        relative(path): offending(path, others)
        for path in modules_under(f"services/{service}")
        if offending(path, others)
    }
    assert found == {}
