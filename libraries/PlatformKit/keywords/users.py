"""Users and their quotas (admin routes)."""

from __future__ import annotations

from typing import Any

from robot.api.types import Secret
from robotlibcore import keyword

from kitcore import Check, KitError, SecretLike, getter, new_password, reveal
from PlatformKit.context import PlatformContext, expect


class UserKeywords:
    def __init__(self, ctx: PlatformContext) -> None:
        self.ctx = ctx

    @keyword("Create User", tags=["users"])
    def create_user(
        self,
        username: str,
        password: SecretLike,
        role: str = "user",
        email: str | None = None,
        full_name: str | None = None,
        exists_ok: bool = False,
        replica: Any = None,
        expect_status: str | None = None,
        as_user: str | None = None,
        alias: str | None = None,
    ) -> dict[str, Any]:
        """Create a user (the acting user must be an admin); returns the user object.

        With ``exists_ok=True`` an existing user of that name (409) is returned instead. The password
        must meet the platform's rule (`Generate Password` makes one that does).

        Example:
        | Create User | carol | ${PASSWORD} | role=user | exists_ok=True |
        """
        platform = self.ctx.platform(alias)
        body = {
            "username": username,
            "email": email or f"{username}@example.test",
            "fullName": full_name or username.capitalize(),
            "password": reveal(password),
            "role": role,
        }
        response = platform.call("POST", "/api/v1/users", replica=replica, user=as_user, json_body=body)
        if expect_status is None and exists_ok and response.status == 409:
            return self.get_user(username, replica=replica, as_user=as_user, alias=alias)
        return expect(response, (200, 201), f"Create user '{username}'", expect_status)

    @keyword("Generate Password", tags=["users"])
    def generate_password(self, length: int = 20) -> Secret:
        """A fresh random password, as a ``Secret``, that password rules accept: upper- and lower-case
        letters, a digit and a special character (``!@#%^*()_+-=[]{}:,.?``), ``length`` characters.

        Example:
        | ${password} = | Generate Password |
        | Create User | carol | ${password} |
        """
        return Secret(new_password(int(length)))

    @keyword("Get Users", tags=["users"])
    def get_users(self, replica: Any = None, as_user: str | None = None, alias: str | None = None) -> list[dict]:
        """All users (admin only).

        Example:
        | ${users} = | Get Users |
        """
        return self.ctx.read_list("/api/v1/users", "users", "List users", replica, as_user, alias)

    @keyword("Get User", tags=["users"])
    def get_user(
        self, username: str, replica: Any = None, as_user: str | None = None, alias: str | None = None
    ) -> dict[str, Any]:
        """The user object of ``username``.

        Example:
        | ${user} = | Get User | alice |
        """
        users = self.get_users(replica=replica, as_user=as_user, alias=alias)
        for user in users:
            if user.get("username") == username or user.get("id") == username:
                return user
        raise KitError(
            f"No user '{username}' on the platform",
            cause=f"users: {', '.join(str(u.get('username')) for u in users) or 'none'}",
            fix="create the user first with 'Create User'",
        )

    def _user_id(self, user: str, replica: Any, as_user: str | None, alias: str | None) -> str:
        return str(self.get_user(user, replica=replica, as_user=as_user, alias=alias)["id"])

    @keyword("Set User Quota", tags=["users", "quota"])
    def set_user_quota(
        self,
        user: str,
        max_sessions: int | None = None,
        max_cpu: str | None = None,
        max_memory: str | None = None,
        replica: Any = None,
        as_user: str | None = None,
        alias: str | None = None,
    ) -> dict[str, Any]:
        """Set the quota of ``user`` (name or id); only the given limits change. Returns the quota.

        Example:
        | Set User Quota | bob | max_sessions=2 | max_cpu=2000m | max_memory=4Gi |
        """
        body: dict[str, Any] = {}
        if max_sessions is not None:
            body["maxSessions"] = int(max_sessions)
        if max_cpu is not None:
            body["maxCpu"] = str(max_cpu)
        if max_memory is not None:
            body["maxMemory"] = str(max_memory)
        if not body:
            raise KitError("No limit given to 'Set User Quota'", fix="pass max_sessions=, max_cpu= or max_memory=")
        user_id = self._user_id(user, replica, as_user, alias)
        response = self.ctx.platform(alias).call(
            "PUT", f"/api/v1/users/{user_id}/quota", replica=replica, user=as_user, json_body=body
        )
        return expect(response, (200,), f"Set the quota of '{user}'")

    @keyword("Get Quota For Sessions At Once", tags=["users", "quota"])
    def get_quota_for_sessions_at_once(self, *counts: int) -> int:
        """The ``max_sessions`` quota one user needs to run all these sessions at once: one session of
        quota for each, whatever platform they run on (e.g. ``counts`` of Kubernetes and of Docker sessions).

        Example:
        | ${quota} = | Get Quota For Sessions At Once | ${kubernetes} | ${docker} |
        | Set User Quota | ${user} | max_sessions=${quota} |
        """
        negative = [count for count in counts if int(count) < 0]
        if negative:
            raise KitError(f"Cannot work out a session quota for {negative[0]} sessions",
                           fix="give how many sessions of each kind, 0 or more")
        return sum(int(count) for count in counts)

    @keyword("Get User Quota", tags=["users", "quota", "assertion"])
    @getter
    def get_user_quota(
        self,
        user: str,
        *,
        check: Check,
        field: str | None = None,
        replica: Any = None,
        as_user: str | None = None,
        alias: str | None = None,
    ) -> Any:
        """The quota of ``user`` (a dict), or one of its fields (``maxSessions``...) when ``field`` is given;
        can assert.

        Example:
        | Get User Quota | bob | == | ${2} | field=maxSessions |
        """
        user_id = self._user_id(user, replica, as_user, alias)

        def read() -> Any:
            quota = self.ctx.read(f"/api/v1/users/{user_id}/quota", f"Get the quota of '{user}'", replica, as_user,
                                  alias)
            return quota.get(field) if field and isinstance(quota, dict) else quota

        return check(read, f"Quota {field} of {user}" if field else f"Quota of {user}")
