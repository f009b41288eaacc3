"""The history dashboard read in a real browser (Debian's chromium through chromedriver, driven by selenium),
opened from the file system as a user opens a committed page: no server. The data are those of
tests/test_history_dashboard.py."""

import shutil

import pytest

from history.render import write

webdriver = pytest.importorskip("selenium.webdriver", reason="needs the dev extra (selenium)")
pytestmark = pytest.mark.skipif(
    not (shutil.which("chromedriver") and (shutil.which("chromium") or shutil.which("chromium-browser"))),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run does)",
)

from tests.test_history_dashboard import history_root  # noqa: E402, F401 (the fixture)


@pytest.fixture
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    yield driver
    driver.quit()


def test_the_dashboard_reads_in_a_browser_from_the_file_system(history_root, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    write(history_root)
    browser.get((history_root / "index.html").as_uri())
    assert browser.title == "kailash-dataflow conformance history"
    matrix = browser.find_element(By.CSS_SELECTOR, "#backend-sqlite table.matrix")
    headers = [th.text for th in matrix.find_elements(By.CSS_SELECTOR, "thead th")]
    assert headers[:2] == ["clause", "first passed"] and len(headers) == 5  # three releases as columns
    cell = matrix.find_element(By.CSS_SELECTOR, 'td[title="CRUD-001 2.1.0: failed"]')
    assert cell.text == "✗" and cell.value_of_css_property("background-color") == "rgba(247, 212, 212, 1)"
    regression = browser.find_element(By.CSS_SELECTOR, "#backend-sqlite table.regressions tbody tr")
    assert regression.text.startswith("CRUD-001 2.0.0 2.1.0 test_crud-001[sqlite-local]")
    lines = browser.find_elements(By.CSS_SELECTOR, "#plot-sqlite polyline.area")
    assert sorted(line.get_attribute("data-area") for line in lines) == ["CRUD", "QUERY"]
    assert all(line.size["width"] > 100 for line in lines)  # drawn across the releases, not collapsed
    assert "kailash-dataflow 2.10.0 on sqlite: 2/3 clauses" in browser.find_element(By.ID, "badge-sqlite").text
