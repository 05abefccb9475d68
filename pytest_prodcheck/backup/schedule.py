"""Named jobs in a crontab, installed idempotently (expressions checked by ``core.cron``).

    >>> tab = backend_from(crontab_file="/tmp/test.crontab")   # or the user's crontab (default)
    >>> install_job("backup", "0 2 * * *", "cd /srv && prodcheck backup --all",
    ...             log="/var/log/ecommerce_backup.log", backend=tab)
    (CronJob(name='backup', schedule='0 2 * * *', ...), True)
    >>> install_job("backup", "0 2 * * *", "cd /srv && prodcheck backup --all",
    ...             log="/var/log/ecommerce_backup.log", backend=tab)[1]     # idempotent
    False
    >>> install_job("ssl-renew", "0 3 * * *", "prodcheck ssl renew", backend=tab)  # another job
    >>> [j.name for j in list_jobs(tab)]
    ['backup', 'ssl-renew']

Each job is a marked block (``# BEGIN prodcheck:<name>`` … ``# END prodcheck:<name>``); lines
outside the blocks are never touched. The backend is the real ``crontab`` binary (optionally
``-u USER``) or, for tests and containers, a plain file: ``--crontab-file`` /
``PRODCHECK_CRONTAB_FILE``; ``PRODCHECK_CRONTAB_USER`` selects another user's crontab.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pytest_prodcheck.core.cron import validate_schedule
from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.core.files import write_text_atomic

ENV_FILE = "PRODCHECK_CRONTAB_FILE"
ENV_USER = "PRODCHECK_CRONTAB_USER"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
_BEGIN = "# BEGIN prodcheck:{name} (managed by `prodcheck cron`; edits here are overwritten)"
_BEGIN_RE = re.compile(r"^# BEGIN prodcheck:(?P<name>[a-z0-9-]+)\b")
_END = "# END prodcheck:{name}"
# -------------------------------------------------------------------------------------------------
# backends
# -------------------------------------------------------------------------------------------------


class CrontabBackend(Protocol):
    description: str

    def read(self) -> str: ...

    def write(self, text: str) -> None: ...


class FileCrontab:
    """A crontab kept in a plain file (tests, containers, or to feed ``crontab FILE`` yourself)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.description = f"crontab file {self.path}"

    def read(self) -> str:
        try:
            return self.path.read_text()
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise ConfigError(f"cannot read {self.description}: {exc.strerror or exc}") from exc

    def write(self, text: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create {self.path.parent}: {exc.strerror or exc}") from exc
        write_text_atomic(self.path, text)


class UserCrontab:
    """The real ``crontab`` of the current user, or of ``user`` (``crontab -u``, needs root)."""

    def __init__(self, user: str | None = None, binary: str | None = None) -> None:
        self.user = user
        found = binary or shutil.which("crontab")
        if not found:
            raise ToolError(
                "the crontab command is not installed: install cron, or use --crontab-file"
            )
        self.binary = found
        self.description = f"crontab of user {user}" if user else "the current user's crontab"

    def _argv(self, *args: str) -> list[str]:
        return [self.binary, *(["-u", self.user] if self.user else []), *args]

    def read(self) -> str:
        proc = subprocess.run(self._argv("-l"), capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return proc.stdout
        if "no crontab for" in proc.stderr:
            return ""
        raise ToolError(f"crontab -l failed for {self.description}: {proc.stderr.strip()}")

    def write(self, text: str) -> None:
        proc = subprocess.run(
            self._argv("-"), input=text, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise ToolError(
                f"crontab refused the new table for {self.description}: "
                f"{proc.stderr.strip() or 'exit ' + str(proc.returncode)}"
            )


def backend_from(
    crontab_file: str | Path | None = None,
    user: str | None = None,
    env: dict[str, str] | None = None,
) -> CrontabBackend:
    """Explicit file > explicit user > $PRODCHECK_CRONTAB_FILE > $PRODCHECK_CRONTAB_USER > own."""
    env = dict(os.environ) if env is None else env
    if crontab_file:
        return FileCrontab(crontab_file)
    if user:
        return UserCrontab(user)
    if env.get(ENV_FILE):
        return FileCrontab(env[ENV_FILE])
    if env.get(ENV_USER):
        return UserCrontab(env[ENV_USER])
    return UserCrontab()


# -------------------------------------------------------------------------------------------------
# jobs
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CronJob:
    name: str
    schedule: str
    command: str
    log: str | None = None

    @property
    def line(self) -> str:
        tail = f" >> {shlex.quote(self.log)} 2>&1" if self.log else ""
        return f"{self.schedule} {self.command}{tail}"

    def block(self) -> list[str]:
        return [_BEGIN.format(name=self.name), self.line, _END.format(name=self.name)]


def _split(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """Lines outside managed blocks, and each block's inner lines by name."""
    outside: list[str] = []
    blocks: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _BEGIN_RE.match(line)
        if current is None and match:
            current = match["name"]
            blocks[current] = []
            outside.append(f"\0{current}")  # placeholder keeps the block's position
        elif current is not None and line.strip() == _END.format(name=current):
            current = None
        elif current is not None:
            blocks[current].append(line)
        else:
            outside.append(line)
    return outside, blocks


def _parse_line(name: str, lines: list[str]) -> CronJob | None:
    body = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not body:
        return None
    line = body[0].strip()
    if line.startswith("@"):
        schedule, _, rest = line.partition(" ")
    else:
        fields = line.split(None, 5)
        if len(fields) < 6:
            return None
        schedule, rest = " ".join(fields[:5]), fields[5]
    log = None
    match = re.search(r" >> (\S+|'[^']*') 2>&1$", rest)
    if match:
        log = shlex.split(match.group(1))[0]
        rest = rest[: match.start()]
    return CronJob(name, schedule, rest, log)


def _render(outside: list[str], blocks: dict[str, CronJob]) -> str:
    out: list[str] = []
    placed: set[str] = set()
    for line in outside:
        if line.startswith("\0"):
            name = line[1:]
            if name in blocks:
                out.extend(blocks[name].block())
                placed.add(name)
        else:
            out.append(line)
    for name, job in blocks.items():
        if name not in placed:
            out.extend(job.block())
    return "\n".join(out).rstrip("\n") + "\n" if out else ""


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ConfigError(f"job name {name!r}: use lowercase letters, digits and dashes")
    return name


def list_jobs(backend: CrontabBackend) -> list[CronJob]:
    """The prodcheck-managed jobs in the crontab, in file order."""
    _, blocks = _split(backend.read())
    return [job for name, lines in blocks.items() if (job := _parse_line(name, lines))]


def find_job(name: str, backend: CrontabBackend) -> CronJob | None:
    return next((j for j in list_jobs(backend) if j.name == name), None)


def install_job(
    name: str,
    schedule: str,
    command: str,
    log: str | None = None,
    backend: CrontabBackend | None = None,
) -> tuple[CronJob, bool]:
    """Install or replace job ``name``; returns ``(job, changed)`` (False if already identical)."""
    backend = backend or backend_from()
    job = CronJob(_check_name(name), validate_schedule(schedule), command.strip(), log)
    if not job.command or "\n" in job.command:
        raise ConfigError(f"job {name!r}: the command must be one non-empty line")
    if "%" in job.command or (log and "%" in log):
        raise ConfigError(f"job {name!r}: '%' is special in crontab lines; remove it")
    text = backend.read()
    outside, raw = _split(text)
    jobs = {n: j for n, lines in raw.items() if (j := _parse_line(n, lines))}
    if jobs.get(name) == job:
        return job, False
    jobs[name] = job
    backend.write(_render(outside, jobs))
    return job, True


def remove_job(name: str, backend: CrontabBackend | None = None) -> bool:
    """Remove job ``name``; False if it was not installed."""
    backend = backend or backend_from()
    outside, raw = _split(backend.read())
    jobs = {n: j for n, lines in raw.items() if (j := _parse_line(n, lines))}
    if name not in jobs:
        return False
    del jobs[name]
    backend.write(_render(outside, jobs))
    return True
