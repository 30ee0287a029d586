"""Session templates (the catalog)."""

from __future__ import annotations

from typing import Any

from robotlibcore import keyword

from kitcore import AssertionOperator, assert_value
from PlatformKit.context import PlatformContext, expect


class TemplateKeywords:
    def __init__(self, ctx: PlatformContext) -> None:
        self.ctx = ctx

    @keyword("Get Templates", tags=["templates"])
    def get_templates(
        self, platform: str | None = None, replica: Any = None, as_user: str | None = None, alias: str | None = None
    ) -> list[dict[str, Any]]:
        """The templates of the catalog; with ``platform``, only those for that platform (or for any).

        Example:
        | ${templates} = | Get Templates | platform=docker |
        """
        response = self.ctx.platform(alias).call("GET", "/api/v1/templates", replica=replica, user=as_user)
        body = expect(response, (200,), "List templates")
        templates = list(body.get("templates", [])) if isinstance(body, dict) else []
        if platform:
            templates = [t for t in templates if t.get("platform") in (None, "", platform)]
        return templates

    @keyword("Get Template Names", tags=["templates", "assertion"])
    def get_template_names(
        self,
        assertion_operator: AssertionOperator | None = None,
        expected: Any = None,
        platform: str | None = None,
        replica: Any = None,
        as_user: str | None = None,
        alias: str | None = None,
    ) -> list[str]:
        """The sorted template names; can assert, e.g. ``contains  firefox``.

        Example:
        | Get Template Names | contains | firefox |
        """
        names = sorted(str(t.get("name")) for t in self.get_templates(platform, replica, as_user, alias))
        return assert_value(names, assertion_operator, expected, "Template names")

    @keyword("Get Template", tags=["templates"])
    def get_template(
        self, name: str, replica: Any = None, as_user: str | None = None, alias: str | None = None
    ) -> dict[str, Any]:
        """One template with its manifest (``manifest.spec.vnc``, ``manifest.spec.defaultResources``...).

        Example:
        | ${template} = | Get Template | firefox |
        """
        response = self.ctx.platform(alias).call("GET", f"/api/v1/templates/{name}", replica=replica, user=as_user)
        return expect(response, (200,), f"Get template '{name}'")
