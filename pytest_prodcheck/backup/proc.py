"""Running PostgreSQL client tools: own process group, PGPASSWORD in env, killed when left early.

>>> with pg_tool([str(pg_dump), "--dbname", t.url_without_password], t, stdout=PIPE) as (proc, err):
...     data = proc.stdout.read()
...     if proc.wait() != 0:
...         raise ToolError(stderr_tail(err, t))     # masked, last lines joined by " | "
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from typing import IO

from pytest_prodcheck.backup.dsn import PgTarget, child_env
from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.core.proc import die_with_parent_preexec

CHUNK = 1 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def stderr_tail(fh: IO[bytes], target: PgTarget, lines: int = 3) -> str:
    fh.seek(0)
    text = fh.read().decode("utf-8", "replace")
    tail = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
    return target.mask(" | ".join(tail)) if tail else "(no output)"


@contextlib.contextmanager
def pg_tool(
    argv: list[str], target: PgTarget, *, stdin: int | None = None, stdout: int | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], IO[bytes]]]:
    """Run a PostgreSQL client tool in its own process group; killed if the block is left early.

    Yields ``(process, stderr_file)``. The password travels in the child's environment only. The
    tool also dies with this process (``die_with_parent_preexec``), so a killed restore never lets
    psql commit what it got on EOF.
    """
    with child_env(target) as env, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=stdin,
                stdout=stdout,
                stderr=err,
                env=env,
                process_group=0,
                preexec_fn=die_with_parent_preexec(),
            )
        except OSError as exc:
            raise ToolError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
        try:
            yield proc, err
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()


def grow_pipe(stream: IO[bytes]) -> None:
    with contextlib.suppress(OSError):
        fcntl.fcntl(stream.fileno(), _F_SETPIPE_SZ, CHUNK)
