"""No name clashes: a suite can import any kit library beside the popular libraries of its field.

No keyword of the kit may have the name of a keyword of DatabaseLibrary, RedisLibrary, RequestsLibrary,
KubeLibrary, SeleniumLibrary, Browser or Robot Framework's standard libraries, as Robot Framework compares
names (case, spaces and underscores ignored): it would fail with "Multiple keywords with name ... found".

Those libraries are in requirements-dev.txt. Their keyword names are read with libdoc, which imports
them. Browser needs no ``rfbrowser init`` for that: its Python package imports and lists its keywords
without its Node.js side (only running a keyword needs it). KubeLibrary reads a kubeconfig when it is
imported unless ``INIT_FOR_LIBDOC_ONLY=1`` is set, which its own documentation provides for libdoc.
In the dry run below, Browser's own listener reports at the end of the test that its Node.js side is
not installed; that is not an error of the run (the test still passes). Nothing here needs the network.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from robot import run
from robot.api import ExecutionResult
from robot.libdocpkg import LibraryDocumentation
from robot.utils import normalize

from kitcore.docs import LIBRARIES

THEIRS = ("DatabaseLibrary", "RedisLibrary", "RequestsLibrary", "KubeLibrary", "SeleniumLibrary", "Browser")
STANDARD = ("BuiltIn", "Collections", "String", "OperatingSystem", "Process", "DateTime", "XML", "Dialogs",
            "Screenshot", "Telnet")
pytestmark = pytest.mark.filterwarnings("ignore:.telnetlib. is deprecated:DeprecationWarning")
LIBRARIES_DIR = Path(__file__).resolve().parents[2] / "libraries"

# kit keywords renamed so that they clash with none of those libraries (old name: the library it clashed with)
RENAMED = {
    "Connect To PostgreSQL": "Connect To Database (DatabaseLibrary)",
    "Get Query Rows": "Query (DatabaseLibrary)",
    "Query Value Should Be": "Check Query Result (DatabaseLibrary)",
    "Execute SQL File": "Execute SQL Script (DatabaseLibrary)",
    "Connect To Redis Server": "Connect To Redis (RedisLibrary)",
    "Get Value Of Key": "Get Value (SeleniumLibrary)",
    "Create Session From Template": "Create Session (RequestsLibrary)",
    "Get Logs Of Pod": "Get Pod Logs (KubeLibrary)",
    "Log In As": "Log In (Telnet's Login)",
    "Click On Desktop": "Click (Browser)",
    "Type Text On Desktop": "Type Text (Browser)",
    "Press Key On Desktop": "Press Key (SeleniumLibrary)",
}


def key(name: str) -> str:
    """A keyword name as Robot Framework compares it."""
    return normalize(name, ignore="_")


@pytest.fixture(scope="module")
def theirs() -> dict[str, list[str]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INIT_FOR_LIBDOC_ONLY", "1")
        names: dict[str, list[str]] = {}
        for library in THEIRS + STANDARD:
            keywords = LibraryDocumentation(library).keywords
            assert len(keywords) >= 3, f"{library} lists only {len(keywords)} keywords"
            for kw in keywords:
                names.setdefault(key(kw.name), []).append(f"{library}.{kw.name}")
        return names


@pytest.fixture(scope="module")
def ours() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for library in LIBRARIES:
        for kw in LibraryDocumentation(library).keywords:
            names.setdefault(key(kw.name), []).append(f"{library.rsplit('.', 1)[-1]}.{kw.name}")
    return names


def test_the_libraries_of_the_field_are_all_read(theirs: dict[str, list[str]]) -> None:
    read = {entry.split(".", 1)[0] for entries in theirs.values() for entry in entries}
    assert read == set(THEIRS + STANDARD)
    assert key("Connect To Database") in theirs and key("Click") in theirs and key("Get Pod Logs") in theirs


def test_no_kit_keyword_has_the_name_of_theirs(ours: dict[str, list[str]], theirs: dict[str, list[str]]) -> None:
    clashes = [f"{' / '.join(ours[name])} clashes with {', '.join(theirs[name])}" for name in ours if name in theirs]
    assert clashes == [], "\n".join(clashes)


def test_no_two_kit_libraries_share_a_keyword_name(ours: dict[str, list[str]]) -> None:
    shared = [entries for entries in ours.values() if len(entries) > 1]
    assert shared == []


def test_the_renamed_keywords_exist(ours: dict[str, list[str]]) -> None:
    assert [name for name in RENAMED if key(name) not in ours] == []


def test_a_suite_imports_the_kit_beside_theirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dry run resolves every keyword call: a name two imported libraries share fails the test it is in."""
    monkeypatch.setenv("INIT_FOR_LIBDOC_ONLY", "1")
    monkeypatch.delenv("ROBOT_OPTIONS", raising=False)
    imports = "\n".join(f"Library    {name}" for name in (*THEIRS, *STANDARD[1:], *LIBRARIES))
    suite = tmp_path / "beside.robot"
    suite.write_text(textwrap.dedent("""
        *** Settings ***
        {imports}

        *** Test Cases ***
        Kit Keywords Beside Theirs
            Connect To PostgreSQL    conninfo=postgresql://127.0.0.1/kit
            Get Query Rows    SELECT 1
            Execute SQL File    seed.sql
            Query Value Should Be    SELECT 1    ==    1
            Connect To Redis Server    127.0.0.1    6379
            Get Value Of Key    agent:k8s-local:pod    ==    api-1    message=the agent is on {value}
            Log In As    alice    secret
            Create Session From Template    firefox
            Get Session State    alice-1    ==    running    timeout=5s
            Get Logs Of Pod    agent-0    streamspace
            Click On Desktop    10    20
            Type Text On Desktop    hello
            Press Key On Desktop    Return
            Get Container State    session-1    ==    running
            Get Agent Leader    kubernetes
    """).replace("{imports}", imports))
    with (tmp_path / "stdout.txt").open("w") as out:
        rc = run(str(suite), dryrun=True, outputdir=str(tmp_path), output=str(tmp_path / "output.xml"), log=None,
                 report=None, xunit=None, stdout=out, stderr=out, pythonpath=[str(LIBRARIES_DIR)])
    console = (tmp_path / "stdout.txt").read_text()
    result = ExecutionResult(str(tmp_path / "output.xml"))
    assert "Multiple keywords with name" not in console
    assert rc == 0 and result.statistics.total.passed == 1, console
    imported = [message.message for message in result.errors.messages if "Importing" in message.message]
    assert imported == []
