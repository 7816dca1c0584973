"""Warm-start helpers: which modules a model's flavor needs, and quiet, interruptible imports."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_sdk.backends.local._warm import (
    WarmTarget,
    import_modules,
    model_modules,
    preload_more,
    script_packages,
    warm_modules,
    warm_target,
)


def test_model_modules_follow_the_flavors_a_script_imports() -> None:
    base = ["mlflow.models", "mlflow.pyfunc"]
    assert model_modules(["torch", "pandas"]) == base
    assert model_modules(["sklearn.linear_model", "pandas"]) == [*base, "mlflow.sklearn", "sklearn.base", "skops.io"]


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "mlops_warm_ok.py").write_text("VALUE = 1\n", encoding="utf-8")
    (tmp_path / "mlops_warm_second.py").write_text("VALUE = 2\n", encoding="utf-8")
    (tmp_path / "mlops_warm_broken.py").write_text("raise RuntimeError('broken on import')\n", encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in ("mlops_warm_ok", "mlops_warm_second", "mlops_warm_broken"):
        sys.modules.pop(name, None)


def test_import_modules_skips_missing_broken_and_loaded_ones(package: Path) -> None:
    names = ["mlops_warm_broken", "mlops_no_such_module", "mlops_warm_ok", "json"]
    assert import_modules(names) == ["mlops_warm_ok"]
    assert "mlops_warm_broken" not in sys.modules
    assert import_modules(["mlops_warm_ok"]) == []


def test_import_modules_stops_when_asked(package: Path) -> None:
    asked: list[int] = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 1

    assert import_modules(["mlops_warm_ok", "mlops_warm_second"], stop=stop) == ["mlops_warm_ok"]
    assert "mlops_warm_second" not in sys.modules


def test_script_packages_leave_out_the_jobs_own_code(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("", encoding="utf-8")
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import argparse
            import helpers
            from sklearn.linear_model import Ridge

            def main():
                import mlflow.sklearn
            """
        ),
        encoding="utf-8",
    )
    target = warm_target("python train.py --alpha 1", tmp_path, {})
    assert target is not None
    assert script_packages(target) == ["argparse", "sklearn.linear_model", "mlflow.sklearn"]
    assert warm_target("python train.py | tee log", tmp_path, {}) is None


def test_paused_gc_restores_the_collectors_state() -> None:
    import gc

    from mlops_sdk.backends.local._warm import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off: it stays off
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("an import failed")
    assert gc.isenabled()


def test_a_script_that_never_imports_mlflow_is_not_warmed_with_it(tmp_path: Path) -> None:
    prep = tmp_path / "prep.py"
    prep.write_text("import argparse\nimport pandas as pd\n", encoding="utf-8")
    train = tmp_path / "train.py"
    train.write_text("import pandas as pd\n\ndef main():\n    import mlflow.sklearn\n", encoding="utf-8")
    assert warm_modules(WarmTarget(script=prep, module=None, args=())) == ["argparse", "pandas"]
    assert preload_more(WarmTarget(script=prep, module=None, args=()), {}, stop=lambda: False) == []
    assert warm_modules(WarmTarget(script=train, module=None, args=())) == ["mlflow", "pandas", "mlflow.sklearn"]
    assert warm_modules(WarmTarget(script=None, module="pkg.train", args=()))[:1] == ["mlflow"]
