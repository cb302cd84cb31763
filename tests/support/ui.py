"""What the browser tests share besides their fixtures (tests/ui/conftest.py)."""

UI_JOB = "ui-job"  # the partition the UI tests add by clicking
OTHER_TASK = "demo_link_prediction"  # a second task of the UI's project: a job added to one must not show in the other


def open_page(page, url: str) -> None:
    """Open url and wait until the UI has fetched what it shows."""
    page.goto(url)
    page.wait_for_load_state("networkidle")
