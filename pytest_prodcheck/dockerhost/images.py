"""Images without a registry: public when they can be had, else built here, cached by inputs.

    >>> images = ensure_images(client, DockerSettings(), progress=print)
    docker: base: debian:bookworm-slim cannot be pulled (... no such host): debootstrap bookworm
    docker: build postgres: Step 1/8 : ARG BASE=debian:bookworm-slim
    ...
    >>> images["postgres"]
    'prodcheck/postgres:5c1e0a7b3d2f'

For each service (:data:`SERVICES`) the configured name (:class:`DockerSettings`) is used when it
is present or can be pulled. When it cannot and it is the default, the equivalent is built from
``docker/<service>/Dockerfile`` with ``BASE`` = the base image; the base itself is
``debian:bookworm-slim`` or, failing that, a Debian made with ``debootstrap --variant=minbase``
and ``docker import``-ed (Debian's archive is the only network needed, also inside the builds).
A built image is tagged ``prodcheck/<service>:<hash>``, the hash of everything that goes into it
(Dockerfile, context files, pinned Python requirements, base image id), and reused while the
inputs are unchanged; older tags of the same service are removed after a build. The shop and
moto's S3 server install wheels downloaded by this environment's pip (no PyPI inside builds).
Builds show their steps through ``progress``; a failed build raises :class:`DockerUnavailable`
naming the failing step and the log file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from pytest_prodcheck.core.proc import ManagedProcess, make_tempdir, remove_tempdir
from pytest_prodcheck.dockerhost.errors import DockerUnavailable
from pytest_prodcheck.dockerhost.sdk import errors
from pytest_prodcheck.dockerhost.settings import DockerSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = ROOT / "docker"
CACHE = Path(os.environ.get("PRODCHECK_CACHE", Path.home() / ".cache" / "prodcheck"))
LOG_DIR = CACHE / "docker-build"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("PRODCHECK_DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_FORMAT = 1  # bump when what _customise_root does changes
LABEL_INPUTS = "org.prodcheck.inputs"

Progress = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


@dataclass(frozen=True)
class BuildSpec:
    """How to build one service: repo files copied into the context (same relative paths), the
    Dockerfile inside it, and pinned Python requirements whose wheels go to ``wheels_dir``."""

    service: str
    dockerfile: str
    files: tuple[str, ...]
    requirements: tuple[str, ...] = ()  # requirement names pinned to this environment
    wheels_dir: str = ""


SPECS: dict[str, BuildSpec] = {
    "postgres": BuildSpec(
        "postgres", "docker/postgres/Dockerfile", ("docker/postgres/docker-entrypoint.sh",)
    ),
    "pgbouncer": BuildSpec("pgbouncer", "docker/pgbouncer/Dockerfile", ()),
    "nginx": BuildSpec("nginx", "docker/nginx/Dockerfile", ()),
    "app": BuildSpec(
        "app",
        "docker/app/Dockerfile",
        (
            "docker/app/wheels/README",
            "pytest_prodcheck/__init__.py",
            "pytest_prodcheck/_version.py",
            "pytest_prodcheck/core",
            "pytest_prodcheck/shop",
        ),
        requirements=("starlette", "uvicorn", "psycopg[binary]", "psycopg-pool"),
        wheels_dir="docker/app/wheels",
    ),
    "s3": BuildSpec(
        "s3",
        "docker/s3/Dockerfile",
        ("docker/s3/wheels/README",),
        requirements=("moto[s3]", "flask", "flask-cors"),
        wheels_dir="docker/s3/wheels",
    ),
    "pebble": BuildSpec("pebble", "docker/pebble/Dockerfile", ()),
}
SERVICES = tuple(SPECS)


@dataclass(frozen=True)
class ResolvedImage:
    """Which image a service runs and how it was obtained."""

    service: str
    ref: str
    source: str  # "present" | "pulled" | "cached" | "built" | "debootstrap"
    seconds: float = 0.0

    def describe(self) -> str:
        took = f" in {self.seconds:.0f} s" if self.seconds >= 1 else ""
        return f"{self.service:10} {self.ref}  ({self.source}{took})"


# --- small engine helpers ----------------------------------------------------------------------


def image_exists(client: Any, ref: str) -> bool:
    errs = errors()
    ImageNotFound = errs.ImageNotFound

    try:
        client.images.get(ref)
    except ImageNotFound:
        return False
    return True


def try_pull(client: Any, ref: str, timeout: float) -> str | None:
    """Pull ``ref``; None on success, else why not (a hung pull is abandoned after ``timeout``)."""
    result: list[str | None] = []

    def pull() -> None:
        try:
            repo, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "")
            client.images.pull(repo, tag=tag or "latest")
            result.append(None)
        except Exception as exc:  # docker.errors.APIError and transport errors alike
            result.append(_first_line(str(getattr(exc, "explanation", None) or exc)))

    thread = threading.Thread(target=pull, name=f"pull {ref}", daemon=True)
    thread.start()
    thread.join(timeout)
    if not result:
        return f"no answer within {timeout:g} s"
    return result[0]


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:300]


@contextlib.contextmanager
def _build_lock(name: str) -> Iterator[None]:
    """One builder per image on this machine (xdist workers, parallel runs)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_DIR / f"{name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- the Debian base ---------------------------------------------------------------------------


