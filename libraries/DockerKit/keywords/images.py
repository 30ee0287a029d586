"""Images: build locally from a context directory (never pulled), and check they exist."""

from __future__ import annotations

from pathlib import Path

import docker.errors
from robot.api import logger
from robot.api.deco import keyword

from DockerKit.context import DockerContext, parse_pairs
from kitcore import KitError, get_and_assert, to_seconds
from kitcore.assertions import AssertionOperator


class ImageKeywords:
    def __init__(self, ctx: DockerContext) -> None:
        self.ctx = ctx

    @keyword("Build Image", tags=["images"])
    def build_image(self, context: str, tag: str, dockerfile: str = "Dockerfile",
                    build_args: dict[str, str] | list[str] | str | None = None, timeout: str | float = "300s",
                    alias: str | None = None) -> str:
        """Build an image from the ``context`` directory and tag it; returns the tag.

        Base images are never pulled: ``FROM`` must name an image the engine already has (or
        ``scratch``). The image is kept (it is a cache, not a test object).

        Example:
        | Build Image | ${CURDIR}/images/agent | kit-agent:test |
        """
        handle = self.ctx.handle(alias)
        folder = Path(context)
        if not (folder / dockerfile).is_file():
            raise KitError(f"Cannot build image '{tag}'", f"{folder / dockerfile} does not exist",
                           "give the folder that holds the Dockerfile as context=")
        api = handle.client.api
        saved, api.timeout = api.timeout, max(1, int(to_seconds(timeout, 300.0)))
        try:
            with self.ctx.call(handle, f"Building image '{tag}'", "image", tag):
                try:
                    image, _log = handle.client.images.build(
                        path=str(folder), tag=tag, dockerfile=dockerfile, pull=False, rm=True, forcerm=True,
                        buildargs=parse_pairs(build_args, "build_args"))
                except docker.errors.BuildError as error:
                    lines = [str(c.get("stream") or c.get("error") or "").strip() for c in error.build_log]
                    tail = "\n  ".join([line for line in lines if line][-10:])
                    raise KitError(f"Building image '{tag}' failed", f"{error.msg}; last lines:\n  {tail}",
                                   "fix the Dockerfile; base images must exist locally (nothing is pulled)") from None
        finally:
            api.timeout = saved
        logger.info(f"Built {tag} ({image.short_id}, {int(image.attrs.get('Size', 0)) / 1e6:.1f} MB)")
        return tag

    @keyword("Image Should Exist", tags=["images", "assertion"])
    def image_should_exist(self, image: str, timeout: str | float | None = None, alias: str | None = None) -> None:
        """Fail unless the engine has the image (retrying until ``timeout``).

        Example:
        | Image Should Exist | kit-agent:test |
        """
        handle = self.ctx.handle(alias)

        def exists() -> bool:
            return self.ctx.exists(handle, "image", image, handle.client.images.get)

        get_and_assert(exists, AssertionOperator["=="], True, f"Image '{image}' exists", timeout)
