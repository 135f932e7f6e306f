"""``python -m semgame``: the ``semgame`` command (:func:`semgame.cli.main`)."""

import sys

from semgame.cli import main

sys.exit(main())
