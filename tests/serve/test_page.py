"""The page at `/` in a real headless Chromium (Debian's chromium + chromium-driver, via Selenium):
type a post, attach an image made here, submit, and find the entity, its confidence, the image
and the text read from it in the rendered page. A screenshot is kept with the test's output.

Marked `browser`: `python -m pytest -m browser tests/serve/test_page.py`. Without Chromium it
skips, unless SPACY_ITA_REQUIRE_BROWSER=1 (CI, which installs it) makes that a failure."""

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from serve_support import BLUE, ServerProcess

pytestmark = pytest.mark.browser
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT = 60
POST = "RT @user : I love Obama so much # fun"


def browser_or_skip():
    missing = [path for path in (CHROMIUM, DRIVER) if not Path(path).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (the `dev` extra)")
    if missing:
        reason = f"no headless browser: {', '.join(missing)} missing (apt-get install chromium chromium-driver)"
        if os.environ.get("SPACY_ITA_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def driver(tmp_path):
    browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    browser.set_page_load_timeout(WAIT)
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def server(served_model, tmp_path_factory):
    process = ServerProcess(served_model, log_path=tmp_path_factory.mktemp("page") / "server.log")
    yield process
    process.stop()


def post_image(path: Path) -> Path:
    """A blue picture (the test backends read "PARIS" from a blue image) with a white sign on it."""
    image = Image.new("RGB", (320, 200), BLUE)
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 60, 260, 140), fill=(255, 255, 255))
    draw.text((120, 92), "PARIS", fill=(0, 0, 0))
    image.save(path)
    return path


def test_post_and_image_in_entities_and_image_text_out(server, driver, tmp_path, request):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(server.url + "/")
    WebDriverWait(driver, WAIT).until(lambda d: "labels" in d.find_element(By.ID, "model-info").text)
    assert "LOC, ORG, PER" in driver.find_element(By.ID, "model-info").text
    driver.find_element(By.ID, "text").send_keys(POST)
    driver.find_element(By.ID, "image").send_keys(str(post_image(tmp_path / "sign.png")))
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, WAIT).until(ready.visibility_of_element_located((By.CSS_SELECTOR, "#entities mark")))

    marks = driver.find_elements(By.CSS_SELECTOR, "#entities mark.entity")
    found = {m.get_attribute("data-label"): m for m in marks}
    assert "PER" in found and found["PER"].text.startswith("Obama"), [m.text for m in marks]
    confidence = float(found["PER"].find_element(By.CSS_SELECTOR, ".entity-confidence").text)
    assert 0.0 < confidence <= 1.0
    assert driver.find_element(By.ID, "entities").text.replace("\n", " ").startswith("RT @user : I love Obama")
    assert driver.find_element(By.ID, "view").text == "cross modal"
    assert "PARIS" in [chip.text for chip in driver.find_elements(By.CSS_SELECTOR, "#context .ita-chip")]
    loaded = driver.execute_script("const i = document.getElementById('post-image'); return i && i.naturalWidth;")
    assert loaded == 320
    screenshot = tmp_path / "page.png"
    driver.save_screenshot(str(screenshot))
    kept = keep(screenshot, request)
    print(f"screenshot: {kept}")
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors  # no CSP violation, no failed asset: the page works offline


def test_an_error_is_shown_not_thrown(server, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(server.url + "/")
    driver.find_element(By.ID, "text").send_keys("x" * 20)
    driver.execute_script("document.getElementById('text').value = 'x'.repeat(20000);")  # over --max-text-chars
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, WAIT).until(lambda d: "Error 413" in d.find_element(By.ID, "status").text)
    assert "max-text-chars" in driver.find_element(By.ID, "status").text
    assert driver.find_element(By.ID, "result").get_attribute("hidden") is not None


def keep(screenshot: Path, request) -> Path:
    """Copy the screenshot into $SPACY_ITA_TEST_OUTPUT (CI keeps that folder), else leave it in tmp_path."""
    folder = os.environ.get("SPACY_ITA_TEST_OUTPUT")
    if not folder:
        return screenshot
    target = Path(folder) / f"{request.node.name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, target)
    return target


def test_the_api_docs_render_offline(server, driver):
    """/docs: Swagger UI from the service itself (fastapi-offline's copy), no CDN, lists the endpoints."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(server.url + "/docs")
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
    paths = {
        element.text.replace("\u200b", "") for element in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    }
    assert {"/v1/entities", "/v1/model"} <= paths, paths
    scripts = [s.get_attribute("src") for s in driver.find_elements(By.CSS_SELECTOR, "script[src]")]
    assert scripts and all(src.startswith(server.url) for src in scripts), scripts
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
