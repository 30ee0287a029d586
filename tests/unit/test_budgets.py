"""variables/budgets.py: every time budget follows from the environment's own timings by its formula."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("kit_budgets", ROOT / "variables" / "budgets.py")
assert SPEC and SPEC.loader
budgets = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(budgets)

REFERENCE = budgets.platform_timings("reference")
NAMES = ("LEADER_ELECTION_BUDGET", "AGENT_RECONNECT_BUDGET", "API_RECOVERY_BUDGET", "REDIS_RECOVERY_BUDGET",
         "STATUS_CONVERGENCE_BUDGET", "SESSION_START_BUDGET", "SESSION_COMMAND_BUDGET", "FULL_RECOVERY_BUDGET")


def seconds(text: str) -> float:
    assert text.endswith("s")
    return float(text[:-1])


def test_the_local_budgets_follow_the_reference_platforms_timings() -> None:
    found = budgets.get_variables({}, "reference")
    lease, retry = REFERENCE["leaseDuration"], REFERENCE["retryPeriod"]
    # election: lease + retry, plus max(2 s, 50 %)
    assert seconds(found["LEADER_ELECTION_BUDGET"]) == pytest.approx(lease + retry + max(2.0, 0.5 * (lease + retry)))
    assert seconds(found["LEADER_ELECTION_BUDGET"]) <= 6, "the local stack's 3 s lease leaves no room for 30 s"
    assert set(NAMES) <= set(found) and found["BUDGET_TIMINGS"] == REFERENCE
    for name in NAMES:
        assert found["BUDGETS"][name]["formula"], f"{name} states no formula"


def test_a_slower_configuration_gets_proportionally_larger_budgets_until_the_seed_ceiling() -> None:
    slow = {**REFERENCE, "leaseDuration": 12.0, "retryPeriod": 2.0}
    assert seconds(budgets.get_variables(slow)["LEADER_ELECTION_BUDGET"]) == 21.0
    slower = {**REFERENCE, "leaseDuration": 60.0}
    assert seconds(budgets.get_variables(slower)["LEADER_ELECTION_BUDGET"]) == 30.0, "the seed's 30 s is a ceiling"


def test_a_timing_the_environment_does_not_state_is_named() -> None:
    broken = {k: v for k, v in REFERENCE.items() if k != "leaseDuration"}
    with pytest.raises(ValueError, match="leaseDuration"):
        budgets.get_variables(broken)


@pytest.mark.parametrize("environment", ["kind", "compose", "streamspace"])
def test_every_environment_states_its_timings_and_allowances(environment: str) -> None:
    stated = yaml.safe_load((ROOT / "environments" / environment / "variables.yaml").read_text())
    assert "ENVIRONMENT_TIMINGS" in stated and "ENVIRONMENT_ALLOWANCES" in stated
    platform = stated.get("LOCAL_PLATFORM", "reference")
    found = budgets.get_variables(stated["ENVIRONMENT_TIMINGS"], platform, stated["ENVIRONMENT_ALLOWANCES"])
    assert seconds(found["LEADER_ELECTION_BUDGET"]) <= 30
    for name in NAMES:
        assert name not in stated, f"{environment} sets {name} by hand instead of deriving it"


def test_the_defaults_state_the_local_inputs_and_no_budget_by_hand() -> None:
    defaults = yaml.safe_load((ROOT / "variables" / "defaults.yaml").read_text())
    thresholds = yaml.safe_load((ROOT / "variables" / "thresholds.yaml").read_text())
    assert defaults["ENVIRONMENT_TIMINGS"] == {} and defaults["BUDGET_MARGIN"] == budgets.DEFAULT_MARGIN
    assert defaults["ENVIRONMENT_ALLOWANCES"] == budgets.LOCAL_ALLOWANCES
    assert not set(NAMES) & set(thresholds), "a hand-set budget would hide the derived one"
    assert thresholds["MIN_SESSIONS_PER_MINUTE"] >= 10, "the seed's 10 sessions/min stays the floor"
