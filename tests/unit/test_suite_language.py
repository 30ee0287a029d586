"""Suites and resources are written for testers who are not developers: no Python expressions, no SQL, no
slicing. What has to be computed or queried is a keyword of a library (libraries/), named for what it gives.

``language_problems`` reads a suite or resource line by line (cells are separated by two or more spaces or
a tab; comments and ``*** Comments ***`` sections are skipped) and names every line that holds:

- inline Python: ``${{ ... }}``;
- the ``Evaluate`` keyword;
- an AssertionEngine operator that evaluates Python (``validate``, ``then``, ``evaluate``);
- SQL: a statement (``SELECT ... FROM``, ``INSERT INTO``, ``UPDATE ... SET``, ``DELETE FROM``, ``CREATE TABLE``
  ...), a cell that is a ``SELECT`` on its own, or a ``%s`` parameter;
- slicing in an item access: ``${sessions}[2:]``, ``@{users}[:${count}]``;
- a variable that computes (extended variable syntax): ``${heartbeat * 3}``, ``${url.rsplit('/')}``,
  ``${report.lost}``;
- a condition (``IF``, ``ELSE IF``, ``WHILE``, ``Should Be True``, ``Skip If``...) that calls, indexes,
  builds a collection or does arithmetic: ``$row['status'] == 'failed'``, ``not $topology.get('vnc')``.
  Comparing and testing plain variables stays: ``$name in $hit``, ``not $replicas``, ``$width > 0``;
- arithmetic under a keyword's name (``Get Sum Of``, ``Multiply Time In Seconds``, ``Convert Seconds To
  Milliseconds``...): a keyword says what it works out and why (``Get Budget For Steps In A Row``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "suites").glob("*.robot")) + sorted((ROOT / "resources").glob("*.resource"))

SEPARATOR = re.compile(r" {2,}|\t")
SECTION = re.compile(r"^\*+\s*([A-Za-z ]+?)\s*\**\s*$")
INLINE_PYTHON = re.compile(r"\$\{\{")
PYTHON_OPERATORS = {"validate", "then", "evaluate"}
SQL_STATEMENT = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\bTRUNCATE\b"
    r"|\b(?:CREATE|DROP|ALTER)\s+(?:TABLE|INDEX|DATABASE|SCHEMA|VIEW|TYPE|EXTENSION)\b",
)
SQL_CELL = re.compile(r"^(?:SELECT|WITH|INSERT|UPDATE|DELETE)\s")
SQL_PARAMETER = re.compile(r"%s|%\(\w+\)s")
SLICE = re.compile(r"[}\]]\[[^\[\]]*:[^\[\]]*\]")
COMPUTING_VARIABLE = re.compile(r"[$@&%]\{(?!\{)([^{}]*)\}")
VARIABLE_ARITHMETIC = re.compile(r"^\s*[A-Za-z_][\w ]*?\s*[-+*/%]\s*\S")
ATTRIBUTE = re.compile(r"[A-Za-z_]\w*\.[A-Za-z_]")
CONDITION_KEYWORDS = {
    "shouldbetrue", "shouldnotbetrue", "skipif", "passexecutionif", "runkeywordif", "runkeywordunless",
    "returnfromkeywordif", "continueforloopif", "exitforloopif", "setvariableif",
}
CONTROL = {"IF", "ELSE IF", "WHILE"}
QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
ROBOT_VARIABLE = re.compile(r"[$@&%]\{[^{}]*\}|\$\w+")
PYTHON_IN_CONDITION = re.compile(r"[(\[{]|\.[A-Za-z_]|\blambda\b|\bfor\b|[+*/%]|\s-\s")
ARITHMETIC_KEYWORD = re.compile(
    r"^(?:multiply|subtract|divide|get(?:sum|maximum|minimum|product|difference|average|mean)of"
    r"|convert(?:seconds|milliseconds|minutes)to)"
)
TYPED = re.compile(r"^[\w ]+:\s*[\w\[\], |]+$")  # ${name: list[str]} declares a type, it computes nothing


def _normal(name: str) -> str:
    return re.sub(r"[\s_]", "", name).lower()


def _cells(line: str) -> list[str]:
    cells = [c.strip() for c in SEPARATOR.split(line.rstrip())]
    kept = []
    for cell in cells:
        if cell.startswith("#"):
            break
        kept.append(cell)
    return kept


def _condition(cells: list[str]) -> str | None:
    """The condition of a control structure or of a keyword that evaluates one, if the line has one."""
    body = [c for c in cells if c]
    while body and (body[0] == "..." or body[0].endswith("=")):
        body = body[1:]
    for index, cell in enumerate(body[:-1]):
        if cell in CONTROL or _normal(cell.rsplit(".", 1)[-1]) in CONDITION_KEYWORDS:
            return body[index + 1]
    return None


def _called_keyword(cells: list[str]) -> str | None:
    """The keyword a step calls (after any assignments), or None for a setting, a continuation or control."""
    body = [c for c in cells if c]
    while body and body[0].endswith("=") and body[0][:1] in "$@&":
        body = body[1:]
    if not body or body[0] == "..." or body[0].startswith("[") or body[0].isupper():
        return None
    return body[0]


def _python_in_condition(condition: str) -> bool:
    plain = QUOTED.sub("S", condition)
    plain = ROBOT_VARIABLE.sub("X", plain)
    return bool(PYTHON_IN_CONDITION.search(plain))


def _computing_variable(line: str) -> str | None:
    for match in COMPUTING_VARIABLE.finditer(line):
        inner = match.group(1)
        if TYPED.match(inner):
            continue
        if "(" in inner or VARIABLE_ARITHMETIC.match(inner) or ATTRIBUTE.search(inner):
            return match.group(0)
    return None


def language_problems(text: str) -> list[str]:
    """Every line of a suite or resource that a tester could not read: ``line <n>: <kind>: <line>``."""
    problems = []
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = SECTION.match(line.strip())
        if header and line.startswith("*"):
            section = header.group(1).strip().lower()
            continue
        if section == "comments" or not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = _cells(line)
        code = "    ".join(cells)
        kinds = []
        if INLINE_PYTHON.search(code):
            kinds.append("inline Python ${{ }}")
        if any(_normal(c.rsplit(".", 1)[-1]) == "evaluate" and c[:1].isupper() for c in cells):
            kinds.append("the Evaluate keyword")
        if any(c in PYTHON_OPERATORS for c in cells):
            kinds.append("a Python assertion operator")
        if SQL_STATEMENT.search(code) or any(SQL_CELL.match(c) for c in cells) or SQL_PARAMETER.search(code):
            kinds.append("SQL")
        if SLICE.search(code):
            kinds.append("slicing")
        if _computing_variable(code):
            kinds.append("a variable that computes")
        condition = _condition(cells)
        if condition is not None and _python_in_condition(condition):
            kinds.append("Python in a condition")
        called = _called_keyword(cells) if section in ("test cases", "tasks", "keywords") else None
        if called is not None and ARITHMETIC_KEYWORD.match(_normal(called.rsplit(".", 1)[-1])):
            kinds.append("arithmetic under a keyword's name")
        problems += [f"line {number}: {kind}: {line.strip()}" for kind in kinds]
    return problems


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_suites_and_resources_hold_no_python_no_sql_and_no_slicing(path: Path) -> None:
    problems = language_problems(path.read_text(encoding="utf-8"))
    assert not problems, (f"{path.relative_to(ROOT)} holds what a tester cannot read; make it a keyword of a "
                          "library (libraries/) named for what it gives:\n" + "\n".join(problems))


def test_there_are_suites_and_resources_to_check() -> None:
    assert len([p for p in FILES if p.suffix == ".robot"]) >= 10
    assert len([p for p in FILES if p.suffix == ".resource"]) >= 10


PLANTED = {
    "inline Python ${{ }}": [
        "    Should Be Equal    ${ids}    ${{[$agent]}}",
        "    Record Figure    sessions_lost    ${{len($missing)}}    budget=${0}",
        "    VAR    ${window: float} =    ${{2 * float($BUDGET_TIMINGS['heartbeatInterval'])}}",
    ],
    "the Evaluate keyword": [
        "    ${total: int} =    Evaluate    ${kubernetes} + ${docker}",
        "    ${now} =    BuiltIn.Evaluate    time.monotonic()    modules=time",
        "    ${ok} =    Run Keyword And Return Status    Evaluate    $a < $b",
    ],
    "a Python assertion operator": [
        "    Get Value Of Key    agent:${agent}:pod    validate    value not in ('', $first)",
        "    Get Lease Holder    ${lease}    ${ns}    then    value.split('_')[0]",
    ],
    "SQL": [
        "${COMMAND_STATUS: str}      SELECT status FROM agent_commands WHERE command_id = %s",
        "...                         WHERE session_id = ANY(%s) AND status = 'completed'",
        "    Query Value Should Be    SELECT 1    ==    1",
        "    Execute SQL    DELETE FROM sessions",
        "    Execute SQL    INSERT INTO users (name) VALUES ('x')",
        "    Execute SQL    UPDATE sessions SET state = 'failed'",
        "    Execute SQL    CREATE TABLE kit (id int)",
    ],
    "slicing": [
        "    And Every Session Container Should Be Running    ${sessions}[${CHAOS_KUBERNETES_SESSIONS}:]",
        "    FOR    ${name: str}    IN    @{TEST_USERS}[:${users}]",
        "    Log    ${names}[1:3]",
    ],
    "a variable that computes": [
        "    VAR    ${window: float} =    ${heartbeat * 3}",
        "    Log    ${url.rsplit('/', 1)}",
        "    Log    ${count + 1}",
        "    Log    ${report.lost}",
    ],
    "Python in a condition": [
        "    IF    $row['status'] == 'failed'",
        "    IF    not $topology.get('vnc')    Skip",
        "        IF    $server['name'] == $name    RETURN    ${server}[host]",
        "    ELSE IF    len($names) > 2",
        "    WHILE    $count + 1 < 5",
        "    Should Be True    ${size}[0] > 0 and ${size}[1] > 0    msg=the desktop has no size",
        "    Should Be True    $MIGRATIONS_BASE in ('empty', 'platform')",
        "    Skip If    [s for s in $sessions]",
    ],
    "arithmetic under a keyword's name": [
        "    ${total: int} =    Get Sum Of    ${kubernetes}    ${docker}",
        "    ${slowest: float} =    Get Maximum Of    @{seconds}",
        "    ${budget: float} =    Multiply Time In Seconds    ${SESSION_START_BUDGET}    ${count}",
        "    ${ms: float} =    kitreport.Convert Seconds To Milliseconds    ${seconds}",
        "    ${overhead: float} =    Subtract Seconds From Milliseconds    ${through}    ${seconds}",
    ],
}

READABLE = [
    "    Record Figure    vnc_reconnects    ${report}[reconnects]    budget=${MAX_VNC_RECONNECTS}",
    "    Record Figure Of At Most    api_max_cpu_percent    ${api}[targets][processes][max_cpu_percent]    x",
    "    ${count: int} =    Get Length    ${team}[${user}]",
    "    IF    $name in $hit",
    "    IF    'docker' not in $platforms    Log    no Docker agent",
    "    IF    not $replicas",
    "    IF    $known == 'PASS'",
    "    Should Be True    ${latency} < 1000    Redis took ${latency} ms to answer PING",
    "    Should Be True    $width > 0 and $height > 0    msg=the desktop has no size: (${width}, ${height})",
    "    Should Be True    ${sent}    msg=the command (sent.) was not [sent]: ${why}",
    "    ...    foreign keys have the contract's ON DELETE rules.",
    "    [Documentation]    Select the sessions from the list; update the quota, then delete from the team.",
    "    Get Object Names    ${kind}    ${namespace}    ==    ${NOTHING}    starting_with=${sessions}",
    "    ${budget: float} =    Get Budget For Steps In A Row    ${SESSION_START_BUDGET}    ${count}",
    "    VAR    &{watch: object} =    since=${since}    streams=${streams}",
    "    ${names: list[str]} =    Get API Replica Names",
    "    Wait Until Key Exists    agent:${agent}:pod    timeout=${budget}    poll=${FIGURE_POLL}",
    "    Connect To Redis Server    url=${hub_url}    alias=${HUB_ALIAS}"
    "    # a comment may say ${{x}} or SELECT a FROM b",
    "    Get VNC Access Status    ${session}    ==    401    with_token=${False}",
    "    ${at: float} =    Get Epoch Seconds",
    "    [Documentation]    Multiply the sessions; get sum of what they used.",
    "    ...    Subtract the direct latency from the latency through the platform.",
    "    ${window: float} =    Get Window Of Heartbeats    ${heartbeat}    3",
    "    ${count: int} =    Convert To Integer    ${text}",
    "    Log    ${-1} ${0.2} ${SPACE} ${CURDIR}/..",
]


@pytest.mark.parametrize(("kind", "line"), [(kind, line) for kind, lines in PLANTED.items() for line in lines])
def test_the_checker_catches_each_kind(kind: str, line: str) -> None:
    text = f"*** Keywords ***\nA Sentence\n{line}\n"
    problems = language_problems(text)
    assert any(f": {kind}: " in p for p in problems), f"'{line}' should count as {kind}; found {problems}"
    assert all(p.startswith("line 3: ") for p in problems)


@pytest.mark.parametrize("line", READABLE)
def test_the_checker_leaves_what_a_tester_reads(line: str) -> None:
    assert language_problems(f"*** Keywords ***\nA Sentence\n{line}\n") == []


def test_the_checker_skips_comments() -> None:
    text = ("*** Comments ***\n${{ 1 + 1 }}    SELECT x FROM y\n*** Keywords ***\nA Sentence\n"
            "    # ${x}[1:] Evaluate\n    Log    fine\n")
    assert language_problems(text) == []


def test_the_checker_names_the_line() -> None:
    text = "*** Test Cases ***\nA Test\n    Log    fine\n    ${n} =    Evaluate    1 + 1\n"
    assert language_problems(text) == ["line 4: the Evaluate keyword: ${n} =    Evaluate    1 + 1"]
