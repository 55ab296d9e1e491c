"""The `alumnibot` command as a real process: where it is, a clean environment, starting it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from bot.core.settings import Settings
from handlers.cli.common import Cli
from handlers.cli.main import build_app

ALUMNIBOT = str(Path(sys.executable).with_name("alumnibot"))


def clean_env(**overrides: str) -> dict[str, str]:
    """The environment without our settings; the system language says nothing (Dutch)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ALUMNIBOT_") and k not in ("LC_ALL", "LC_MESSAGES")
    }
    env.update(PTB_TIMEDELTA="1", LANG="C.UTF-8", **overrides)
    return env


async def start(args: list[str], env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        ALUMNIBOT,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def alumnibot(env, cwd, *args: str) -> tuple[int, str, str]:
    process = await start(list(args), env, cwd)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def in_process(
    settings: Settings, *args: str, locale: str = "nl", answer: str | None = None
) -> Result:
    """Run `alumnibot [--lang LOCALE] ARGS...` in this process (Typer's CliRunner)."""
    app = build_app(Cli(locale, settings))
    return CliRunner().invoke(app, ["--lang", locale, *args], input=answer)
