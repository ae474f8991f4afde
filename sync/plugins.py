"""Taps and targets with a ``pip_url``: each in its own virtual environment.

A plugin is installed on first use (or ahead of time with ``sync install``) into
``<plugins dir>/<name>-<hash of pip_url>``, so conflicting dependencies never meet
and a changed ``pip_url`` gets a fresh environment. A file lock keeps two runs
from installing the same plugin at once; the environment counts as installed only
after pip succeeded.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import structlog
from filelock import FileLock

from sync.errors import ConfigError

log = structlog.get_logger("sync.plugins")
_DONE = ".sync-installed"


def plugins_root(work_dir: Path) -> Path:
    """Where plugin environments live: $SYNC_PLUGINS_DIR, else beside the state file."""
    override = os.environ.get("SYNC_PLUGINS_DIR")
    return Path(override).expanduser().resolve() if override else work_dir / "plugins"


def _env_dir(root: Path, name: str, pip_url: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    digest = hashlib.sha256(pip_url.encode()).hexdigest()[:10]
    return root / f"{safe}-{digest}"


def ensure_plugin(name: str, pip_url: str, root: Path, *, key: str) -> Path:
    """The ``bin`` folder of the plugin's environment, installing it if needed."""
    env = _env_dir(root, name, pip_url)
    done = env / _DONE
    if done.exists():
        return env / "bin"
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(env) + ".lock"):
        if done.exists():
            return env / "bin"
        shutil.rmtree(env, ignore_errors=True)
        log.info("installing plugin", plugin=name, pip_url=pip_url, into=str(env))
        steps = [[sys.executable, "-m", "venv", str(env)],
                 [str(env / "bin" / "python"), "-m", "pip", "install", "--quiet",
                  "--disable-pip-version-check", *shlex.split(pip_url)]]
        for argv in steps:
            done_run = subprocess.run(argv, capture_output=True, text=True, check=False,
                                      stdin=subprocess.DEVNULL)
            if done_run.returncode != 0:
                shutil.rmtree(env, ignore_errors=True)
                tail = (done_run.stderr or done_run.stdout).strip()[-1500:]
                raise ConfigError(f"installing {pip_url!r} failed: {tail}", key=key)
        done.write_text(pip_url + "\n")
    return env / "bin"


def plugin_argv(spec: str | tuple[str, ...], pip_url: str, root: Path, *, key: str) -> list[str]:
    """The argv of a tap or target that lives in its own environment."""
    argv = shlex.split(spec) if isinstance(spec, str) else list(spec)
    bin_dir = ensure_plugin(Path(argv[0]).name, pip_url, root, key=key)
    exe = bin_dir / argv[0]
    if not exe.exists():
        offered = sorted(p.name for p in bin_dir.iterdir()
                         if p.name.startswith(("tap", "target")))
        raise ConfigError(f"{pip_url!r} installed no executable named {argv[0]!r} "
                          f"(it has: {', '.join(offered) or 'none'})", key=key)
    argv[0] = str(exe)
    return argv
