"""The helper image DockerKit runs to read and write files in volumes: ``FROM scratch`` plus the
machine's static busybox (Debian's ``busybox-static``), about 2 MB, built in about a second.

Nothing is pulled: the build context is made in memory and the engine builds it locally. The
tag is a hash of the Dockerfile and the binary, so an engine that has the image already reuses it
and a changed busybox builds a new one. Two runs building at once build the same tag twice, which
is harmless.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from kitcore import KitError

if TYPE_CHECKING:
    import docker

IMAGE_LABEL = "streamspace.kit/image"
BUSYBOX_REPO = "streamspace-kit/busybox"
BUSYBOX_BINARY = Path("/bin/busybox")
BUSYBOX_FIX = "run './kit setup' (it installs Debian's busybox-static), or 'apt-get install -y busybox-static'"
BUSYBOX_DOCKERFILE = f"""\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
LABEL {IMAGE_LABEL}=busybox
CMD ["/bin/sh"]
"""


def input_hash(*parts: str | bytes) -> str:
    """A short hash of build inputs (lengths included, so ``("ab", "")`` differs from ``("a", "b")``)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:16]


def is_static_elf(data: bytes) -> bool:
    """True for a 64-bit ELF executable without a program interpreter (statically linked)."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    endian = "<" if data[5] == 1 else ">"
    phoff, = struct.unpack_from(endian + "Q", data, 0x20)
    phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x36)
    for index in range(phnum):
        p_type, = struct.unpack_from(endian + "I", data, phoff + index * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def busybox_binary(path: Path = BUSYBOX_BINARY) -> bytes:
    """The bytes of a static busybox, or a KitError naming what is wrong and the package to install."""
    if not path.exists():
        raise KitError("The busybox image cannot be built", f"{path} does not exist", BUSYBOX_FIX)
    data = path.read_bytes()
    if not is_static_elf(data):
        raise KitError("The busybox image cannot be built",
                       f"{path} is not a statically linked 64-bit busybox (the 'busybox' package is installed "
                       "instead of 'busybox-static')", BUSYBOX_FIX)
    return data


def busybox_tag(binary: bytes) -> str:
    return f"{BUSYBOX_REPO}:{input_hash(BUSYBOX_DOCKERFILE, binary)}"


def busybox_context(binary: bytes) -> io.BytesIO:
    """The build context as a tar archive in memory: the Dockerfile and the binary."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, mode in (("Dockerfile", BUSYBOX_DOCKERFILE.encode(), 0o644), ("busybox", binary, 0o755)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    import docker.errors

    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def build_busybox_image(client: docker.DockerClient, binary: bytes, tag: str) -> None:
    import docker.errors

    try:
        client.images.build(fileobj=busybox_context(binary), custom_context=True, tag=tag, pull=False, rm=True,
                            forcerm=True)
    except docker.errors.BuildError as error:
        lines = [str(c.get("stream") or c.get("error") or "").strip() for c in error.build_log]
        tail = "\n  ".join([line for line in lines if line][-8:])
        raise KitError(f"Building image {tag} failed", f"{error.msg}; last build lines:\n  {tail}",
                       "read the lines above; the engine must be able to build FROM scratch") from None
    except docker.errors.APIError as error:
        raise KitError(f"Building image {tag} failed", f"the engine refused: {error.explanation or error}",
                       "check that the engine answers and can build images") from None


def ensure_busybox_image(client: docker.DockerClient) -> str:
    """The tag of the busybox helper image, built now if the engine does not have it yet."""
    binary = busybox_binary()
    tag = busybox_tag(binary)
    if not image_exists(client, tag):
        build_busybox_image(client, binary, tag)
    return tag
