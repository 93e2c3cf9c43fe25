"""``python -m bmw.devstack`` is the ``bmw`` command."""

from bmw.devstack.cli import main

main()
