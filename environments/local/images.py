"""Images the kit builds locally (nothing is ever pulled: no registry needs to be reachable).

- ``ensure_busybox_image``: ``FROM scratch`` + Debian's static busybox (~2 MB, built in ~1 s); for
  fast container tests (``sleep``, ``sh``, ``dd``, a CPU burner loop).
- ``ensure_session_image``: the StreamSpace session image: a minimal Debian rootfs made with
  ``mmdebstrap`` from the machine's own apt mirror, plus TigerVNC, python3-xlib, the keyboard
  display program and ``session/entrypoint.sh`` (VNC on port 5900).

Tags are a hash of the build inputs: a changed input builds a new image, an unchanged one is
reused from the engine's storage (a warm machine skips the build in milliseconds). Both functions
hold a file lock while they build, so concurrent runs build once.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from DockerKit import helper_image
from DockerKit.helper_image import (
    BUSYBOX_BINARY,
    BUSYBOX_DOCKERFILE,
    IMAGE_LABEL,
    busybox_tag,
    image_exists,
    input_hash,
)
from environments.local import reaper
from environments.local.procs import BackendError, cache_root, file_lock
from kitcore import KitError

if TYPE_CHECKING:
    import docker

HERE = Path(__file__).resolve().parent
SESSION_DIR = HERE / "session"
T = TypeVar("T")
ROOTFS_REPO = "streamspace-kit/session-rootfs"
SESSION_REPO = "streamspace-kit/session"
SUITE = "bookworm"
SESSION_PACKAGES = ("tigervnc-standalone-server", "tigervnc-tools", "python3-minimal", "python3-xlib")
# no recommends; no docs; no GL drivers (Xvnc runs without them; they are 160 MB)
MMDEBSTRAP_OPTIONS = (
    "--variant=minbase",
    "--aptopt=APT::Install-Recommends \"false\"",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/lib/*/dri/*",
    "--dpkgopt=path-exclude=/usr/lib/*/libLLVM*",
    "--dpkgopt=path-exclude=/usr/lib/*/libz3*",
)
APT_SOURCES = (Path("/etc/apt/sources.list.d"), Path("/etc/apt/sources.list"))

SESSION_DOCKERFILE = f"""\
FROM {{base}}
COPY keyboard_display.py entrypoint.sh /opt/streamspace/
RUN chmod 0755 /opt/streamspace/entrypoint.sh
ENV VNC_GEOMETRY=1024x768
EXPOSE 5900
STOPSIGNAL SIGTERM
LABEL {IMAGE_LABEL}=session
CMD ["/opt/streamspace/entrypoint.sh"]
"""

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# -- locking and hashing -------------------------------------------------------------------------
def lock_file() -> Path:
    """The images' build lock: in the kit's cache, beside what it caches, shared by every run of the machine (in
    the temp folder, a run with a temp folder of its own had a lock of its own, left behind)."""
    return cache_root() / "images.lock"


def build_lock(timeout: float = 900.0, path: Path | None = None,
               abort: int | None = None) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock shared by every process on the machine that builds the kit's images; a wait for it
    ends at once when ``abort`` becomes readable."""
    return file_lock(path or lock_file(), timeout, "Image build lock",
                     "another run is building images; wait for it, or stop it", abort)


def _abortable(call: Callable[[], T], abort: int | None, what: str) -> T:
    """``call()``, or a :class:`BackendError` at once when ``abort`` becomes readable first (woken by either, no
    timer): the call goes on in a daemon thread until what it waits on is stopped (the run stops it next)."""
    if abort is None:
        return call()
    outcome: dict[str, object] = {}
    done_read, done_write = os.pipe()

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 - raised in the caller's thread below
            outcome["error"] = error
        finally:
            with contextlib.suppress(OSError):  # the caller stopped waiting: nobody reads
                os.write(done_write, b"x")
            os.close(done_write)

    threading.Thread(target=run, name="kit-image-step", daemon=True).start()
    try:
        ready, _, _ = select.select([done_read, abort], [], [])
    finally:
        os.close(done_read)
    if done_read not in ready:
        raise BackendError(f"{what} was stopped", "a stop was asked while it ran")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def _build(client: docker.DockerClient, context: Path, tag: str, timeout: float | None = None,
           maker: str = "environments/local/images.py", network: str | None = None, abort: int | None = None) -> None:
    import docker.errors

    def build() -> None:
        client.images.build(path=str(context), tag=tag, pull=False, rm=True, forcerm=True, timeout=timeout,
                            network_mode=network)

    try:
        _abortable(build, abort, f"Building image {tag}")
    except docker.errors.BuildError as error:
        lines = [str(c.get("stream") or c.get("error") or "").strip() for c in error.build_log]
        tail = "\n  ".join([line for line in lines if line][-8:])
        raise BackendError(f"Building image {tag} failed", f"{error.msg}; last build lines:\n  {tail}",
                           f"read the lines above; the build context is made by {maker}") from None


