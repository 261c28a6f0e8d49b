"""Alembic migrations of the fleet store; ``zerocve.fleet.store`` runs them on open.

``HEAD`` names the newest revision, so that opening an up-to-date store does not import
Alembic at all (a test checks it against Alembic's own idea of the head): raise it with
each new module in ``versions/``.
"""

HEAD = "0004"
