"""``prodcheck docker up|down|images|status|reap``: the engine and images of the docker target.

    $ prodcheck docker up --detach        # a private engine when none answers (root, ~2 s)
    export DOCKER_HOST=unix:///run/prodcheck-docker/docker.sock
    $ prodcheck docker images             # pull or build every image (cold ~3 min, warm <1 s)
    $ prodcheck docker status             # engine, images, leftovers of earlier runs
    $ prodcheck docker reap               # remove what SIGKILLed runs left behind
    $ prodcheck docker down               # stop the private engine (never a user's own)

``up`` without ``--detach`` keeps the engine until Ctrl-C/SIGTERM. An engine that already answers
(``$DOCKER_HOST``, the system socket) is used as it is and never stopped. Errors (no engine and
none can start, a failed build with its step, an image that does not exist) are one line, exit 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType
from typing import Any

from pytest_prodcheck.core.errors import ConfigError

__all__ = ["register", "run"]


class _Stop(BaseException):
    pass


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("docker", help="the docker target's engine and images")
    sub = parser.add_subparsers(dest="docker_command", required=True, metavar="COMMAND")
    up = sub.add_parser("up", help="make sure an engine answers (start a private one if needed)")
    up.add_argument("--detach", action="store_true", help="leave it running (stop: docker down)")
    up.add_argument(
        "--data-root",
        default=None,
        metavar="DIR",
        help="where the private engine keeps images (default /var/lib/prodcheck-docker)",
    )
    sub.add_parser("down", help="stop the private engine (a user's engine is left alone)")
    images = sub.add_parser("images", help="pull or build the images of the docker target")
    images.add_argument("--config", metavar="PATH", help="prodcheck.toml ([docker] image names)")
    images.add_argument(
        "--service", action="append", metavar="NAME", help="only these (repeatable)"
    )
    sub.add_parser("status", help="engine, images and leftovers of earlier runs")
    sub.add_parser("reap", help="remove containers/networks/volumes of runs that died")
    for p in sub.choices.values():
        p.set_defaults(func=run)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


def _settings(args: argparse.Namespace) -> Any:
    from pytest_prodcheck.commands._common import settings_from_args
    from pytest_prodcheck.dockerhost.settings import docker_settings

    return docker_settings(settings_from_args(args))


def run(args: argparse.Namespace) -> int:
    from pytest_prodcheck.dockerhost import engine as eng

    command = args.docker_command
    if command == "up":
        return _up(args)
    if command == "down":
        if eng.stop_private():
            print(f"prodcheck: stopped the private engine at {eng.PRIVATE_HOST}")
        else:
            host, _reason = eng.locate()
            where = f" (the engine at {host} is not prodcheck's: left running)" if host else ""
            print(f"prodcheck: no private engine runs{where}")
        return 0
    if command == "images":
        return _images(args)
    if command in ("status", "reap"):
        with eng.engine_session(start=False) as engine:
            from pytest_prodcheck.dockerhost import labels

            client = engine.client()
            if command == "reap":
                done = labels.reap_dead(client)
                print("\n".join(done) or "prodcheck: nothing to reap")
                return 0
            owner = "private, prodcheck's" if engine.host == eng.PRIVATE_HOST else "yours"
            print(f"engine   {engine.host} ({owner})")
            for image in client.images.list(name="prodcheck/*"):
                print(f"image    {', '.join(image.tags)}")
            for line in labels.leftovers(client):
                print(f"in use   {line}")
        return 0
    raise ConfigError(f"unknown docker command {command!r}")  # pragma: no cover


def _up(args: argparse.Namespace) -> int:
    from pytest_prodcheck.dockerhost import engine as eng

    host, _reason = eng.locate()
    if host is not None:
        print(f"export DOCKER_HOST={host}")
        _say(f"prodcheck: a Docker engine already answers at {host} (used as it is)")
        return 0
    if args.detach:
        engine = eng.start_private(
            args.data_root or eng.DEFAULT_DATA_ROOT, detach=True, progress=_say
        )
        print(f"export DOCKER_HOST={engine.host}")
        _say("prodcheck: private engine left running; stop it with `prodcheck docker down`")
        return 0
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        with eng.engine_session(args.data_root or eng.DEFAULT_DATA_ROOT, progress=_say) as engine:
            print(f"export DOCKER_HOST={engine.host}", flush=True)
            _say("prodcheck: private engine up (Ctrl-C or SIGTERM stops it)")
            while True:
                time.sleep(3600)
    except (_Stop, KeyboardInterrupt):
        _say("prodcheck: private engine stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _images(args: argparse.Namespace) -> int:
    from pytest_prodcheck.dockerhost.engine import engine_session
    from pytest_prodcheck.dockerhost.images import SERVICES, ensure_images

    settings = _settings(args)
    services = args.service or list(SERVICES)
    unknown = [s for s in services if s not in SERVICES]
    if unknown:
        raise ConfigError(f"--service {unknown[0]!r}: use one of {', '.join(SERVICES)}")
    t0 = time.monotonic()
    with engine_session(settings.data_root, progress=_say) as engine:
        found = ensure_images(engine.client(), settings, services, progress=_say)
    for image in found.values():
        print(image.describe())
    _say(f"prodcheck: images ready in {time.monotonic() - t0:.1f} s")
    return 0
