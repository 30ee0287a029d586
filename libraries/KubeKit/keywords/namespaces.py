"""Namespaces: a fresh one per test (removed at the end), deletion, existence checks."""

from __future__ import annotations

import secrets

from robot.api import logger
from robotlibcore import keyword

from kitcore import KitError, Wait, WaitTimeout, to_seconds
from KubeKit.connection import KubeError
from KubeKit.context import KubeContext, object_key
from KubeKit.watching import ListWatch

MANAGED_BY = {"app.kubernetes.io/managed-by": "KubeKit"}


class NamespaceKeywords:
    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    @keyword("Create Test Namespace", tags=["namespaces"])
    def create_test_namespace(
        self,
        name: str | None = None,
        prefix: str = "kit-",
        labels: dict[str, str] | None = None,
        alias: str | None = None,
    ) -> str:
        """Create a fresh namespace and return its name; it is deleted at the end of the test
        (or of the suite, when created in a suite setup).

        Without ``name``, the name is ``prefix`` plus 6 random hex digits. The namespace must be
        allow-listed (``test_namespaces``), since its removal is a delete. A namespace that exists
        already is never taken over: the keyword fails instead.

        Example:
        | ${ns} = | Create Test Namespace |
        | Create Test Namespace | kit-leases | labels={"team": "qa"} |
        """
        conn = self.ctx.conn(alias)
        name = name or f"{prefix}{secrets.token_hex(3)}"
        self.ctx.check(conn, "create (and later delete) a test namespace", name)
        body = {"metadata": {"name": name, "labels": {**MANAGED_BY, **(labels or {})}}}
        try:
            conn.call(f"Create namespace '{name}'", conn.core.create_namespace, body)
        except KubeError as error:
            if error.status == 409:
                raise KitError(f"Cannot create test namespace '{name}'", cause="it exists already",
                               fix="leave the name out to get a fresh one, or delete the old namespace "
                               "first") from None
            raise
        self.ctx.register_delete(conn, f"namespace {name}", object_key(conn, "Namespace", None, name),
                                 lambda: conn.core.delete_namespace(name, _request_timeout=conn.timeout))
        logger.info(f"Created test namespace {name} (removed at the end of the test)")
        return name

    @keyword("Delete Namespace", tags=["namespaces", "destructive"])
    def delete_namespace(self, name: str, wait: bool = True, timeout: str = "60s", alias: str | None = None) -> None:
        """Delete a namespace and everything in it; with ``wait`` (default) wait until it is gone.

        Refused unless the namespace (and the connection's context) is allow-listed.

        Example:
        | Delete Namespace | kit-leases | timeout=2 min |
        """
        conn = self.ctx.conn(alias)
        self.ctx.check(conn, "delete the namespace", name)
        conn.call(f"Delete namespace '{name}'", conn.core.delete_namespace, name)
        self.ctx.forget(object_key(conn, "Namespace", None, name))
        if wait:
            watcher = ListWatch(conn, conn.core.list_namespace, field_selector=f"metadata.name={name}")
            watcher.until(f"Namespace '{name}' to be gone",
                          lambda state: True if name not in state else None,
                          lambda state: f"still there, phase {state[name].get('status', {}).get('phase')}",
                          to_seconds(timeout))

    @keyword("Namespace Should Exist", tags=["namespaces", "assertion"])
    def namespace_should_exist(self, name: str, timeout: str = "0s", alias: str | None = None) -> None:
        """Fail unless the namespace exists (retrying for ``timeout``).

        Example:
        | Namespace Should Exist | streamspace | timeout=10s |
        """
        self._expect(name, True, timeout, alias)

    @keyword("Namespace Should Not Exist", tags=["namespaces", "assertion"])
    def namespace_should_not_exist(self, name: str, timeout: str = "0s", alias: str | None = None) -> None:
        """Fail while the namespace exists (retrying for ``timeout``).

        Example:
        | Namespace Should Not Exist | ${old_namespace} | timeout=30s |
        """
        self._expect(name, False, timeout, alias)

    def _expect(self, name: str, present: bool, timeout: str, alias: str | None) -> None:
        conn = self.ctx.conn(alias)

        def exists() -> bool:
            try:
                conn.call(f"Read namespace '{name}'", conn.core.read_namespace, name)
            except KubeError as error:
                if error.status == 404:
                    return False
                raise
            return True

        wanted = "exist" if present else "not exist"
        try:
            Wait(f"Namespace '{name}' should {wanted}", to_seconds(timeout, 0.0), 0.2).until(
                exists, accept=lambda found: found == present,
                describe=lambda found: "it exists" if found else "it does not exist")
        except WaitTimeout as error:
            raise KitError(f"Namespace '{name}' should {wanted}", cause=error.cause,
                           fix="check the name and the connection's cluster (Get Kubernetes Version)") from None
