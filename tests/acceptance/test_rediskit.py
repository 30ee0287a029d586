"""RedisKit against a real Redis server: every keyword and its main failure."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from robot.api.types import Secret

from environments.local.procs import free_port
from environments.local.redis_server import RedisServer
from kitcore import AssertionOperator, KitError, TargetRefused, WaitTimeout
from RedisKit import RedisKit

EQ = AssertionOperator("==")
GE = AssertionOperator(">=")
CONTAINS = AssertionOperator["contains"]


@pytest.fixture(scope="session")
def raw(redis_server):
    client = redis.Redis(redis_server.host, port=redis_server.port, decode_responses=True, socket_timeout=5,
                         retry=Retry(NoBackoff(), 0))
    yield client
    client.close()


@pytest.fixture
def kit(redis_server):
    lib = RedisKit()
    lib.connect_to_redis_server("127.0.0.1", redis_server.port, timeout="2s")
    try:
        yield lib
    finally:
        lib.ctx.cleanup.run_all()
        lib.close_all_redis_connections()


def key(name: str) -> str:
    return f"test:{name}:{uuid.uuid4().hex[:8]}"


# -- connections -------------------------------------------------------------------------
def test_connect_by_url_alias_and_switch(redis_server, raw):
    lib = RedisKit()
    try:
        assert lib.connect_to_redis_server(url=f"redis://127.0.0.1:{redis_server.port}/3", alias="db3") == \
            f"127.0.0.1:{redis_server.port}/3"
        lib.connect_to_redis_server("127.0.0.1", redis_server.port, db=0, alias="db0")
        k = key("alias")
        lib.set_value(k, "in-db0")
        lib.switch_redis_connection("db3")
        lib.key_should_not_exist(k)
        assert lib.get_value_of_key(k, alias="db0") == "in-db0"
        with pytest.raises(KitError, match=r"No Redis connection named 'nope'.*open ones: db0, db3"):
            lib.switch_redis_connection("nope")
        raw.delete(k)
    finally:
        lib.close_all_redis_connections()
    with pytest.raises(KitError, match=r"No Redis connection is open.*Connect To Redis Server"):
        lib.get_value_of_key("x")


def test_refused_connection_names_cause_and_fix():
    lib = RedisKit()
    port = free_port()
    with pytest.raises(KitError) as error:
        lib.connect_to_redis_server("127.0.0.1", port, timeout="1s")
    text = str(error.value)
    assert f"cannot reach Redis at 127.0.0.1:{port}/0" in text
    assert "connection refused" in text
    assert "Fix: start Redis there" in text


def test_a_subscribe_the_acl_refuses_names_the_permission(redis_server, raw):
    user, password = f"kit-nosub-{uuid.uuid4().hex[:6]}", "nosub-pass-31"
    raw.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "+@all", "-subscribe", "-psubscribe")
    lib = RedisKit()
    try:
        lib.connect_to_redis_server("127.0.0.1", redis_server.port, username=user, password=Secret(password),
                                    timeout="2s")
        with pytest.raises(KitError) as error:
            lib.subscribe_to_channels("kit:acl:test")
        text = str(error.value)
        assert "permission" in text.lower() and "ACL SETUSER" in text, text
        assert "up and answering" not in text and password not in text
    finally:
        lib.ctx.cleanup.run_all()
        lib.close_all_redis_connections()
        raw.execute_command("ACL", "DELUSER", user)


def test_bad_password_is_named_and_never_shown(tmp_path):
    server = RedisServer(tmp_path, name="rediskit-auth")
    try:
        server.start()
        admin = redis.Redis(server.host, port=server.port, socket_timeout=5)
        admin.config_set("requirepass", "right-horse-battery")
        admin.close()
        lib = RedisKit()
        with pytest.raises(KitError) as error:
            lib.connect_to_redis_server("127.0.0.1", server.port, password=Secret("wrong-staple-42"))
        assert "refused the credentials" in str(error.value)
        assert "AUTH error" in str(error.value)
        assert "wrong-staple-42" not in str(error.value)
        with pytest.raises(KitError, match="refused the credentials"):
            lib.connect_to_redis_server("127.0.0.1", server.port)
        with pytest.raises(KitError) as error:
            lib.connect_to_redis_server(url=f"redis://:bad-url-secret@127.0.0.1:{server.port}/0")
        assert "bad-url-secret" not in str(error.value)
        lib.connect_to_redis_server("127.0.0.1", server.port, password=Secret("right-horse-battery"))
        lib.set_value("k", "v")
        assert lib.get_value_of_key("k") == "v"
        lib.close_all_redis_connections()
    finally:
        server.stop()


def test_timeout_is_seen_when_it_happens_without_retries(kit, redis_server):
    kit.connect_to_redis_server("127.0.0.1", redis_server.port, timeout="0.5s", alias="short")
    pauser = redis.Redis(redis_server.host, port=redis_server.port, socket_timeout=5)
    try:
        # once the server has answered OK, every client's commands wait 1.5 s: no race with the read below
        pauser.client_pause(1500, all=True)
        start = time.monotonic()
        with pytest.raises(KitError) as error:
            kit.get_value_of_key("anything")
        elapsed = time.monotonic() - start
        pauser.ping()  # answered when the pause is over: the next tests find the server serving
    finally:
        pauser.close()
    assert "timed out" in str(error.value) and "0.5 s socket timeout" in str(error.value)
    assert elapsed < 1.0, f"the timeout took {elapsed:.2f} s: the client retried"


# -- keys --------------------------------------------------------------------------------
def test_set_get_delete_and_existence(kit, raw):
    k = key("plain")
    assert kit.set_value(k, "running") is True
    assert kit.get_value_of_key(k) == "running"
    assert kit.get_value_of_key(k, EQ, "running") == "running"
    with pytest.raises(AssertionError, match="running"):
        kit.get_value_of_key(k, EQ, "stopped")
    assert kit.set_value(k, "other", only_if_absent=True) is False
    kit.key_should_exist(k)
    with pytest.raises(AssertionError, match="exists in Redis"):
        kit.key_should_not_exist(k)
    assert kit.delete_keys(k, "never-there") == 1
    kit.key_should_not_exist(k)
    with pytest.raises(AssertionError, match=f"Key '{k}' does not exist"):
        kit.key_should_exist(k)
    with pytest.raises(KitError, match=f"Key '{k}' does not exist.*Wait Until Key Exists"):
        kit.get_value_of_key(k)
    assert raw.exists(k) == 0


def test_getter_retries_until_value_appears(kit, raw):
    k = key("later")
    timer = threading.Timer(0.4, lambda: raw.set(k, "ready"))
    timer.start()
    try:
        assert kit.get_value_of_key(k, EQ, "ready", timeout="3s", poll="0.05s") == "ready"
    finally:
        timer.cancel()
        raw.delete(k)
    with pytest.raises(AssertionError, match=r"retried for .* tries\); the last try failed"):
        kit.get_value_of_key("absent-key", EQ, "x", timeout="0.3s")


def test_get_keys_uses_scan_pattern(kit, raw):
    prefix = key("scan")
    for i in range(3):
        raw.set(f"{prefix}:{i}", i)
    try:
        assert kit.get_keys(f"{prefix}:*") == [f"{prefix}:0", f"{prefix}:1", f"{prefix}:2"]
        kit.get_keys(f"{prefix}:*", CONTAINS, f"{prefix}:1")
        assert kit.get_keys("no-such-prefix:*") == []
    finally:
        raw.delete(*[f"{prefix}:{i}" for i in range(3)])


def test_ttl_and_expiry(kit, raw):
    k = key("ttl")
    kit.set_value(k, "x", ttl="30s")
    assert 29 < kit.get_ttl(k) <= 30
    kit.get_ttl(k, AssertionOperator(">"), 20)
    kit.set_value(k, "x")
    assert kit.get_ttl(k) == -1
    kit.set_expiry(k, "0.3s")
    kit.wait_until_key_is_gone(k, timeout="3s", poll="0.05s")
    with pytest.raises(KitError, match="does not exist"):
        kit.get_ttl(k)
    with pytest.raises(KitError, match="does not exist"):
        kit.set_expiry(k, "10s")


def test_wrong_type_is_named(kit, raw):
    k = key("hash")
    raw.hset(k, "a", "1")
    try:
        with pytest.raises(KitError) as error:
            kit.get_value_of_key(k)
        assert "has another type (it holds a hash)" in str(error.value)
        assert "WRONGTYPE" in str(error.value)
    finally:
        raw.delete(k)


def test_waits_pass_and_fail_with_what_they_saw(kit, raw):
    k = key("wait")
    threading.Timer(0.3, lambda: raw.set(k, "one")).start()
    kit.wait_until_key_exists(k, timeout="3s", poll="0.05s")
    threading.Timer(0.3, lambda: raw.set(k, "two")).start()
    assert kit.wait_until_key_has_value(k, "two", timeout="3s", poll="0.05s") == "two"
    with pytest.raises(WaitTimeout) as error:
        kit.wait_until_key_has_value(k, "three", timeout="0.3s", poll="0.05s")
    assert "last seen: value 'two'" in str(error.value)
    with pytest.raises(WaitTimeout, match="key still exists"):
        kit.wait_until_key_is_gone(k, timeout="0.2s")
    raw.delete(k)
    with pytest.raises(WaitTimeout, match="key absent"):
        kit.wait_until_key_exists(k, timeout="0.2s")


def test_cleanup_removes_tracked_keys_only(kit, raw):
    tracked, kept = key("tracked"), key("kept")
    kit.set_value(tracked, "x", cleanup=True)
    kit.set_value(kept, "y")
    assert any(tracked in p for p in kit.ctx.cleanup.pending())
    kit.ctx.cleanup.run_all()
    assert raw.exists(tracked) == 0
    assert raw.get(kept) == "y"
    raw.delete(kept)


# -- hashes, sets, lists -------------------------------------------------------------------
def test_hashes(kit, raw):
    k = key("h")
    assert kit.set_hash_fields(k, cleanup=True, state="running", agent="k8s-local") == 2
    assert kit.get_hash(k) == {"state": "running", "agent": "k8s-local"}
    assert kit.get_hash_field(k, "state", EQ, "running") == "running"
    with pytest.raises(KitError, match="has no field 'nope'"):
        kit.get_hash_field(k, "nope")
    with pytest.raises(KitError, match="does not exist"):
        kit.get_hash("missing-hash")
    kit.ctx.cleanup.run_all()
    assert raw.exists(k) == 0


def test_sets(kit, raw):
    k = key("s")
    assert kit.add_to_set(k, "b", "a", "b") == 2
    assert kit.get_set_members(k) == ["a", "b"]
    kit.get_set_members(k, CONTAINS, "a")
    assert kit.remove_from_set(k, "a") == 1
    with pytest.raises(AssertionError):
        kit.get_set_members(k, CONTAINS, "a")
    raw.delete(k)


def test_lists(kit, raw):
    k = key("l")
    assert kit.push_to_list(k, "one", "two") == 2
    assert kit.push_to_list(k, "zero", left=True) == 3
    assert kit.get_list(k) == ["zero", "one", "two"]
    assert kit.get_list_length(k, GE, 3) == 3
    raw.set(k + ":str", "x")
    with pytest.raises(KitError, match="WRONGTYPE"):
        kit.get_list(k + ":str")
    raw.delete(k, k + ":str")


# -- pub/sub -------------------------------------------------------------------------------
def envelope(agent: str, action: str) -> str:
    inner = {"type": "command", "timestamp": "2026-01-01T00:00:00Z",
             "payload": {"commandId": f"cmd-{uuid.uuid4().hex[:8]}", "action": action, "payload": {}}}
    return json.dumps({"agentId": agent, "message": json.dumps(inner)})


def test_pubsub_hub_traffic(kit, raw):
    hub = kit.subscribe_to_patterns("pod:*:commands", subscription="hub")
    plain = kit.subscribe_to_channels("pod:api-1:commands", subscription="one")
    assert kit.publish_message("pod:api-2:commands", envelope("k8s-local", "start_session")) == 1
    assert kit.publish_message("pod:api-1:commands", envelope("docker-local", "stop_session")) == 2
    got = kit.wait_until_message_received("pod:*:commands", subscription=hub, timeout="3s",
                                          **{"message.payload.action": "stop_session"})
    assert got["channel"] == "pod:api-1:commands" and got["json"]["agentId"] == "docker-local"
    got = kit.wait_until_message_received("pod:api-2:commands", text="start_session", subscription=hub,
                                          agentId="k8s-local", timeout="3s")
    assert got["pattern"] == "pod:*:commands"
    assert kit.get_received_message_count("pod:*:commands", EQ, 2, subscription=hub, timeout="2s") == 2
    assert kit.get_received_message_count("pod:*:commands", EQ, 1, subscription=hub,
                                          fields={"message.payload.action": "start_session"}) == 1
    assert kit.get_received_message_count(subscription=plain, timeout="2s",
                                          assertion_operator=EQ, assertion_expected=1) == 1
    messages = kit.get_received_messages(subscription=hub, agentId="k8s-local")
    assert [m["channel"] for m in messages] == ["pod:api-2:commands"]
    with pytest.raises(WaitTimeout) as error:
        kit.wait_until_message_received("pod:*:commands", subscription=hub, timeout="0.3s",
                                        agentId="k8s-local")  # already returned once
    assert "2 messages, none matching" in str(error.value)
    kit.unsubscribe("one")
    with pytest.raises(KitError, match=r"No Redis subscription named 'one'.*open ones: hub"):
        kit.get_received_messages(subscription="one")
    assert raw.publish("pod:api-1:commands", "{}") == 1  # only the pattern subscription is left


def test_publish_dict_as_json_and_cleanup_stops_subscriptions(kit, raw):
    kit.subscribe_to_channels("events")
    kit.publish_message("events", {"type": "heartbeat", "n": 1})
    got = kit.wait_until_message_received("events", n="1", timeout="2s")
    assert got["json"] == {"type": "heartbeat", "n": 1}
    assert raw.pubsub_numsub("events") == [("events", 1)]
    kit.ctx.cleanup.run_all()
    assert raw.pubsub_numsub("events") == [("events", 0)]
    with pytest.raises(KitError, match="No Redis subscription is open"):
        kit.get_received_messages()


# -- server facts ----------------------------------------------------------------------------
def test_server_facts(kit):
    assert kit.get_redis_role() == "master"
    kit.get_redis_role(EQ, "master")
    assert kit.get_connected_clients_count(GE, 1) >= 1
    info = kit.get_redis_info("server")
    assert info["redis_version"].startswith("7")
    assert kit.get_redis_info("persistence", field="loading", assertion_operator=EQ, assertion_expected=0) == 0
    with pytest.raises(KitError, match="has no field 'nope'"):
        kit.get_redis_info("server", field="nope")
    ms = kit.measure_redis_ping_latency(count=5)
    assert 0 < ms < 100


# -- faults ------------------------------------------------------------------------------------
def test_pause_write_clients_and_unpause(kit, redis_server, raw):
    kit.connect_to_redis_server("127.0.0.1", redis_server.port, timeout="0.3s", alias="victim")
    kit.connect_to_redis_server("127.0.0.1", redis_server.port, timeout="2s", alias="chaos")
    k = key("pause")
    kit.pause_redis_clients("5s", mode="WRITE")
    kit.get_keys("*", alias="victim")  # reads still answer
    with pytest.raises(KitError, match="timed out"):
        kit.set_value(k, "x", alias="victim")
    start = time.monotonic()
    kit.unpause_redis_clients()
    assert time.monotonic() - start < 1.0
    kit.set_value(k, "y", alias="victim")
    raw.delete(k)


def test_pause_is_lifted_by_cleanup(kit, redis_server):
    kit.connect_to_redis_server("127.0.0.1", redis_server.port, timeout="2s", alias="chaos")
    kit.pause_redis_clients("0.5s", mode="ALL")
    assert any("client pause" in p for p in kit.ctx.cleanup.pending())
    kit.ctx.cleanup.run_all()
    assert kit.get_redis_role() == "master"
    with pytest.raises(KitError, match="Unknown pause mode"):
        kit.pause_redis_clients("1s", mode="READ")


def test_disconnect_clients_never_own_connection(kit, redis_server):
    victim = redis.Redis(redis_server.host, port=redis_server.port, client_name="victim-app", socket_timeout=2,
                         retry=Retry(NoBackoff(), 0))
    victim_id = victim.client_id()
    other = redis.Redis(redis_server.host, port=redis_server.port, client_name="bystander", socket_timeout=2,
                        retry=Retry(NoBackoff(), 0))
    other_id = other.client_id()
    try:
        assert kit.disconnect_redis_clients(name="victim-app") == 1
        assert victim.client_id() != victim_id  # its connection was closed: the client had to reconnect
        assert other.client_id() == other_id
        closed = kit.disconnect_redis_clients("normal")
        assert closed >= 1
        assert kit.get_redis_role() == "master"  # our own connection survived
        with pytest.raises(KitError, match="Unknown client type"):
            kit.disconnect_redis_clients("robots")
    finally:
        victim.close()
        other.close()


def test_fault_actions_refuse_targets_not_allow_listed(redis_server):
    lib = RedisKit(test_targets="10.9.9.*")
    lib.connect_to_redis_server("127.0.0.1", redis_server.port)
    try:
        with pytest.raises(TargetRefused, match="refused to pause the clients of Redis server"):
            lib.pause_redis_clients("1s")
        with pytest.raises(TargetRefused, match="REDISKIT_TEST_TARGETS"):
            lib.disconnect_redis_clients()
    finally:
        lib.close_all_redis_connections()


# -- TLS -----------------------------------------------------------------------------------------
def test_tls_connection_and_untrusted_certificate(tmp_path):
    server = RedisServer(tmp_path / "redis", name="rediskit-tls")
    try:
        server.start()
        cert, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key_file),
                        "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
        tls_port = free_port()
        admin = redis.Redis(server.host, port=server.port, socket_timeout=5)
        for name, value in (("tls-cert-file", cert), ("tls-key-file", key_file), ("tls-ca-cert-file", cert),
                            ("tls-auth-clients", "no"), ("tls-port", tls_port)):
            admin.config_set(name, str(value))
        admin.close()
        lib = RedisKit()
        lib.connect_to_redis_server("127.0.0.1", tls_port, tls=True, tls_ca_certs=str(cert))
        lib.set_value("over-tls", "yes")
        lib.connect_to_redis_server(url=f"rediss://127.0.0.1:{tls_port}/0", tls_ca_certs=str(cert), alias="url")
        assert lib.get_value_of_key("over-tls") == "yes"
        with pytest.raises(KitError) as error:
            lib.connect_to_redis_server("127.0.0.1", tls_port, tls=True, timeout="2s")
        assert "TLS certificate of Redis at" in str(error.value) and "tls_ca_certs=" in str(error.value)
        lib.close_all_redis_connections()
    finally:
        server.stop()
