"""stack/pg_template.py: pruning our unused templates (building and keying: test_stack_postgres)."""

from __future__ import annotations

import os
from pathlib import Path

from pytest_prodcheck.stack import pg_template as tmplmod


def test_prune_removes_old_unlocked_templates_only(tmp_path: Path) -> None:
    import time as _time

    keep = tmp_path / f"prodcheck-pgtemplate-15-new-u{os.getuid()}"
    old = tmp_path / f"prodcheck-pgtemplate-15-old-u{os.getuid()}"
    busy = tmp_path / f"prodcheck-pgtemplate-15-busy-u{os.getuid()}"
    fresh = tmp_path / f"prodcheck-pgtemplate-15-fresh-u{os.getuid()}"
    dead_build = tmp_path / "prodcheck-pgtemplate-15-x-u0.build-999999999"
    for d in (keep, old, busy, fresh, dead_build):
        d.mkdir()
        (d / "READY").write_text("x")
    past = _time.time() - tmplmod.PRUNE_AFTER_S - 60
    for d in (old, busy):
        os.utime(d / "READY", (past, past))
    with tmplmod.template_lock(busy, shared=True):
        removed = tmplmod.prune_templates(keep)
    assert set(removed) == {old, dead_build}
    assert keep.exists() and busy.exists() and fresh.exists()
