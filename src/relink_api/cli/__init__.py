"""The ``relink-api`` command line: the group in ``main``, one module per command group,
and ``resources`` opening what a command needs."""