def base_tag() -> str:
    key = f"{DEBIAN_SUITE} minbase {DEBIAN_MIRROR} format {BASE_FORMAT}"
    return f"prodcheck/debian:{DEBIAN_SUITE}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


_ROOT_SETUP = r"""
set -e
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod 755 "$R/usr/sbin/policy-rc.d"
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$R/etc/apt/apt.conf.d/90prodcheck"
printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n' > "$R/etc/dpkg/dpkg.cfg.d/90prodcheck-nodoc"
echo "deb $MIRROR $SUITE main" > "$R/etc/apt/sources.list"
echo "deb $MIRROR $SUITE-updates main" >> "$R/etc/apt/sources.list"
echo "deb http://deb.debian.org/debian-security $SUITE-security main" >> "$R/etc/apt/sources.list"
rm -rf "$R/var/cache/apt/archives/"*.deb "$R/var/lib/apt/lists/"* "$R/usr/share/doc/"* "$R/usr/share/man/"*
"""


def build_debian_base(client: Any, progress: Progress = _quiet) -> ResolvedImage:
    """``debootstrap --variant=minbase bookworm`` + ``docker import`` (~30-90 s, once)."""
    tag = base_tag()
    with _build_lock("base"):
        if image_exists(client, tag):
            return ResolvedImage("base", tag, "cached")
        if shutil.which("debootstrap") is None:
            raise DockerUnavailable(
                "debian:bookworm-slim cannot be pulled and debootstrap is not installed: run "
                "scripts/bootstrap as root (apt-get install debootstrap), or set "
                "[docker] base_image to a Debian 12 image you have"
            )
        t0 = time.monotonic()
        work = make_tempdir("debootstrap-")
        root = work / "root"
        log = LOG_DIR / "base.log"
        log.unlink(missing_ok=True)
        try:
            progress(f"docker: base: debootstrap --variant=minbase {DEBIAN_SUITE} (log {log})")
            _run_logged(
                "debootstrap",
                ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(root), DEBIAN_MIRROR],
                log,
                progress,
                prefix="docker: base: ",
            )
            env = {**os.environ, "R": str(root), "MIRROR": DEBIAN_MIRROR, "SUITE": DEBIAN_SUITE}
            subprocess.run(["sh", "-c", _ROOT_SETUP], env=env, check=True, timeout=60)
            tarball = work / "root.tar"
            subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
            progress("docker: base: docker import")
            repo, _, version = tag.partition(":")
            client.api.import_image_from_file(
                str(tarball),
                repository=repo,
                tag=version,
                changes=["ENV LANG=C.UTF-8", 'CMD ["bash"]'],
            )
        except subprocess.CalledProcessError as exc:
            raise DockerUnavailable(
                f"preparing the Debian base failed ({exc}): see {log}; check that "
                f"{DEBIAN_MIRROR} is reachable"
            ) from None
        finally:
            remove_tempdir(work)
        return ResolvedImage("base", tag, "debootstrap", time.monotonic() - t0)


