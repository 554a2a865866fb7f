"""The SDK's own store and server test suites, unmodified, against ``DjangoStore``.

The test files come from the sdist of the installed ``openai-chatkit`` (downloaded once
with pip into ``<sys.prefix>/chatkit-sdk-sdist/``, or named by ``CHATKIT_SDK_SDIST``) and
run in a child pytest next to the small shim in ``shim/``: the SDK tests' ``SQLiteStore``
is a ``DjangoStore`` there, on a Django test database emptied between tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path

import django_chatkit

SUITES = ("tests/test_store.py", "tests/test_chatkit_server.py")
SHIM = Path(__file__).parent / "shim"


def sdk_sdist() -> Path:
    """The sdist of the installed SDK version, downloaded on first use."""
    named = os.environ.get("CHATKIT_SDK_SDIST")
    if named:
        return Path(named)
    wanted = version("openai-chatkit")
    cache = Path(sys.prefix) / "chatkit-sdk-sdist"
    found = sorted(cache.glob(f"openai_chatkit-{wanted}.tar.gz"))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"openai-chatkit=={wanted}",
                "-d",
                str(cache),
            ],
            check=True,
        )
        found = sorted(cache.glob(f"openai_chatkit-{wanted}.tar.gz"))
    assert found, f"pip download left no openai_chatkit-{wanted}.tar.gz in {cache}"
    return found[0]


def build_run_directory(sdist: Path, root: Path) -> None:
    """The SDK's test files, byte for byte, beside the shim that stands in for the SDK
    repository's helpers."""
    (root / "tests").mkdir()
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            top, _, inner = member.name.partition("/")
            if inner in SUITES or inner in ("LICENSE", "NOTICE"):
                extracted = archive.extractfile(member)
                assert extracted is not None
                (root / inner).write_bytes(extracted.read())
    missing = [name for name in SUITES if not (root / name).exists()]
    assert not missing, f"{sdist.name} has no {missing}"
    (root / "tests" / "__init__.py").write_text("")
    shutil.copy(SHIM / "tests_types.py", root / "tests" / "_types.py")
    shutil.copytree(SHIM / "helpers", root / "helpers")
    shutil.copy(SHIM / "sdk_conftest.py", root / "conftest.py")
    shutil.copy(SHIM / "sdk_settings.py", root / "sdk_settings.py")
    (root / "pytest.ini").write_text(
        "[pytest]\n"
        "DJANGO_SETTINGS_MODULE = sdk_settings\n"
        "asyncio_mode = auto\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "addopts = -p no:cacheprovider\n"
    )


def test_sdk_store_and_server_suites_pass_unmodified(tmp_path):
    build_run_directory(sdk_sdist(), tmp_path)
    env = dict(os.environ)
    # This checkout's django_chatkit; the run's own tests/ package comes first (cwd).
    env["PYTHONPATH"] = os.pathsep.join([str(Path(django_chatkit.__file__).parent.parent), env.get("PYTHONPATH", "")])
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", "--timeout=120", *SUITES],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 78, summary
    assert not re.search(r"failed|error|skipped", summary), summary
