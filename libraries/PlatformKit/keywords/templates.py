"""Session templates (the catalog)."""

from __future__ import annotations

from typing import Any

from robotlibcore import keyword

from kitcore import AssertionOperator, assert_value
from PlatformKit.context import PlatformContext, sorted_values


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
        templates = self.ctx.read_list("/api/v1/templates", "templates", "List templates", replica, as_user, alias)
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
        names = sorted_values(self.get_templates(platform, replica, as_user, alias), "name")
        return assert_value(names, assertion_operator, expected, "Template names")

    @keyword("Get Template", tags=["templates"])
    def get_template(
        self, name: str, replica: Any = None, as_user: str | None = None, alias: str | None = None
    ) -> dict[str, Any]:
        """One template with its manifest (``manifest.spec.vnc``, ``manifest.spec.defaultResources``...).

        Example:
        | ${template} = | Get Template | firefox |
        """
        return self.ctx.read(f"/api/v1/templates/{name}", f"Get template '{name}'", replica, as_user, alias)
