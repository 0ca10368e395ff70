"""The core never imports Qt: not when its modules are imported, and not in the child processes it starts.

A fresh interpreter runs with a `sitecustomize` that makes every Qt binding unimportable; the variable that
points Python at it is inherited by the children (the engine's search process and the index process), so a
Qt import anywhere in them fails the call that caused it. Then `sys.modules` is checked in the parent.
"""

from __future__ import annotations

import ast
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import desktop_app.core
from desktop_app.core.indexer import index_folder
from desktop_app.core.storage import Catalog

CORE_DIR = Path(desktop_app.core.__file__).resolve().parent
QT = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "shiboken2")

BLOCK = f"""
import sys
# A None entry in sys.modules makes `import PySide6` (and its submodules) raise ImportError at once.
for name in {QT!r}:
    sys.modules[name] = None
"""

PROBE = r"""
import importlib, multiprocessing as mp, sys
names, db, photos, model = sys.argv[1].split(","), sys.argv[2], sys.argv[3], sys.argv[4]
for name in names:
    importlib.import_module(name)

from desktop_app.core.engine_process import EngineProcess
from desktop_app.core.index_child import child_main
from desktop_app.core.indexer import IndexOptions
from desktop_app.core.models import load_manifest
from desktop_app.core.similar import Query

if __name__ == "__main__":
    engine = EngineProcess()
    info = engine.open(db, "cpu")
    outcome = engine.call("similar", Query.of_articles("red"))
    assert outcome.hits, "no hits"
    engine.close()

    ctx = mp.get_context("spawn")
    out, cancel = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=child_main, args=(db, photos, None, load_manifest(model), IndexOptions(), out, cancel))
    child.start()
    while True:
        kind, payload = out.get(timeout=120)
        if kind == "failed":
            raise SystemExit(f"index child failed: {payload.traceback}")
        if kind == "done":
            break
    child.join(30)
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "PyQt5", "PyQt6") and sys.modules[m])
    assert not leaked, leaked
    print("ok", len(names), info.n_articles)
"""


def core_modules() -> list[str]:
    # The CLI is a front end like the GUI but must start without Qt too (scripts, servers, CI).
    core = [m.name for m in pkgutil.walk_packages([str(CORE_DIR)], "desktop_app.core.")]
    cli = [m.name for m in pkgutil.walk_packages([str(CORE_DIR.parent / "cli")], "desktop_app.cli.")]
    return sorted(core + cli + ["desktop_app.cli"])


