"""What the tests share besides fixtures: deployments, servers, oracles and waits."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the project's checkout
