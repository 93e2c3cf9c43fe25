"""``python -m bmw.devstack`` is the ``bmw`` command."""

from .cli import main

main()
