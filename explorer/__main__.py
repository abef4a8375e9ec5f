"""`python -m explorer`: the command line (see `explorer.cli`)."""

import sys

from .cli import main

sys.exit(main())
