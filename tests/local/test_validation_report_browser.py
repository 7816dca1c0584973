"""The HTML report opened in headless Chromium renders its plots (screenshot, then pixels checked)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.test_checks_report import sample_report

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM = next((shutil.which(name) for name in _BROWSERS if shutil.which(name)), None)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (apt-get install -y chromium); the HTML report screenshot needs it",
)


def _colour_pixels(image: object, rgb: tuple[int, int, int]) -> int:
    import numpy as np

    pixels = np.asarray(image.convert("RGB"), dtype=int).reshape(-1, 3)  # type: ignore[attr-defined]
    return int((np.abs(pixels - np.array(rgb)) <= 6).all(axis=1).sum())


def test_report_plots_render_in_headless_chromium(tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    page = tmp_path / "report.html"
    page.write_text(sample_report().to_html(), encoding="utf-8")
    shot = tmp_path / "report.png"
    completed = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1000,1300",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert shot.is_file(), completed.stderr[-2000:]
    image = image_module.open(shot)
    assert image.size == (1000, 1300)
    # Each plot paints in its own colour: candidate bars, champion bars, drifted-feature bar, stable bars.
    assert _colour_pixels(image, (0x3D, 0x5A, 0x80)) > 500  # candidate metric bars
    assert _colour_pixels(image, (0x98, 0xA6, 0xB5)) > 500  # champion metric bars
    assert _colour_pixels(image, (0xD1, 0x49, 0x5B)) > 300  # drifted feature (bmi) PSI bar
    assert _colour_pixels(image, (0x2A, 0x9D, 0x8F)) > 300  # stable feature bar, CI, verdict badge