def _run_logged(name: str, argv: list[str], log: Path, progress: Progress, prefix: str) -> None:
    """Run ``argv`` as a tracked child, echoing a line of its log every few seconds."""
    proc = ManagedProcess(name).start(argv, log_path=log)
    shown = 0.0
    try:
        while proc.wait(1.0) is None:
            if time.monotonic() - shown > 5:
                shown = time.monotonic()
                progress(prefix + proc.log_tail(1))
    finally:
        code = proc.stop()
    if code != 0:
        raise DockerUnavailable(
            f"{name} failed (exit {code}): {proc.log_tail(2)} (log: {log}); check that "
            f"{DEBIAN_MIRROR} is reachable"
        )


# --- builds ------------------------------------------------------------------------------------


def _dist_name(requirement: str) -> str:
    return requirement.split("[", 1)[0]


def pinned_requirements(spec: BuildSpec) -> str:
    """``name==version`` of this environment for each of the spec's requirements."""
    lines = []
    for req in spec.requirements:
        try:
            lines.append(f"{req}=={metadata.version(_dist_name(req))}")
        except metadata.PackageNotFoundError:
            lines.append(req)
    return "".join(f"{line}\n" for line in lines)


def _iter_files(rel: str) -> Iterable[Path]:
    path = ROOT / rel
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
                yield p
    elif path.is_file():
        yield path


def inputs_hash(spec: BuildSpec, base_id: str) -> str:
    """sha256 of the Dockerfile, every context file, the pinned requirements and the base id."""
    h = hashlib.sha256()
    h.update(f"base {base_id}\n".encode())
    for rel in (spec.dockerfile, *spec.files):
        for path in _iter_files(rel):
            h.update(f"{path.relative_to(ROOT)}\n".encode())
            h.update(path.read_bytes())
    h.update(pinned_requirements(spec).encode())
    return h.hexdigest()


def _wheels(spec: BuildSpec, progress: Progress) -> Path:
    """The spec's wheels (and their dependencies), downloaded once by this environment's pip."""
    reqs = pinned_requirements(spec)
    key = hashlib.sha256(reqs.encode()).hexdigest()[:12]
    dest = CACHE / "wheels" / f"{spec.service}-{key}"
    if (dest / ".complete").exists():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    (dest / "requirements.txt").write_text(reqs)
    progress(f"docker: build {spec.service}: pip download {' '.join(reqs.split())}")
    res = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--only-binary=:all:", "--dest", str(dest), "-r", str(dest / "requirements.txt")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if res.returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        raise DockerUnavailable(
            f"downloading the wheels of the {spec.service} image failed: "
            f"{_first_line(res.stderr.strip().splitlines()[-1] if res.stderr.strip() else '')}; "
            "check pip's index (pip config list)"
        )
    (dest / ".complete").write_text("")
    return dest


def _context(spec: BuildSpec, progress: Progress) -> Path:
    ctx = make_tempdir(f"build-{spec.service}-")
    for rel in (spec.dockerfile, *spec.files):
        for path in _iter_files(rel):
            target = ctx / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    if spec.requirements:
        req_dir = ctx / Path(spec.dockerfile).parent
        (req_dir / "requirements.txt").write_text(pinned_requirements(spec))
        wheels = ctx / spec.wheels_dir
        wheels.mkdir(parents=True, exist_ok=True)
        for whl in _wheels(spec, progress).glob("*.whl"):
            os.link(whl, wheels / whl.name) if _same_fs(whl, wheels) else shutil.copy(whl, wheels)
    return ctx


