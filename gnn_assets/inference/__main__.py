"""`python -m gnn_assets.inference`: GiGL's entry point (the driver's main, then the process ends)."""

from gnn_assets.jobs.driver import main
from gnn_assets.process_exit import run_and_exit

run_and_exit(main)
