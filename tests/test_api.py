"""The public API: flat, complete ``__all__``, light to import, clear about missing extras."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import eagerexec

HEAVY = [
    "openai",
    "httpx",
    "anyio",
    "tiktoken",
    "matplotlib",
    "numpy",
    "pandas",
    "jupyter_client",
    "docker",
    "ray",
    "rich",
    "click",
    "asyncio",
]


def test_all_is_sorted_complete_and_every_name_resolves() -> None:
    assert eagerexec.__all__ == sorted(eagerexec.__all__)
    for name in eagerexec.__all__:
        assert getattr(eagerexec, name) is not None, name
    public = {
        n
        for n in dir(eagerexec)
        if not n.startswith("_") and not isinstance(getattr(eagerexec, n), types.ModuleType)
    } - {"annotations", "TYPE_CHECKING"}
    assert public <= set(eagerexec.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        eagerexec.nope  # noqa: B018


def test_import_eagerexec_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, eagerexec\n"
        f"heavy = {HEAVY!r}\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_the_core_layers_load_without_the_heavy_extras() -> None:
    code = (
        "import sys\n"
        "from eagerexec import Session, Chunker, ReplaySource, open_backend, Result\n"
        "heavy = ['openai', 'httpx', 'anyio', 'matplotlib', 'numpy', 'pandas', 'jupyter_client', 'docker', 'ray']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_a_missing_extra_is_one_line_naming_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['openai'] = None  # as if the extra were not installed\n"
        "import eagerexec\n"
        "try:\n"
        "    eagerexec.OpenAISource('hi', model='m')\n"
        "except eagerexec.MissingExtraError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.count("\n") == 1
    assert "pip install 'eagerexec[openai]'" in out
