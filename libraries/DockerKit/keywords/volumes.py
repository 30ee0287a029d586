"""Volumes: create, remove, existence, listing, and file writes/reads through a helper container."""

from __future__ import annotations

import posixpath

from robot.api import logger
from robot.api.deco import keyword

from DockerKit.context import DockerContext, EngineHandle, parse_pairs
from DockerKit.helper_image import ensure_busybox_image
from kitcore import AssertionOperator, Check, KitError, Wait, get_and_assert, getter, to_seconds

MOUNT = "/kit-volume"


def name_prefixes(starting_with: list[str] | str | None) -> tuple[str, ...] | None:
    """The name beginnings a listing keeps (one text or a list of them); None keeps every name."""
    if starting_with is None:
        return None
    if isinstance(starting_with, str):
        return (starting_with,)
    return tuple(str(p) for p in starting_with)


class VolumeKeywords:
    def __init__(self, ctx: DockerContext) -> None:
        self.ctx = ctx

    # -- helpers ------------------------------------------------------------------------------------
    def _exists(self, handle: EngineHandle, name: str) -> bool:
        return self.ctx.exists(handle, "volume", name, handle.client.volumes.get)

    def _helper_image(self, handle: EngineHandle) -> str:
        if not handle.helper_image:
            try:
                handle.helper_image = ensure_busybox_image(handle.client)
            except KitError as error:
                raise KitError("No helper image for volume files", str(error),
                               "import DockerKit with helper_image=<a local image with sh and cat>") from None
        return handle.helper_image

    def _in_volume(self, volume: str, path: str) -> str:
        clean = posixpath.normpath("/" + path.lstrip("/"))
        if clean == "/":
            raise KitError(f"Bad file path '{path}' in volume '{volume}'", fix="give a file path like data/file.txt")
        return MOUNT + clean

    def _helper(self, handle: EngineHandle, volume: str, script: str, env: dict[str, str], timeout: float,
                read_only: bool) -> tuple[int, str]:
        if not self._exists(handle, volume):
            raise KitError(f"Volume '{volume}' does not exist", f"not on the engine at {handle.url}",
                           "create it with 'Create Volume' first")
        image = self._helper_image(handle)
        with self.ctx.call(handle, f"Running a helper container on volume '{volume}'", "volume", volume):
            container = handle.client.containers.create(
                image, ["sh", "-c", script], environment=env, labels=self.ctx.kit_labels, network_mode="none",
                volumes={volume: {"bind": MOUNT, "mode": "ro" if read_only else "rw"}})
            try:
                container.start()
                Wait(f"helper container on volume '{volume}' to finish", timeout, 0.1).until(
                    lambda: (container.reload(), container.status)[1], lambda s: s in ("exited", "dead"),
                    describe=lambda s: f"state {s}")
                rc = int(container.attrs.get("State", {}).get("ExitCode", -1))
                output = container.logs().decode("utf-8", errors="replace")
            finally:
                container.remove(force=True)
        return rc, output

    # -- keywords -----------------------------------------------------------------------------------
    @keyword("Create Volume", tags=["volumes"])
    def create_volume(self, name: str | None = None, labels: dict[str, str] | list[str] | str | None = None,
                      alias: str | None = None) -> str:
        """Create a named volume; returns its name. Removed at the end of the test or suite.

        Example:
        | ${volume} = | Create Volume | labels=app=streamspace |
        """
        handle = self.ctx.handle(alias)
        name = name or self.ctx.new_name("vol")
        with self.ctx.call(handle, f"Creating volume '{name}'", "volume", name):
            handle.client.volumes.create(name, labels={**parse_pairs(labels, "labels"), **self.ctx.kit_labels})
        self.ctx.register_removal(handle, "volume", name, f"volume:{name}")
        logger.info(f"Created volume {name}")
        return name

    @keyword("Remove Volume", tags=["volumes", "destructive"])
    def remove_volume(self, name: str, alias: str | None = None) -> None:
        """Remove a volume (and its data). Refused unless it carries an allow-listed test label.

        Example:
        | Remove Volume | ${volume} |
        """
        handle = self.ctx.handle(alias)
        volume = self.ctx.volume(handle, name)
        self.ctx.guard.check("remove", "volume", name, volume.attrs.get("Labels") or {})
        with self.ctx.call(handle, f"Removing volume '{name}'", "volume", name):
            volume.remove(force=True)
        self.ctx.cleanup.forget(f"volume:{name}")

    @keyword("Volume Should Exist", tags=["volumes", "assertion"])
    def volume_should_exist(self, name: str, timeout: str | float | None = None, alias: str | None = None) -> None:
        """Fail unless the volume exists (retrying until ``timeout``).

        Example:
        | Volume Should Exist | ${volume} |
        """
        handle = self.ctx.handle(alias)
        get_and_assert(lambda: self._exists(handle, name), AssertionOperator["=="], True,
                       f"Volume '{name}' exists", timeout)

    @keyword("Volume Should Not Exist", tags=["volumes", "assertion"])
    def volume_should_not_exist(self, name: str, timeout: str | float | None = None,
                                alias: str | None = None) -> None:
        """Fail if the volume exists (retrying until ``timeout``), e.g. after a session was deleted.

        Example:
        | Volume Should Not Exist | ${volume} | timeout=10s |
        """
        handle = self.ctx.handle(alias)
        get_and_assert(lambda: self._exists(handle, name), AssertionOperator["=="], False,
                       f"Volume '{name}' exists", timeout)

    @keyword("Get Volumes", tags=["volumes", "getter"])
    @getter
    def get_volumes(self, label: str | None = None, *, check: Check, starting_with: list[str] | str | None = None,
                    alias: str | None = None) -> list[str]:
        """Names of the volumes carrying ``label`` (``key`` or ``key=value``) and, with ``starting_with``,
        whose name starts with one of those texts (none when the list is empty), sorted; can assert them.

        Example:
        | Get Volumes | app=streamspace | contains | ${volume} |
        | Get Volumes | ${None} | == | ${NOTHING} | starting_with=${prefixes} | timeout=10s |
        """
        handle = self.ctx.handle(alias)
        key, _, value = (label or "").partition("=")
        prefixes = name_prefixes(starting_with)

        def read() -> list[str]:
            with self.ctx.call(handle, "Listing volumes"):
                found = handle.client.volumes.list(filters={"label": label} if value else {})
            names = sorted(v.name for v in found if not key or key in (v.attrs.get("Labels") or {}))
            return [n for n in names if prefixes is None or n.startswith(prefixes)]

        where = "" if prefixes is None else f" starting with {' or '.join(prefixes) or '(nothing given)'}"
        return check(read, f"Volumes labelled {label or '(any)'}{where}")

    @keyword("Write File To Volume", tags=["volumes"])
    def write_file_to_volume(self, volume: str, path: str, content: str, timeout: str | float = "30s",
                             alias: str | None = None) -> None:
        """Write ``content`` (text) to ``path`` inside the volume, through a short-lived helper container.

        Example:
        | Write File To Volume | ${volume} | proof/marker.txt | written before the restart |
        """
        handle = self.ctx.handle(alias)
        target = self._in_volume(volume, path)
        script = 'mkdir -p "$(dirname "$KIT_PATH")" && printf "%s" "$KIT_CONTENT" > "$KIT_PATH"'
        rc, output = self._helper(handle, volume, script, {"KIT_PATH": target, "KIT_CONTENT": content},
                                  to_seconds(timeout, 30.0), read_only=False)
        if rc != 0:
            raise KitError(f"Writing '{path}' to volume '{volume}' failed", f"exit code {rc}: {output.strip()}",
                           "check the path and that the volume is writable")

    @keyword("Read File From Volume", tags=["volumes", "getter"])
    @getter
    def read_file_from_volume(self, volume: str, path: str, *, check: Check, strip: bool = False,
                              helper_timeout: str | float = "30s", alias: str | None = None) -> str:
        """The text of ``path`` inside the volume (read by a helper container); can assert it (with
        ``timeout=``, reading again until it holds). ``strip=True`` leaves out the white space around the
        text (e.g. the newline ``echo`` writes). ``helper_timeout`` bounds each read by the helper container.

        Example:
        | Read File From Volume | ${volume} | proof/marker.txt | == | written before the restart |
        | Read File From Volume | ${volume} | kit-marker.txt | == | ${text} | strip=${True} |
        """
        handle = self.ctx.handle(alias)
        target = self._in_volume(volume, path)

        def read() -> str:
            rc, output = self._helper(handle, volume, 'cat "$KIT_PATH"', {"KIT_PATH": target},
                                      to_seconds(helper_timeout, 30.0), read_only=True)
            if rc != 0:
                raise KitError(f"Reading '{path}' from volume '{volume}' failed", output.strip() or f"exit code {rc}",
                               "check the path: write it first with 'Write File To Volume'")
            return output.strip() if strip else output

        return check(read, f"File '{path}' in volume '{volume}'")
