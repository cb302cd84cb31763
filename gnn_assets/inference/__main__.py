import sys

from gnn_assets.inference.driver import main

sys.exit(main())
