"""The studio in a real browser (Debian's chromium driven by Playwright): open it, generate with each kind
of model, see the results, and find the settings inside the PNG the page shows.

.ci/run installs chromium and sets NOISECRAFT_REQUIRE_BROWSER=1, so there a missing browser fails; on a
machine without one these tests are skipped."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import threading
import time

import pytest
from PIL import Image

from noisecraft.serve.api import create_app
from noisecraft.serve.service import Service


def chromium() -> str:
    path = os.environ.get("NOISECRAFT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("NOISECRAFT_REQUIRE_BROWSER"):
            pytest.fail("no chromium found (set NOISECRAFT_CHROMIUM or install Debian's chromium)")
        pytest.skip("no chromium on this machine")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackServer:
    """uvicorn on 127.0.0.1:free port in a thread, stopped (with the app's lifespan) on exit."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    path = chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def choose(page, dropdown: str, option: str) -> None:
    page.click(f"{dropdown} input")
    page.get_by_role("option", name=option, exact=True).click()


def test_generate_images_and_texts_in_the_studio(browser, served, tmp_path):
    with LoopbackServer(create_app(Service(served, max_batch=6))) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url + "/")
        page.wait_for_selector("#generate", timeout=60_000)
        assert page.is_hidden("#class") and page.is_hidden("#prompt")

        page.click("#generate")  # the first model (vae), 6 samples (the slider's default is min(8, max batch))
        page.wait_for_function("document.querySelectorAll('#gallery img').length == 6", timeout=60_000)
        src = page.get_attribute("#gallery img", "src")
        png = Image.open(io.BytesIO(page.request.get(src).body()))
        settings = json.loads(png.text["noisecraft"])
        assert settings["model"] == "vae" and settings["seed"] == 0 and settings["num"] == 6 and settings["index"] == 0

        choose(page, "#model", "diff")
        page.wait_for_selector("#class", state="visible")
        choose(page, "#class", "b")
        page.fill("#seed input", "7")
        page.click("#generate")
        page.wait_for_function("document.querySelector('#settings').innerText.includes('diffusion')", timeout=60_000)
        page.wait_for_function("document.querySelectorAll('#gallery img').length == 6", timeout=60_000)
        settings = page.inner_text("#settings")
        assert '"b"' in settings and "--seed 7" in settings

        choose(page, "#model", "text")
        page.wait_for_selector("#prompt textarea", state="visible")
        page.fill("#prompt textarea", "he")
        page.click("#generate")
        page.wait_for_function("(document.querySelector('#texts textarea') || {}).value?.includes('--- sample 6 (seed 12) ---')",
                               timeout=60_000)
        assert page.input_value("#texts textarea").startswith("--- sample 1 (seed 7) ---\nhe")
        history = page.inner_text("#history")
        assert all(name in history for name in ("vae", "diff", "text"))
        page.screenshot(path=str(tmp_path / "studio.png"), full_page=True)
        assert Image.open(tmp_path / "studio.png").size[0] == 1400


def test_a_studio_with_a_token_opens_from_its_link_only(browser, served):
    with LoopbackServer(create_app(Service(served), token="s3cret-s3cret-s3cret")) as url:
        page = browser.new_page()
        assert page.goto(url + "/").status == 401
        assert page.goto(url + "/?token=s3cret-s3cret-s3cret").status == 200
        page.wait_for_selector("#generate", timeout=60_000)
        assert "token" not in page.url  # redirected to the page without it
        page.click("#generate")  # the page's own requests carry the session cookie
        page.wait_for_function("document.querySelectorAll('#gallery img').length == 8", timeout=60_000)
