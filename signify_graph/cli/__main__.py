"""``python -m signify_graph.cli``: the same as the ``signify-graph`` command."""

import sys

from . import main

sys.exit(main())
