"""``python -m omniembed``: the same as the ``omniembed`` command."""

import sys

from .cli import main

sys.exit(main())
