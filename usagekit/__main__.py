"""``python -m usagekit`` runs the command line."""

import sys

from usagekit.cli import main

sys.exit(main())