def test_core_and_its_children_run_with_qt_blocked(tmp_path, photo_tree, tiny_model):
    names = core_modules()
    assert "desktop_app.core.storage.catalog" in names and "desktop_app.cli.labels" in names
    db = tmp_path / "c.sqlite"
    with Catalog(db) as cat:
        index_folder(cat, photo_tree, model=tiny_model)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK, encoding="utf-8")
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent(PROBE), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{CORE_DIR.parent.parent}"}
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            ",".join(names),
            str(db),
            str(photo_tree),
            str(tiny_model.manifest_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == f"ok {len(names)} 3"


def test_no_core_source_mentions_a_qt_binding():
    # Catches lazy imports inside functions, which importing the module alone would not run.
    pattern = re.compile(r"^\s*(from|import)\s+(PySide\d|PyQt\d|shiboken\d)", re.MULTILINE)
    sources = [*CORE_DIR.rglob("*.py"), *(CORE_DIR.parent / "cli").rglob("*.py")]
    offenders = [p.name for p in sources if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def app_sources() -> dict[str, str]:
    """Every source file of the app, by its path relative to the package's parent ("desktop_app/core/...")."""
    package = CORE_DIR.parent
    return {
        p.relative_to(package.parent).as_posix(): p.read_text(encoding="utf-8") for p in package.rglob("*.py")
    }


def test_sql_lives_in_the_storage_package_only():
    # One home for SQL: nothing outside desktop_app/core/storage speaks SQLAlchemy, sqlite3 or psycopg (a
    # folder named storage anywhere else is no exception).
    pattern = re.compile(r"^\s*(from|import)\s+(sqlalchemy|sqlite3|psycopg)\b", re.MULTILINE)
    offenders = [
        path
        for path, text in app_sources().items()
        if not path.startswith("desktop_app/core/storage/") and pattern.search(text)
    ]
    assert offenders == []


# Who may open an ONNX Runtime session or ask which providers there are: device.py makes the one device
# decision; the model checks run a CPU session on purpose (a check must not depend on, or wake, the GPU).
ORT_ALLOWED = {
    "desktop_app/core/device.py": {"InferenceSession(", "get_available_providers"},
    "desktop_app/core/model_files.py": {"InferenceSession("},  # validate_onnx: one CPU run of a new model
    "desktop_app/core/zoo_text.py": {"InferenceSession("},  # validate_text_onnx: the same for a text tower
}


def test_onnx_sessions_and_providers_come_from_the_device_module():
    found: dict[str, set[str]] = {}
    for path, text in app_sources().items():
        used = {word for word in ("InferenceSession(", "get_available_providers") if word in text}
        if used:
            found[path] = used
    offenders = {path: used - ORT_ALLOWED.get(path, set()) for path, used in found.items()}
    assert {path: used for path, used in offenders.items() if used} == {}
    # The allow-list stays exact: an entry nothing needs any more is taken off, not left as a loophole.
    assert found == ORT_ALLOWED


def test_onnxruntime_is_imported_by_the_device_module_only():
    # device.onnxruntime() switches off the telemetry that writes under ~/.cache/Microsoft before the library
    # loads; a direct import anywhere else, run first, would write it.
    pattern = re.compile(r"^\s*(from|import)\s+onnxruntime\b", re.MULTILINE)
    importers = [path for path, text in app_sources().items() if pattern.search(text)]
    assert importers == ["desktop_app/core/device.py"]


def setting_names() -> set[str]:
    """The field names of the settings records and the keys they are stored under."""
    from dataclasses import asdict, fields

    from desktop_app.core.settings import CatalogSettings, UserSettings

    names = {f.name for cls in (UserSettings, CatalogSettings) for f in fields(cls)}
    return names | set(CatalogSettings().to_raw()) | set(asdict(UserSettings()))


def settings_spelled_out(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    """Places that handle settings by their key strings: a dict with only setting keys (a settings record
    built by hand), a tuple, list or set of only setting names (settings walked by name, e.g. to copy them),
    and any reach into a catalog's stored settings dict."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = node.keys
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            keys = node.elts
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("raw_settings", "write_raw_settings", "update_raw_settings"):
                out.append((node.lineno, node.func.attr))
            continue
        else:
            continue
        words = [k.value for k in keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
        if len(keys) >= 2 and len(words) == len(keys) and set(words) <= names:
            out.append((node.lineno, ", ".join(words)))
    return out


def test_only_the_settings_module_knows_the_setting_keys():
    names = setting_names()
    assert {"device", "thumb_size", "curator", "letterbox", "resize", "search"} <= names
    offenders = []
    for path, text in app_sources().items():
        # Storage keeps the settings table (raw_settings and friends) and the settings package alone reads it.
        if path.startswith(("desktop_app/core/settings/", "desktop_app/core/storage/")):
            continue
        offenders += [f"{path}:{line}: {what}" for line, what in settings_spelled_out(ast.parse(text), names)]
    assert offenders == []


def test_the_setting_key_check_finds_what_it_is_for():
    names = setting_names()
    copying = "for name in ('device', 'batch_size', 'theme'):\n    setattr(a, name, getattr(b, name))"
    by_hand = "engine.update_settings(**{'grouping': rule, 'letterbox': True})"
    raw = "catalog.raw_settings().get('photo_root')"
    output = "emit_json({'catalog': location, 'model': model, 'search': search})"  # JSON output, not settings
    assert [what for _, what in settings_spelled_out(ast.parse(copying), names)] == [
        "device, batch_size, theme"
    ]
    assert [what for _, what in settings_spelled_out(ast.parse(by_hand), names)] == ["grouping, letterbox"]
    assert [what for _, what in settings_spelled_out(ast.parse(raw), names)] == ["raw_settings"]
    assert settings_spelled_out(ast.parse(output), names) == []


def test_the_window_process_does_not_import_scipy():
    # SciPy costs the window about a second at start (its first paint goal is 2 s), and only the engine's
    # children use it: searching, duplicates and zero-shot labels import it when they need it.
    code = "import sys, desktop_app.gui.mainwindow; print(sorted(m for m in sys.modules if m.startswith('scipy')))"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=CORE_DIR.parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