def ensure_image(client: docker.DockerClient, tag: str, fill: Callable[[Path], None], progress: Progress = _quiet,
                 timeout: float = 900.0, rootfs: tuple[str, tuple[str, ...]] | None = None, image: str = "session",
                 build_timeout: float | None = None, maker: str = "environments/local/images.py",
                 after: Callable[[], None] | None = None, network: str | None = None,
                 abort: int | None = None) -> bool:
    """Build ``tag`` unless the engine has it; returns whether it built.

    Under the machine-wide build lock: the Debian root file system ``rootfs`` (its tag and
    packages) first when given and missing, then the context that ``fill`` writes into a fresh
    folder (a Dockerfile and what it copies), then ``after`` (e.g. pruning older tags). ``network``:
    the network mode of the ``RUN`` steps (``none`` for steps that need none; default: the engine's).
    When ``abort`` (a descriptor) becomes readable, a wait for the lock, mmdebstrap or a build ends at once
    with a :class:`BackendError` (mmdebstrap is stopped; a build goes with the engine, which its run stops).
    """
    if image_exists(client, tag):
        return False
    with build_lock(timeout, abort=abort):
        if image_exists(client, tag):
            return False
        if rootfs is not None and not image_exists(client, rootfs[0]):
            make_rootfs(client, rootfs[0], rootfs[1], progress, timeout, image, abort)
        progress(f"building {tag}")
        with reaper.temp_dir(f"kit-{image}-") as tmp:
            fill(tmp)
            _build(client, tmp, tag, build_timeout, maker, network, abort)
        if after is not None:
            after()
    return True


# -- busybox ----------------------------------------------------------------------------------------
def busybox_binary(path: Path = BUSYBOX_BINARY) -> bytes:
    try:
        return helper_image.busybox_binary(path)
    except KitError as error:
        raise BackendError(error.what, error.cause, error.fix) from None


def ensure_busybox_image(client: docker.DockerClient, progress: Progress = _quiet) -> str:
    """The tag of the busybox test image (DockerKit's helper image), built now if this machine's
    engine does not have it yet."""
    binary = busybox_binary()
    tag = busybox_tag(binary)

    def fill(context: Path) -> None:
        (context / "Dockerfile").write_text(BUSYBOX_DOCKERFILE)
        (context / "busybox").write_bytes(binary)
        (context / "busybox").chmod(0o755)

    ensure_image(client, tag, fill, progress, image="busybox")
    return tag


# -- session ----------------------------------------------------------------------------------------
def apt_mirror(sources: tuple[Path, ...] = APT_SOURCES) -> str:
    """The Debian mirror URI this machine's apt uses (deb822 ``*.sources`` first, then ``sources.list``)."""
    candidates: list[str] = []
    for source in sources:
        files = sorted(source.glob("*.sources")) + sorted(source.glob("*.list")) if source.is_dir() else [source]
        for file in files:
            if not file.is_file():
                continue
            text = file.read_text(errors="replace")
            candidates += _deb822_uris(text) if file.suffix == ".sources" else _one_line_uris(text)
    plain = [u for u in candidates if "security" not in u and "backports" not in u]
    for uri in plain + candidates:
        if re.match(r"^(https?|file)://", uri):
            return uri.rstrip("/")
    raise BackendError("The session image cannot be built", "no Debian mirror found in the apt sources "
                       f"({', '.join(str(s) for s in sources)})",
                       "configure a Debian mirror for apt (apt-get update must work)")


def _deb822_uris(text: str) -> list[str]:
    uris: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in paragraph.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes").lower() != "no":
            uris += fields.get("uris", "").split()
    return uris


def _one_line_uris(text: str) -> list[str]:
    uris: list[str] = []
    for line in text.splitlines():
        words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            uris.append(words[1])
    return uris


