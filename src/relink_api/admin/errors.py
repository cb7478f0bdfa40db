"""What the operator API refuses."""

from __future__ import annotations

from relink_api.errors import Conflict


class AccountWithoutOwner(
    Conflict, slug="account-without-owner", title="This account belongs to no customer yet"
):
    """A relink email for an account no customer owns yet."""
