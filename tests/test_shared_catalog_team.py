"""A team on one PostgreSQL catalog, set up as README says: roles, a server that goes away mid-run, URLs
with a password or a mistake in them, and who a curator is.

Real servers throughout: the session's throwaway cluster (`pg_server`), and for the server that stops mid-run
a cluster of the test's own.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.errors import CatalogError
from desktop_app.core.settings import UserSettings
from desktop_app.core.storage import Catalog
from desktop_app.core.storage import catalog as catalog_module
from tests.conftest import REPO, cli, one_line_exit_2, write_photo


def _readme_team_commands() -> list[str]:
    """The administrator's commands of README's team set-up (createuser, createdb), as written there."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## A shared catalog for a team") :]
    block = section[section.index("```bash") : section.index("```", section.index("```bash") + 7)]
    return [
        line.split("#")[0].strip()
        for line in block.splitlines()
        if line.startswith(("createuser", "createdb"))
    ]


def _as_admin(command: str, port: int, names: dict[str, str]) -> str:
    """A README command for the test server: its port, the superuser, no password prompt, unique names."""
    command = command.replace("-h db.example.lan", f"-h 127.0.0.1 -p {port} -U postgres").replace(" -P", "")
    for readme_name, name in names.items():
        command = re.sub(rf"\b{readme_name}\b", name, command)
    return command


def pg_cluster_database(server: str, name: str, owner: str = "pwuser") -> str:
    """A database on the test server owned by the role that logs in with a password, as postgres' URL."""
    from tools import pg_cluster

    return pg_cluster.create_database(server, name, owner=owner)


def _user_url(server: str, user: str, database: str) -> str:
    return server.replace("postgres@", f"{user}@") + f"/{database}"


def test_every_curator_may_use_every_table_after_the_readme_set_up(
    pg_server, photo_tree, tiny_model, monkeypatch
):
    from tools import pg_cluster

    port = sa.engine.make_url(pg_server).port
    tag = str(os.getpid())
    names = {"curators": f"curators{tag}", "ana": f"ana{tag}", "ben": f"ben{tag}", "lookalike": f"team{tag}"}
    commands = _readme_team_commands()
    assert any("--no-login curators" in c for c in commands) and any("-O curators" in c for c in commands)
    env = {**os.environ, "PATH": f"{pg_cluster.server_binaries()}:{os.environ['PATH']}"}
    for command in commands:
        subprocess.run(
            ["sh", "-c", _as_admin(command, port, names)], check=True, env=env, capture_output=True
        )
    ana, ben = (_user_url(pg_server, names[n], names["lookalike"]) for n in ("ana", "ben"))

    index_photos(ana, photo_tree, model=tiny_model)  # ana makes the catalog
    with Engine.open(ben, remember=False) as engine:  # ben reads and writes every table
        engine.set_labels(["red"], "category", "tops")
        engine.decide("red", "green", "alike")
        assert engine.labels("category") == {"red": {"category": "tops"}}
    assert index_photos(ben, photo_tree, model=tiny_model).unchanged == 7

    # A later version adds a table: ana's client migrates; ben may use the new table too.
    version = catalog_module.SCHEMA_VERSION
    monkeypatch.setattr(catalog_module, "SCHEMA_VERSION", version + 1)
    monkeypatch.setitem(
        catalog_module.MIGRATIONS,
        version,
        lambda conn: conn.exec_driver_sql("CREATE TABLE later_feature (id INTEGER PRIMARY KEY, note TEXT)"),
    )
    Catalog(ana, create=False).close()
    with Catalog(ben, create=False) as catalog, catalog.write() as conn:
        conn.exec_driver_sql("INSERT INTO later_feature VALUES (1, 'by ben')")
    with Catalog(ana, create=False) as catalog, catalog.read() as conn:
        assert conn.exec_driver_sql("SELECT note FROM later_feature").scalar() == "by ben"


def test_a_user_outside_the_team_is_told_the_grant(pg_server, photo_tree, tiny_model):
    from tools import pg_cluster

    tag = str(os.getpid())
    group, owner, carol, db = f"crew{tag}", f"dana{tag}", f"carol{tag}", f"crewcat{tag}"
    admin = pg_server.replace("+psycopg", "") + "/postgres"
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {group} NOLOGIN")
        conn.execute(f"CREATE ROLE {owner} LOGIN IN ROLE {group}")
        conn.execute(f"CREATE ROLE {carol} LOGIN")
        conn.execute(f"CREATE DATABASE {db} OWNER {group}")
    index_photos(_user_url(pg_server, owner, db), photo_tree, model=tiny_model)
    with pytest.raises(CatalogError) as refused:
        Catalog(_user_url(pg_server, carol, db), create=False)
    message = str(refused.value)
    assert "permission denied" in message and f"'GRANT {group} TO {carol}'" in message
    psql = re.search(r"with (psql .*?) \(README", message).group(1)
    env = {**os.environ, "PATH": f"{pg_cluster.server_binaries()}:{os.environ['PATH']}"}
    subprocess.run([*shlex.split(psql), "-U", "postgres"], check=True, env=env, capture_output=True)
    with Catalog(_user_url(pg_server, carol, db), create=False) as catalog:  # the named fix is enough
        assert catalog.photo_paths()


