"""A failed compile of the speed-ups is loud (setup.py): an error where they are required (the
Docker image, scripts/setup.sh), a warning where a plain ``pip install`` falls back, and a warning
again when a run starts without them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from setuptools import Distribution, Extension  # type: ignore[import-untyped]
from setuptools.errors import CompileError  # type: ignore[import-untyped]
from structlog.testing import capture_logs

from s3rb_stream import speedups

ROOT = Path(__file__).resolve().parents[2]


def setup_py() -> ModuleType:
    """setup.py's pieces, without running the build (that needs Cython and runs as __main__)."""
    spec = importlib.util.spec_from_file_location("s3rb_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(tmp_path: Path, must_build: bool) -> Path:
    """setup.py's build of an extension whose C does not compile; the directory it builds into."""
    setup = setup_py()
    broken = tmp_path / "broken.c"
    broken.write_text("#error this is not C\n")
    extension = setup.speedups(Extension(setup.NAME, [str(broken)]), must_build)
    command = setup.BuildSpeedups(Distribution({"name": "probe", "ext_modules": [extension]}))
    command.build_lib, command.build_temp = str(tmp_path / "lib"), str(tmp_path / "temp")
    command.ensure_finalized()
    command.run()
    return tmp_path / "lib"


def test_the_environment_says_whether_the_speedups_must_build() -> None:
    required = setup_py().required
    assert required({"S3RB_REQUIRE_SPEEDUPS": "1"}) and required({"S3RB_REQUIRE_SPEEDUPS": "true"})
    assert not required({}) and not required({"S3RB_REQUIRE_SPEEDUPS": "0"})


def test_where_required_a_failed_compile_fails_the_build_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(CompileError):
        build(tmp_path, must_build=True)
    assert "error: s3rb_stream._speedups was not compiled" in capsys.readouterr().err


def test_otherwise_the_build_goes_on_without_it_and_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = build(tmp_path, must_build=False)
    assert not list(lib.rglob("_speedups*"))
    err = capsys.readouterr().err
    assert "WARNING: s3rb_stream._speedups was not compiled" in err and "S3RB_REQUIRE_SPEEDUPS=1" in err


def test_a_run_without_the_compiled_module_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speedups, "built", None)
    monkeypatch.setattr(speedups, "_why_not", "No module named 's3rb_stream._speedups'")
    monkeypatch.setattr(speedups, "_warned", False)
    try:
        with capture_logs() as logs:
            speedups.use(True)
            speedups.use(True)
            speedups.use(False)
        warned = [e for e in logs if e["log_level"] == "warning"]
        assert len(warned) == 1 and "pure-Python references run" in warned[0]["event"]
        assert speedups.compiled is None and speedups.missing == "turned off by S3RB_SPEEDUPS=false"
    finally:
        monkeypatch.undo()
        speedups.use(True)


def test_the_image_and_the_setup_script_require_the_compiled_module() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    install = dockerfile[dockerfile.index("RUN S3RB_REQUIRE_SPEEDUPS=1") :]
    assert "pip install --no-deps ." in install.split("\n\n")[0]
    assert 'python -I -c "import s3rb_stream._speedups"' in install.split("\n\n")[0]
    script = (ROOT / "scripts" / "setup.sh").read_text()
    assert "S3RB_REQUIRE_SPEEDUPS=1 .venv/bin/python -m pip install" in script
    assert "import s3rb_stream._speedups" in script and "exit 1" in script
