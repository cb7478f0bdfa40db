"""A modal relink with a `delivery`: the server answers 422, so the types must refuse it."""

from relink_api_client.models import Delivery, RelinkSessionCreateModal


def body(account_id: str) -> RelinkSessionCreateModal:
    # expect error at Delivery.URL: Argument "delivery" to "RelinkSessionCreateModal"
    return RelinkSessionCreateModal(account_id=account_id, delivery=Delivery.URL)
