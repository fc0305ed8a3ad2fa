"""Screenshots of the steward pages (docs/steward-*.png) from a published demo, in Debian's chromium.

    cdp demo --out /tmp/demo --people 2000 && cdp run --config /tmp/demo/cdp.yaml
    python docs/steward_screenshots.py /tmp/demo/cdp.yaml

Serves the app in this process on a free port with a throw-away steward key, signs in, and takes the
queue, its top candidate and that candidate's left customer. Nothing is decided, merged or split.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from api.main import create_app
from cdp.config import load_config

KEY = "screenshot-steward"
OUT = Path(__file__).parent


def main(config: str) -> None:
    os.environ["CDP_API_KEYS"] = f"{KEY}:steward"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(load_config(config)), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}/steward"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(base + "/login")
            page.fill("#api_key", KEY)
            page.click("button[type=submit]")
            page.screenshot(path=OUT / "steward-queue.png")
            page.click("a.open >> nth=0")
            page.screenshot(path=OUT / "steward-candidate.png", full_page=True)
            page.click("table.pair thead a >> nth=0")
            page.screenshot(path=OUT / "steward-customer.png", full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join()


if __name__ == "__main__":
    main(sys.argv[1])
