"""Pebble and its mock DNS as two containers (host networking), driven like the local ones.

    >>> pebble = ContainerPebble(client, "prodcheck/pebble:…", workdir, http_port=8080,
    ...                          prefix="prodcheck-4711-ab12cd").start()
    >>> pebble.directory_url        # 'https://127.0.0.1:40123/dir', as PebbleServer's

The same configuration, ports and readiness checks as
:class:`~pytest_prodcheck.stack.pebble.PebbleServer` (this is a subclass): only the processes are
containers (Debian's ``pebble`` package in the image) with ``workdir`` mounted at the same path,
on the host's network so that HTTP-01 validation reaches the site's nginx on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.dockerhost.runner import ContainerProcess, start_container
from pytest_prodcheck.stack import pebble as _pebble


class ContainerPebble(_pebble.PebbleServer):
    """:class:`PebbleServer` whose two processes run in containers of ``image``."""

    def __init__(
        self,
        client: Any,
        image: str,
        workdir: Path,
        *,
        http_port: int,
        prefix: str,
        run_id: str,
    ) -> None:
        super().__init__(workdir, http_port)
        self.client = client
        self.run_id = run_id
        self.image = image
        self.prefix = prefix

    @property
    def processes(self) -> list[ContainerProcess]:
        return list(self._procs)  # type: ignore[arg-type]

    def start(self) -> ContainerPebble:
        """Start the mock DNS and pebble; return once both answer."""
        if self._procs:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._api_ca = _pebble._write_api_tls(self.workdir / "tls")
        for attempt in range(3):
            try:
                self._start_once()
                return self
            except _pebble._PortTaken:
                self.stop()
                if attempt == 2:
                    raise ToolError("pebble: loopback ports were taken 3 times: retry") from None
            except BaseException:
                self.stop()
                raise
        return self  # pragma: no cover

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Any:
        suffix = len([p for p in self._procs if p.name == name])  # a restart: a new name
        container = start_container(
            self.client,
            self.image,
            name=f"{self.prefix}-{name}" + (f"-{suffix}" if suffix else ""),
            run_id=self.run_id,
            host_network=True,
            command=argv,
            env=env,
            volumes={str(self.workdir): {"bind": str(self.workdir), "mode": "ro"}},
        )
        proc = ContainerProcess(container, name)
        self._procs.append(proc)  # type: ignore[arg-type]
        return proc