# ----------------------------------------------------------------------------- a server that goes away

HELD_INDEX = """
import sys, threading
from desktop_app.core import indexer
from desktop_app.cli import main

# After the first committed batch, wait for the test to stop the server, then go on writing.
real = indexer.Progress
gate = threading.Event()
def held(*args, **kwargs):
    p = real(*args, **kwargs)
    if p.done >= 8 and not gate.is_set():
        print("held", flush=True)
        sys.stdin.readline()
        gate.set()
    return p
indexer.Progress = held
sys.exit(main(sys.argv[1:]))
"""


def test_losing_the_server_mid_index_is_one_line_and_the_next_run_resumes(tmp_path, tiny_model):
    pytest.importorskip("psycopg")
    from tools import pg_cluster

    if pg_cluster.server_binaries() is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    root = tmp_path / "photos"
    n = 48
    for i in range(n):
        write_photo(root / f"art{i // 3:02d}" / f"{i}.jpg", seed=i)
    home = tmp_path / "home"
    env = {**os.environ, "LOOKALIKE_HOME": str(home)}
    with pg_cluster.running_cluster() as server:
        url = pg_cluster.create_database(server.url, "lost")
        args = [
            "index",
            str(root),
            "--db",
            url,
            "--model",
            str(tiny_model.manifest_path),
            "--batch-size",
            "8",
        ]
        proc = subprocess.Popen(
            [sys.executable, "-c", HELD_INDEX, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        assert proc.stdout.readline().strip() == "held", proc.stderr.read()
        server.stop("fast")
        _, err = proc.communicate("go\n", timeout=120)
        assert proc.returncode == 2, err
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith("\r")]
        assert "Traceback" not in err and len(lines) == 1, err
        assert lines[0].startswith(
            f"lookalike: Lost the connection to the PostgreSQL server at 127.0.0.1:{server.port}"
        )
        assert "run the command again when the server is back" in lines[0]

        server.start()
        with Catalog(url, create=False) as catalog:
            kept = len(catalog.photo_paths())
            assert catalog.last_run()["status"] == "interrupted"
        assert kept >= 8
        again = subprocess.run(
            [sys.executable, "-m", "desktop_app", *args, "--json"],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
        )
        assert again.returncode == 0, again.stderr
        summary = json.loads(again.stdout)
        assert summary["photos"] == n and summary["unchanged"] == kept and summary["new"] == n - kept


def test_a_statement_on_a_connection_the_server_ended_is_a_lost_connection(pg_url, photo_tree, tiny_model):
    import psycopg

    from desktop_app.core.storage.postgres import ConnectionLost

    index_photos(pg_url, photo_tree, model=tiny_model)
    admin = pg_url.replace("+psycopg", "").rsplit("/", 1)[0] + "/postgres"
    with Catalog(pg_url, create=False) as catalog:
        with pytest.raises(ConnectionLost, match="Lost the connection"), catalog.read() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with psycopg.connect(admin, autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", (pid,))
            conn.exec_driver_sql("SELECT count(*) FROM photos")
        assert len(catalog.photo_paths()) == 7  # the next statement gets a new connection
        with pytest.raises(sa.exc.ProgrammingError):  # a bug in a statement stays a bug
            with catalog.read() as conn:
                conn.exec_driver_sql("SELECT no_such_column FROM photos")


# ----------------------------------------------------------------------------- who the curator is


def test_the_curator_is_set_from_the_cli_else_the_database_user(pg_server, photo_tree, tiny_model, tmp_path):
    import getpass

    from desktop_app.cli import main

    db = pg_cluster_database(pg_server, f"whocat{os.getpid()}")
    ana = db.replace("postgres@", "pwuser:secret-pw@")  # a second database user on this workstation
    index_photos(db, photo_tree, model=tiny_model)
    with Engine.open(db, remember=False) as engine:
        engine.decide("red", "green", "alike")
    with Engine.open(ana, remember=False) as engine:
        engine.decide("red", "shoes/blue", "not_match")
        by = {frozenset((d["article_a"], d["article_b"])): d["curator"] for d in engine.decisions()}
    assert by[frozenset(("green", "red"))] == "postgres" and by[frozenset(("red", "shoes/blue"))] == "pwuser"
    with Engine.open(tmp_path / "own.sqlite", create=True, remember=False) as engine:  # a file: the login
        assert engine.curator() == getpass.getuser()

    assert main(["settings", "--curator", "  Ana   Lima "]) == 0  # no catalog needed
    assert UserSettings.load().curator == "Ana Lima"
    proc = cli("settings", "--db", ana, "--json", home=Path(os.environ["LOOKALIKE_HOME"]))
    shown = json.loads(proc.stdout)
    assert (shown["curator"], shown["curator_from"]) == ("Ana Lima", "set with lookalike settings --curator")
    with Engine.open(ana, remember=False) as engine:
        engine.set_labels(["red"], "category", "tops")
        assert engine.curator() == "Ana Lima"
    assert main(["settings", "--curator", ""]) == 0
    with Engine.open(ana, remember=False) as engine:
        assert engine.curator() == "pwuser"
    assert main(["settings", "--curator", "bad\x1bname"]) == 2


# ----------------------------------------------------------------------------- where the photos are


def test_stats_shows_this_machines_folder_and_a_mapped_index_keeps_the_stored_one(
    pg_url, photo_tree, tiny_model, tmp_path
):
    import shutil

    from desktop_app.core.settings import catalog_settings

    index_photos(pg_url, photo_tree, model=tiny_model)  # ana, where the photos were first indexed
    mount = tmp_path / "mnt" / "catalog"
    shutil.copytree(photo_tree, mount)
    ben, other = tmp_path / "home-ben", tmp_path / "home-other"
    assert cli("catalog", "root", mount, "--db", pg_url, home=ben).returncode == 0
    stats = json.loads(cli("stats", "--db", pg_url, "--json", home=ben).stdout)
    assert (stats["photo_root"], stats["stored_photo_root"]) == (str(mount.resolve()), str(photo_tree))
    text = cli("stats", "--db", pg_url, home=ben).stdout
    assert f"Photos in {mount.resolve()} (this machine's mapping; the catalog keeps {photo_tree}" in text

    index = cli("index", mount, "--db", pg_url, "--model", tiny_model.manifest_path, home=ben)
    assert index.returncode == 0, index.stderr
    with Catalog(pg_url, create=False) as catalog:  # machines without a mapping still find ana's folder
        assert catalog_settings(catalog).photo_root == str(photo_tree)
    stats = json.loads(cli("stats", "--db", pg_url, "--json", home=other).stdout)
    assert stats["photo_root"] == stats["stored_photo_root"] == str(photo_tree)
    assert f"Photos in {photo_tree}\n" in cli("stats", "--db", pg_url, home=other).stdout

    moved = cli("index", mount, "--db", pg_url, "--model", tiny_model.manifest_path, "--new-root", home=ben)
    assert moved.returncode == 0, moved.stderr
    with Catalog(pg_url, create=False) as catalog:  # --new-root: the catalog follows this folder
        assert catalog_settings(catalog).photo_root == str(mount.resolve())


# ----------------------------------------------------------------------------- URLs


def test_a_password_in_the_url_is_never_remembered(pg_server, photo_tree, tiny_model, tmp_path):
    from tools import pg_cluster

    pg_cluster.create_database(pg_server, f"pwurl{os.getpid()}", owner="pwuser")
    plain = pg_server.replace("postgres@", "pwuser@") + f"/pwurl{os.getpid()}"
    with_password = plain.replace("pwuser@", "pwuser:secret-pw@")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "LOOKALIKE_HOME"}
    env.update(HOME=str(tmp_path), PGPASSWORD="")
    proc = cli(
        "index", photo_tree, "--db", with_password, "--model", tiny_model.manifest_path, home=home, env=env
    )
    assert proc.returncode == 0, proc.stderr
    stored = (home / "settings.json").read_text()
    assert "secret-pw" not in stored and "***" not in stored
    assert json.loads(stored)["recent"] == [plain]
    proc = cli("stats", "--db", plain, "--json", home=home, env={**env, "PGPASSWORD": "secret-pw"})
    assert proc.returncode == 0 and json.loads((home / "settings.json").read_text())["recent"] == [plain]
    # With no --db the catalog used last is opened with libpq's password, never a placeholder.
    proc = cli("stats", "--json", home=home, env={**env, "PGPASSWORD": "secret-pw"})
    assert proc.returncode == 0, proc.stderr


def test_settings_written_by_an_older_version_forget_the_placeholder_password(monkeypatch, tmp_path):
    url = "postgresql+psycopg://ana@db.example.lan:5432/lookalike"
    masked = url.replace("ana@", "ana:***@")
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.json").write_text(json.dumps({"recent": [masked, url], "roots": {masked: "/mnt/p"}}))
    monkeypatch.setenv("LOOKALIKE_HOME", str(home))
    settings = UserSettings.load()
    assert settings.recent == [url] and settings.photo_root(url) == "/mnt/p"


@pytest.mark.parametrize(
    "suffix, expected",
    [
        ("/lookalike?foo=bar", "option foo is not a PostgreSQL connection option"),
        ("", "names no database: add /NAME"),
        ("/", "names no database: add /NAME"),
    ],
)
def test_url_mistakes_are_one_line_naming_the_part(pg_server, tmp_path, suffix, expected):
    url = pg_server.replace("postgres@", "ana@") + suffix
    proc = cli("stats", "--db", url, home=tmp_path / "home")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and expected in proc.stderr


def test_the_createdb_hint_names_the_port(pg_server, tmp_path):
    port = sa.engine.make_url(pg_server).port
    proc = cli("stats", "--db", pg_server + "/nosuchdb", home=tmp_path / "home")
    assert proc.returncode == 2
    assert f"createdb -h 127.0.0.1 -p {port} -U postgres nosuchdb" in proc.stderr


def test_catalog_recover_of_a_shared_catalog_says_what_repairs_it(pg_url, tmp_path):
    proc = cli("catalog", "recover", tmp_path / "out.sqlite", "--db", pg_url, home=tmp_path / "home")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "reads a damaged SQLite catalog file" in proc.stderr and "pg_dump" in proc.stderr
    assert not (tmp_path / "out.sqlite").exists()


def test_a_user_without_create_on_an_empty_database_is_told_that_grant(
    pg_server, photo_tree, tiny_model, tmp_path
):
    """The catalog's tables do not exist yet, so no role owns them: the message names what is really
    missing (CREATE on the schema) and the database's owner as the one who can grant it."""
    import psycopg

    from tools import pg_cluster

    tag = str(os.getpid())
    ben, db = f"bencreate{tag}", f"noright{tag}"
    admin = pg_server.replace("+psycopg", "") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {ben} LOGIN")
        conn.execute(f"CREATE DATABASE {db}")  # owned by postgres; PostgreSQL 15 lets only it create tables
    url = _user_url(pg_server, ben, db)
    with pytest.raises(CatalogError) as refused:
        index_photos(url, photo_tree, model=tiny_model)
    message = str(refused.value)
    assert "\n" not in message and "curators" not in message, message
    assert f"{ben} has no right to create tables in the schema public" in message, message
    assert "The database's owner postgres" in message, message
    assert f"'GRANT CREATE ON SCHEMA public TO {ben}'" in message, message
    proc = cli("index", photo_tree, "--db", url, "--model", tiny_model.manifest_path, home=tmp_path)
    one_line_exit_2(proc, f"'GRANT CREATE ON SCHEMA public TO {ben}'")  # the command line says the same
    psql = re.search(r"(psql .*?'GRANT CREATE ON SCHEMA public TO \w+')", message).group(1)
    env = {**os.environ, "PATH": f"{pg_cluster.server_binaries()}:{os.environ['PATH']}"}
    subprocess.run(shlex.split(psql), check=True, env=env, capture_output=True)  # as the message says
    assert index_photos(url, photo_tree, model=tiny_model).embedded == 7  # the named fix is enough


def test_on_an_empty_team_database_a_user_is_told_to_join_the_team(pg_server, photo_tree, tiny_model):
    """README's set-up before anyone indexed: the database belongs to a team role that cannot log in, so the
    fix is membership (the catalog's tables are then the team's), not a grant only its owner could run."""
    import psycopg

    from tools import pg_cluster

    tag = str(os.getpid())
    team, eve, db = f"crew2{tag}", f"eve{tag}", f"teamcat{tag}"
    admin = pg_server.replace("+psycopg", "") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {team} NOLOGIN")
        conn.execute(f"CREATE ROLE {eve} LOGIN")
        conn.execute(f"CREATE DATABASE {db} OWNER {team}")
    url = _user_url(pg_server, eve, db)
    with pytest.raises(CatalogError) as refused:
        index_photos(url, photo_tree, model=tiny_model)
    message = str(refused.value)
    assert f"belongs to the team role {team}" in message and f"'GRANT {team} TO {eve}'" in message, message
    psql = re.search(r"with (psql .*?) \(README", message).group(1)
    env = {**os.environ, "PATH": f"{pg_cluster.server_binaries()}:{os.environ['PATH']}"}
    subprocess.run([*shlex.split(psql), "-U", "postgres"], check=True, env=env, capture_output=True)
    assert index_photos(url, photo_tree, model=tiny_model).embedded == 7
    with psycopg.connect(admin.rsplit("/", 1)[0] + f"/{db}", autocommit=True) as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'meta'").fetchone()[0]
    assert owner == team  # the team's catalog, not eve's
