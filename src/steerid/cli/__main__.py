"""``python -m steerid.cli``: the same as the ``steerid`` console script."""

from steerid.cli import main

main()