def _session_inputs() -> tuple[str, str]:
    rootfs = input_hash(SUITE, *SESSION_PACKAGES, *MMDEBSTRAP_OPTIONS)
    files = [(SESSION_DIR / name).read_bytes() for name in ("keyboard_display.py", "entrypoint.sh")]
    session = input_hash(rootfs, SESSION_DOCKERFILE, *files)
    return rootfs, session


def make_rootfs(client: docker.DockerClient, ref: str, packages: tuple[str, ...], progress: Progress,
                timeout: float, image: str = "session", abort: int | None = None) -> None:
    """Make a Debian root file system with ``packages`` (mmdebstrap, this machine's apt mirror) and
    import it as the image ``ref``; ``image`` names what it is for in messages."""
    cannot = f"The {image} image cannot be built"
    tool = shutil.which("mmdebstrap")
    if tool is None:
        raise BackendError(cannot, "mmdebstrap is not installed", "run './kit setup' (it installs mmdebstrap)")
    mirror = apt_mirror()
    repository, _, tag = ref.partition(":")
    with reaper.temp_dir(f"kit-{image}-rootfs-") as tmp:
        tarball = tmp / "rootfs.tar"
        argv = [tool, *MMDEBSTRAP_OPTIONS, f"--include={','.join(packages)}", SUITE, str(tarball), mirror]
        progress(f"making a Debian {SUITE} root file system for the {image} image with mmdebstrap "
                 "(about a minute, once per machine)")
        result = _run_in_group(argv, timeout, tmp, "mmdebstrap", abort)
        if result is None:
            raise BackendError(cannot, f"mmdebstrap took more than {timeout:g} s",
                               "check that the Debian mirror in the apt sources is reachable and fast")
        if result.returncode != 0:
            tail = "\n  ".join((result.stderr or result.stdout).strip().splitlines()[-8:])
            raise BackendError(cannot, f"mmdebstrap failed:\n  {tail}",
                               "check 'apt-get update' works; mmdebstrap needs root (or unprivileged user "
                               "namespaces)")
        progress(f"importing the root file system as {ref}")
        answer = _abortable(lambda: client.api.import_image_from_file(str(tarball), repository=repository, tag=tag),
                            abort, f"Importing the root file system as {ref}")
    image_id = re.search(r"sha256:[0-9a-f]{64}", str(answer))
    if image_id and not image_exists(client, ref):
        # podman's compatible API ignores the tag of an import and names it ':latest'
        found = client.images.get(image_id.group(0))
        found.tag(repository, tag)
        if f"{repository}:latest" in " ".join(found.tags):
            with contextlib.suppress(Exception):
                client.images.remove(f"{repository}:latest")
    if not image_exists(client, ref):
        raise BackendError(cannot, f"importing the root file system as {ref} failed", "check the engine's log")


def _run_in_group(argv: list[str], timeout: float, tmp: Path, name: str,
                  abort: int | None = None) -> subprocess.CompletedProcess[str] | None:
    """Run ``argv`` in a process group of its own with its temp files under ``tmp``; the group is
    stopped if this process is interrupted or killed, or when ``abort`` becomes readable (then a
    :class:`BackendError`). None if it ran longer than ``timeout``."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL, start_new_session=True, env={**os.environ, "TMPDIR": str(tmp)})
    token = reaper.guard_group(process.pid, name)

    def communicate() -> subprocess.CompletedProcess[str] | None:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return subprocess.CompletedProcess(argv, process.returncode, out, err)

    try:
        return _abortable(communicate, abort, name)
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        reaper.release(token)


def ensure_session_image(client: docker.DockerClient, progress: Progress = _quiet,
                         timeout: float = 900.0, abort: int | None = None) -> str:
    """The tag of the StreamSpace session image, built now if the engine does not have it yet."""
    rootfs_hash, session_hash = _session_inputs()
    tag = f"{SESSION_REPO}:{session_hash}"
    rootfs = f"{ROOTFS_REPO}:{rootfs_hash}"

    def fill(context: Path) -> None:
        (context / "Dockerfile").write_text(SESSION_DOCKERFILE.format(base=rootfs))
        for name in ("keyboard_display.py", "entrypoint.sh"):
            shutil.copy2(SESSION_DIR / name, context / name)

    ensure_image(client, tag, fill, progress, timeout, rootfs=(rootfs, SESSION_PACKAGES), abort=abort)
    return tag
