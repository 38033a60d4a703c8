"""The wheel installs kmdav, with storage/ and plugins/ inside its namespace."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_wheel_installs_and_imports_in_a_clean_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("kmdav-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/", 1)[0] for name in names if not name.startswith("kmdav-")}
    assert top_level == {"kmdav"}
    assert "kmdav/storage/__init__.py" in names
    assert "kmdav/plugins/__init__.py" in names
    assert any(name.startswith("kmdav/webui/templates/") for name in names)
    assert any(name.startswith("kmdav/migrations/versions/") for name in names)
    assert "kmdav/webui/locale/de/LC_MESSAGES/messages.po" in names
    # make setup copies htmx there from npm; a wheel built afterwards carries it.
    if (ROOT / "webui" / "static" / "vendor" / "htmx.min.js").exists():
        assert "kmdav/webui/static/vendor/htmx.min.js" in names

    clean = tmp_path / "venv"
    venv.create(clean, with_pip=True)
    python = clean / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # Dependencies come from this interpreter's site-packages, appended after
    # the clean venv's own, so kmdav itself is imported from the wheel only.
    deps = sysconfig.get_paths()["purelib"]
    probe = (
        "import sys; sys.path.append(DEPS)\n"
        "import importlib.util, kmdav, kmdav.storage, kmdav.plugins, kmdav.cli, kmdav.app\n"
        "assert '/venv/' in kmdav.__file__, kmdav.__file__\n"
        "assert importlib.util.find_spec('storage') is None\n"
        "assert importlib.util.find_spec('plugins') is None\n"
        "from kmdav.i18n import load_translations\n"
        "assert load_translations('de').gettext('Log in') == 'Anmelden'\n"
        "print(kmdav.__version__)\n"
    ).replace("DEPS", repr(deps))
    result = subprocess.run(
        [str(python), "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0.1.0"
