"""Headless Chromium for browser tests: Debian's chromium and chromium-driver, driven by
selenium. `make system-deps` (run by .ci/run) installs both; where they are missing the
tests skip and say so.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Gitignored: every browser test saves what it saw here.
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM = os.environ.get("SYNC_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SYNC_CHROMEDRIVER", "/usr/bin/chromedriver")


def browser_missing() -> str | None:
    """None when a headless browser can run here, else why not."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (Path(path).exists() or shutil.which(path)):
            return f"{path} not found: install Debian's {package} (`make system-deps`)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (requirements-dev.txt)"
    return None


@contextmanager
def chrome(width: int = 1400, height: int = 900) -> Iterator[Any]:
    """A headless Chromium session; skips the test with the reason when there is none.
    The flags keep Chromium off the network (this machine's is closed) and out of the
    profile of whoever runs the tests."""
    reason = browser_missing()
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="sync-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={width},{height}",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: Any, name: str) -> Path:
    """Saves the current page as screenshots/<name>.png and returns the path."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
