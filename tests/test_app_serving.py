"""`make app` serves a room only with a token: a non-loopback address without APP_TOKEN is refused."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _make(*variables: str) -> subprocess.CompletedProcess:
    # STAMP=/dev/null keeps a dry run from reading the install stamp (never a makefile: make remakes those even with -n)
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return subprocess.run(["make", "-s", "--no-print-directory", *variables], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_a_room_address_without_a_token_is_refused_with_the_reason():
    refused = _make("app-check", "APP_IP=0.0.0.0")
    assert refused.returncode != 0 and "give APP_TOKEN=<secret>" in refused.stdout + refused.stderr
    assert _make("app-check", "APP_IP=0.0.0.0", "APP_TOKEN=s3cret").returncode == 0
    assert _make("app-check").returncode == 0  # loopback, the default, needs no token


def test_the_served_command_binds_the_address_and_passes_the_token():
    dry_run = _make("-n", "app", "APP_IP=192.168.1.20", "APP_TOKEN=s3cret", "APP_PORT=9000", "STAMP=/dev/null")
    command = next(line for line in dry_run.stdout.splitlines() if "voila" in line)
    assert "--Voila.ip=192.168.1.20" in command and "--port=9000" in command
    assert '--Voila.token="s3cret"' in dry_run.stdout
    default = _make("-n", "app", "STAMP=/dev/null").stdout
    # an empty token is Voila's own default (no login page), said in POSIX make without GNU's $(if)
    assert "--Voila.ip=127.0.0.1" in default and '--Voila.token=""' in default
