"""The review page in a real browser: Debian's chromium, headless, driven by Selenium through chromium-driver.

Nothing is downloaded: the driver is given by path (and SE_OFFLINE keeps selenium-manager quiet). Without
chromium the test skips, except under CI (which installs ``chromium`` and ``chromium-driver``), where
it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline.review.setup import ReviewConfig, review_app
from pipeline.store import RunStore
from tests.conftest import REPO_ROOT
from tests.support.review_fixtures import ARABIC, make_review_run

CHROMIUM = Path(os.environ.get("DOCDISTILL_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("DOCDISTILL_CHROMEDRIVER", "/usr/bin/chromedriver"))
CORRECTED = ARABIC + " (مصحح)"


@pytest.fixture
def browser():
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        message = f"chromium or chromium-driver not installed ({CHROMIUM}, {CHROMEDRIVER}): apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    os.environ["SE_OFFLINE"] = "true"           # selenium-manager must not fetch a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000",
                 "--lang=en-US", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def served(tmp_path):
    """The review app on a real uvicorn server on 127.0.0.1 (a free port), stopped afterwards."""
    import uvicorn

    run, pdfs = make_review_run(tmp_path)
    app, token, _ = review_app(ReviewConfig(run, "amira", pdf_dir=pdfs))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the review server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", token, run
    server.should_exit = True
    thread.join(timeout=30)


def position_of(url: str, token: str, document: str, page_no: int) -> int:
    for position in range(20):
        request = urllib.request.Request(f"{url}/api/item?queue=sample&position={position}",
                                         headers={"X-Review-Token": token})
        found = json.loads(urllib.request.urlopen(request, timeout=30).read())["item"]
        if found and (found["document"], found["page_no"]) == (document, page_no):
            return position
    raise AssertionError(f"{document} page {page_no} not in the sample queue")


def wait(driver, condition, what: str, timeout: float = 30):
    """Poll until ``condition(driver)`` is truthy (an event, not a time: the limit only stops a hang)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition(driver)
        if value:
            return value
        assert time.monotonic() < deadline, (f"the page never showed {what} (status: "
                                             f"{driver.find_element('id', 'status').text!r}, page: "
                                             f"{driver.execute_script('return JSON.stringify(document.body.dataset)')}, "
                                             f"{driver.current_url})")
        time.sleep(0.05)


def shown(driver, queue: str, position: int | str):
    body = driver.find_element("tag name", "body")
    return body.get_attribute("data-state") == "item" and body.get_attribute("data-queue") == queue and \
        body.get_attribute("data-position") == str(position)


def field(driver, path: str, tags: tuple[str, ...] = ("input", "textarea")):
    return driver.find_element("css selector", ", ".join(f'[data-path="{path}"] > {tag}' for tag in tags))


