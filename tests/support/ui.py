"""What the browser tests share besides their fixtures (tests/ui/conftest.py)."""

UI_JOB = "ui-job"  # the partition the UI tests add by clicking


def open_page(page, url: str) -> None:
    """Open url and wait until the UI has fetched what it shows."""
    page.goto(url)
    page.wait_for_load_state("networkidle")
