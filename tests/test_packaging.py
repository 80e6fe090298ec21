"""`pip install .` outside the repository: the wheel carries schedules/, templates/ and
migrations/, and an installed surveil finds and uses them."""

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
        cwd=out,
    )
    (built,) = out.glob("surveil-*.whl")
    return built


def test_wheel_contains_the_data_folders(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("schedules", "templates", "migrations"):
        assert any(n.startswith(f"surveil/_resources/{folder}/") for n in names), folder
    assert "surveil/_resources/migrations/env.py" in names


def test_installed_wheel_runs_outside_the_repo(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True
    )
    # Dependencies come from the test environment (appended after the venv's own packages,
    # so `surveil` itself resolves to the wheel, not to the editable checkout).
    site = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {**os.environ, "SURVEIL_DATABASE_URL": f"sqlite:///{workdir / 'x.db'}"}
    env.pop("SURVEIL_CONFIG", None)
    where = subprocess.run(
        [str(python), "-c", "import surveil.resources as r; print(r.resource_dir('schedules'))"],
        check=True,
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
    ).stdout.strip()
    assert where.startswith(str(target)), where
    surveil = target / "bin" / "surveil"
    init = subprocess.run(
        [str(surveil), "init"], capture_output=True, text=True, cwd=workdir, env=env
    )
    assert init.returncode == 0, init.stderr
    assert (workdir / "x.db").exists()
    check = subprocess.run(
        [str(surveil), "db", "check"], capture_output=True, text=True, cwd=workdir, env=env
    )
    assert check.returncode == 0, check.stdout + check.stderr
