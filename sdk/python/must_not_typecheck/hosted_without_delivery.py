"""A hosted relink without `delivery`: the server answers 422, so the types must refuse it."""

from relink_api_client.models import RelinkSessionCreateHosted


def body(account_id: str) -> RelinkSessionCreateHosted:
    # expect error at RelinkSessionCreateHosted: Missing positional argument "delivery"
    return RelinkSessionCreateHosted(account_id=account_id, ui_mode="hosted")
