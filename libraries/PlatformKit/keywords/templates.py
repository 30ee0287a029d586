"""Session templates (the catalog)."""

from __future__ import annotations

from typing import Any

from robotlibcore import keyword

from kitcore import Check, KitError, getter
from PlatformKit.conformance import session_problems, template_problems
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
    @getter
    def get_template_names(
        self,
        *,
        check: Check,
        platform: str | None = None,
        replica: Any = None,
        as_user: str | None = None,
        alias: str | None = None,
    ) -> list[str]:
        """The sorted template names; can assert, e.g. ``contains  firefox``.

        Example:
        | Get Template Names | contains | firefox |
        """
        return check(lambda: sorted_values(self.get_templates(platform, replica, as_user, alias), "name"),
                     "Template names")

    @keyword("Get Template", tags=["templates"])
    def get_template(
        self, name: str, replica: Any = None, as_user: str | None = None, alias: str | None = None
    ) -> dict[str, Any]:
        """One template with its manifest (``manifest.spec.vnc``, ``manifest.spec.defaultResources``...).

        Example:
        | ${template} = | Get Template | firefox |
        """
        return self.ctx.read(f"/api/v1/templates/{name}", f"Get template '{name}'", replica, as_user, alias)

    @keyword("Template Should Offer VNC", tags=["templates", "assertion"])
    def template_should_offer_vnc(self, name: str, replica: Any = None, as_user: str | None = None,
                                  alias: str | None = None) -> dict[str, Any]:
        """The template has every field the contract requires of a VNC desktop; returns it.

        ``id``, ``name``, ``display_name``, ``category``, and in ``manifest.spec``: ``baseImage``,
        ``vnc.enabled`` true, ``vnc.port``, a port named ``vnc`` on that port, ``defaultResources``
        memory and cpu. Fails naming every field that is missing or wrong.

        Example:
        | Template Should Offer VNC | desktop-docker |
        """
        template = self.get_template(name, replica, as_user, alias)
        problems = template_problems(template)
        if problems:
            raise KitError(f"Template '{name}' does not offer VNC as the contract requires",
                           "; ".join(problems), "give the template every field the agents and viewers read")
        return template

    @keyword("Session Should Offer VNC Of Its Template", tags=["sessions", "templates", "assertion"])
    def session_should_offer_vnc_of_its_template(self, session: dict[str, Any], template: dict[str, Any],
                                                 platform: str) -> None:
        """The session object (from `Get Session`) has every field the contract requires and streams
        VNC on its template's VNC port: ``name, user, template, state, platform, createdAt,
        persistentHome, resources.memory, resources.cpu``, ``streamingProtocol`` ``vnc``,
        ``streamingPort`` = the template's ``manifest.spec.vnc.port``, ``status.phase`` = ``state``
        capitalised, on ``platform``. Fails naming every field that is missing or wrong.

        Example:
        | ${template} = | Template Should Offer VNC | desktop-docker |
        | ${session} = | Get Session | ${name} |
        | Session Should Offer VNC Of Its Template | ${session} | ${template} | docker |
        """
        problems = session_problems(session, template, platform)
        if problems:
            raise KitError(f"Session '{session.get('name')}' of template '{template.get('name')}' does not offer "
                           "VNC as the contract requires", "; ".join(problems),
                           "give the session every field a viewer reads")