def test_review_in_a_real_browser(browser, served, tmp_path):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    url, token, run = served
    arabic_at = position_of(url, token, "a.pdf", 2)
    browser.get(f"{url}/?token={token}#sample/{arabic_at}")
    wait(browser, lambda d: shown(d, "sample", arabic_at), "the Arabic page")
    assert "token=" not in browser.current_url                   # the token leaves the address bar (a cookie holds it)

    # read the label: the form and the markdown pane hold the teacher's answer, Arabic right to left
    text = field(browser, "elements.0.text")
    assert text.get_attribute("value") == ARABIC
    assert browser.execute_script("return arguments[0].matches(':dir(rtl)')", text)
    markdown = browser.find_element("id", "md")
    assert ARABIC in markdown.get_attribute("value")
    assert browser.execute_script("return arguments[0].matches(':dir(rtl)')", markdown)
    assert ARABIC in browser.find_element("css selector", "#preview h1").text
    assert field(browser, "direction", ("select",)).get_attribute("value") == "ltr"
    wait(browser, lambda d: d.execute_script("return document.getElementById('page').naturalWidth") > 0, "the image")

    # an edit that fails validation: the error shows at the field and Ctrl+Enter stores nothing
    level = field(browser, "elements.0.level")
    level.clear()
    level.send_keys("1.5")
    error = wait(browser, lambda d: d.find_elements("css selector", '[data-path="elements.0.level"] .error'),
                 "the error at the level field")
    assert "integer" in error[0].text
    level.send_keys(Keys.CONTROL, Keys.ENTER)
    wait(browser, lambda d: "does not validate" in d.find_element("id", "status").text, "the refusal")
    level.clear()
    level.send_keys("2")
    wait(browser, lambda d: not d.find_elements("css selector", ".error"), "the error cleared")

    # edit the Arabic field and the markdown, look at it, accept with the keyboard
    text.send_keys(" (مصحح)")
    markdown.send_keys(Keys.END, "\n\nملاحظة: تم التصحيح")
    wait(browser, lambda d: "ملاحظة" in d.find_element("id", "preview").text, "the rendered markdown")
    shot = tmp_path / "review.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("DOCDISTILL_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["DOCDISTILL_SCREENSHOT"])
    text.send_keys(Keys.CONTROL, Keys.ENTER)
    wait(browser, lambda d: d.find_element("tag name", "body").get_attribute("data-last") == "edit", "the edit stored")
    wait(browser, lambda d: not shown(d, "sample", arabic_at), "the next item")

    # reject the next one with the keyboard: r, a reason, Enter
    body = browser.find_element("tag name", "body")
    rejected = (body.get_attribute("data-queue"), body.get_attribute("data-position"))
    browser.execute_script("document.activeElement.blur()")
    body.send_keys("r")
    reason = wait(browser, lambda d: d.find_element("id", "reason").is_displayed() and d.find_element("id", "reason"),
                  "the reject dialog")
    Select(reason).select_by_value("wrong_text")
    browser.find_element("id", "reasonnote").send_keys("totals missing", Keys.ENTER)
    wait(browser, lambda d: d.find_element("tag name", "body").get_attribute("data-last") == "reject",
         "the reject stored")

    # the page moves on after the reject (to the next item, or says all is done) before we navigate
    wait(browser, lambda d: (d.find_element("tag name", "body").get_attribute("data-queue"),
                             d.find_element("tag name", "body").get_attribute("data-position")) != rejected
         or d.find_element("tag name", "body").get_attribute("data-state") == "done", "the item after the reject")

    # two tabs on the same label (one not decided yet): the second save sees a conflict and says so
    targets = {("sample", str(position_of(url, token, name, 1))): name for name in ("a.pdf", "d.pdf")}
    target = next(key for key in targets if key != rejected)
    browser.get(f"{url}/#{target[0]}/{target[1]}")
    wait(browser, lambda d: shown(d, *target), "the target in the first tab")
    first_tab = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(f"{url}/#{target[0]}/{target[1]}")
    wait(browser, lambda d: shown(d, *target), "the target in the second tab")
    browser.find_element("id", "md").send_keys(Keys.END, " (second tab)", Keys.CONTROL, Keys.ENTER)
    wait(browser, lambda d: d.find_element("tag name", "body").get_attribute("data-last") == "edit", "tab 2 saved")
    browser.switch_to.window(first_tab)
    browser.find_element("id", "md").send_keys(Keys.END, " (first tab)", Keys.CONTROL, Keys.ENTER)
    wait(browser, lambda d: "conflict" in d.find_element("id", "status").text, "the conflict")
    assert "(first tab)" in browser.find_element("id", "md").get_attribute("value")   # the edit is still on screen

    with RunStore(run, read_only=True) as store:
        rows = [dict(r) for r in store.iter_verdicts()]
    assert [r["verdict"] for r in rows] == ["edit", "reject", "edit"]
    after = json.loads(rows[0]["label_after"])
    assert after["elements"][0] == {"kind": "heading", "text": CORRECTED, "level": 2}
    assert after["markdown"].endswith("ملاحظة: تم التصحيح")
    assert {d["path"] for d in json.loads(rows[0]["diff"])} == {"elements.0.text", "elements.0.level", "markdown"}
    assert rows[1]["reason"] == "wrong_text: totals missing" and rows[1]["reviewer"] == "amira"
    assert json.loads(rows[2]["label_after"])["markdown"].endswith(" (second tab)")   # not lost to the first tab

    done = subprocess.run([sys.executable, "-m", "pipeline.build_dataset", str(run), "--out", str(tmp_path / "ds"),
                           "--json", "--no-validate", "--val-fraction", "0"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    answers = [json.loads(r["conversations"][1]["value"])
               for r in json.loads((tmp_path / "ds" / "docdistill_train.json").read_text())]
    assert any(a["elements"][0]["text"] == CORRECTED for a in answers)           # the edit replaced the teacher's
    assert summary["dropped"]["rejected_in_review"] == 1
    assert summary["review"]["edited"] == 2 and summary["review"]["rejected_by_reason"] == {"wrong_text": 1}
    assert rejected[0] in ("sample", "manual")
