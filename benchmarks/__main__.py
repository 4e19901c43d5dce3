"""``python -m benchmarks [--only NAME] [--quick]``."""

import sys

from benchmarks.run import main

sys.exit(main())