def _same_fs(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def build_image(
    client: Any, spec: BuildSpec, base: str, progress: Progress = _quiet
) -> ResolvedImage:
    """Build ``spec`` on ``base`` unless ``prodcheck/<service>:<inputs hash>`` exists."""
    base_id = client.images.get(base).id
    digest = inputs_hash(spec, base_id)
    tag = f"prodcheck/{spec.service}:{digest[:12]}"
    with _build_lock(spec.service):
        if image_exists(client, tag):
            return ResolvedImage(spec.service, tag, "cached")
        t0 = time.monotonic()
        ctx = _context(spec, progress)
        log = LOG_DIR / f"{spec.service}.log"
        try:
            _stream_build(client, spec, ctx, tag, base, digest, log, progress)
        finally:
            remove_tempdir(ctx)
        _prune_old(client, spec.service, keep=tag)
        return ResolvedImage(spec.service, tag, "built", time.monotonic() - t0)


def _stream_build(
    client: Any,
    spec: BuildSpec,
    ctx: Path,
    tag: str,
    base: str,
    digest: str,
    log: Path,
    progress: Progress,
) -> None:
    step = "(before the first step)"
    tail: list[str] = []
    with open(log, "w") as out:
        stream = client.api.build(
            path=str(ctx),
            dockerfile=spec.dockerfile,
            tag=tag,
            buildargs={"BASE": base},
            network_mode="host",  # the private engine has no bridge with NAT; apt needs the net
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            labels={LABEL_INPUTS: digest},
        )
        for chunk in stream:
            text = chunk.get("stream") or chunk.get("status") or ""
            if text:
                out.write(text)
                for line in text.splitlines():
                    line = line.strip()
                    if not line:
                        continue
                    tail = [*tail[-5:], line]
                    if line.startswith("Step "):
                        step = line
                        progress(f"docker: build {spec.service}: {line[:120]}")
            if "error" in chunk:
                error = _first_line(str(chunk.get("error")))
                out.write(f"ERROR: {json.dumps(chunk)}\n")
                detail = " | ".join(t for t in tail[-3:] if t != error)[:300]
                raise DockerUnavailable(
                    f"building the {spec.service} image failed at {step[:160]}: {error}"
                    + (f" ({detail})" if detail else "")
                    + f"; full log: {log}"
                )


def _prune_old(client: Any, service: str, keep: str) -> None:
    """Drop older ``prodcheck/<service>:*`` tags (the disk holds one build per service)."""
    errs = errors()
    APIError = errs.APIError

    for image in client.images.list(name=f"prodcheck/{service}"):
        for t in image.tags:
            if t != keep and t.startswith(f"prodcheck/{service}:"):
                with contextlib.suppress(APIError):
                    client.images.remove(t, noprune=False)


# --- resolution --------------------------------------------------------------------------------


def _cached_build(client: Any, service: str) -> str | None:
    """A previous build of ``service`` (any hash), newest first: then no pull is tried."""
    name = "prodcheck/debian" if service == "base" else f"prodcheck/{service}"
    images = client.images.list(name=name)
    images.sort(key=lambda i: i.attrs.get("Created", ""), reverse=True)
    for image in images:
        for t in image.tags:
            if t.startswith(f"{name}:"):
                return str(t)
    return None


def _public_or_none(
    client: Any, service: str, settings: DockerSettings, progress: Progress
) -> tuple[ResolvedImage | None, str]:
    """The configured image when present or pullable; else ``(None, why)``."""
    ref = settings.image(service)
    if image_exists(client, ref):
        return ResolvedImage(service, ref, "present"), ""
    if settings.is_default(service) and _cached_build(client, service) is not None:
        return None, "built here before"  # no registry last time: do not wait on it again
    t0 = time.monotonic()
    why = try_pull(client, ref, settings.pull_timeout)
    if why is None:
        progress(f"docker: {service}: pulled {ref}")
        return ResolvedImage(service, ref, "pulled", time.monotonic() - t0), ""
    if not settings.is_default(service):
        raise DockerUnavailable(
            f"image {ref!r} ([docker] {service}_image) is neither present nor pullable ({why}): "
            f'set [docker] {service}_image to an image that exists, or to "" to build it'
        )
    return None, why


def resolve_base(client: Any, settings: DockerSettings, progress: Progress) -> ResolvedImage:
    found, why = _public_or_none(client, "base", settings, progress)
    if found is not None:
        return found
    if not image_exists(client, base_tag()):
        progress(f"docker: base: {settings.base_image} cannot be pulled ({why}): debootstrap")
    return build_debian_base(client, progress)


def ensure_images(
    client: Any,
    settings: DockerSettings | None = None,
    services: Iterable[str] = SERVICES,
    progress: Progress = _quiet,
) -> dict[str, ResolvedImage]:
    """The image of each of ``services`` (pulling or building what is missing)."""
    settings = settings or DockerSettings()
    wanted = list(services)
    out: dict[str, ResolvedImage] = {}
    base: ResolvedImage | None = None
    for service in wanted:
        if service not in SPECS:
            raise DockerUnavailable(f"no image recipe for {service!r}: use one of {SERVICES}")
        if settings.image(service):
            found, _why = _public_or_none(client, service, settings, progress)
            if found is not None:
                out[service] = found
                continue
        if base is None:
            base = resolve_base(client, settings, progress)
            out["base"] = base
        out[service] = build_image(client, SPECS[service], base.ref, progress)
    return out
