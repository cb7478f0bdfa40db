"""Hosted relink sessions in the sandbox (docs/sandbox.md, "Hosted sessions" and "Hosted
page"): the session's shape through the official SDK, the hosted page a customer opens from
its ``url`` or email, and the ``financial_connections.session.updated`` event."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import stripe

from relink_api.sandbox import store
from relink_api.sandbox.demo import create_demo_customer
from tests.sandbox_server import RunningSandbox

RETURN_URL = "https://app.example.com/relink/done?from=hosted"
HOSTED_PATH = re.compile(r"^/sandbox/hosted/([A-Za-z0-9_-]{20,})$")


class Demo:
    def __init__(self, created: dict[str, Any], authorizations: dict[str, str]) -> None:
        self.customer_id: str = created["customer_id"]
        self.accounts: dict[str, str] = created["accounts"]
        self.authorizations = authorizations

    def __getitem__(self, role: str) -> str:
        return self.accounts[role]


@pytest.fixture
async def demo(sandbox: RunningSandbox) -> Demo:
    async with sandbox.app.state.database.transaction() as conn:
        created = await create_demo_customer(conn)
        authorizations = {}
        for role, account_id in created["accounts"].items():
            account = await store.get(conn, account_id, type="account")
            assert account is not None
            authorizations[role] = account["authorization"]
    return Demo(created, authorizations)


def hosted_params(
    demo: Demo, *, delivery: str = "url", scope: str = "account", **overrides: Any
) -> dict[str, Any]:
    relink: dict[str, Any] = {"authorization": demo.authorizations["relink_required"]}
    params: dict[str, Any] = {
        "account_holder": {"type": "customer", "customer": demo.customer_id},
        "permissions": ["payment_method"],
        "relink_options": relink,
        "ui_mode": "hosted",
        "hosted": {"delivery_method": delivery},
        "return_url": RETURN_URL,
    }
    if scope == "account":
        relink["account"] = demo["relink_required"]
    else:
        params["filters"] = {"account_subcategories": ["checking", "savings"]}
        params["limits"] = {"accounts": 1}
    params.update(overrides)
    return {key: value for key, value in params.items() if value is not None}


async def create_hosted(
    sdk: stripe.StripeClient, demo: Demo, **kwargs: Any
) -> stripe.financial_connections.Session:
    return await sdk.v1.financial_connections.sessions.create_async(
        hosted_params(demo, **kwargs)  # type: ignore[arg-type]
    )


def page_path(sandbox: RunningSandbox, session: stripe.financial_connections.Session) -> str:
    assert session.url is not None
    assert session.url.startswith(sandbox.base_url + "/sandbox/hosted/"), session.url
    return session.url[len(sandbox.base_url) :]


async def submit(
    sandbox: RunningSandbox, path: str, outcome: str, account_id: str | None = None
) -> httpx.Response:
    form = {"outcome": outcome}
    if account_id is not None:
        form["account_id"] = account_id
    return await sandbox.client.post(path, data=form, follow_redirects=False)


async def session_events(sandbox: RunningSandbox, session_id: str) -> list[dict[str, Any]]:
    """The queued ``financial_connections.session.updated`` events for a session, oldest first."""
    async with sandbox.app.state.database.connection() as conn:
        records = await conn.fetch(
            "SELECT payload FROM sandbox.events WHERE type = $1 "
            "AND payload->'data'->'object'->>'id' = $2 ORDER BY seq",
            "financial_connections.session.updated",
            session_id,
        )
    return [record["payload"] for record in records]


async def emails(sandbox: RunningSandbox, **query: str) -> list[dict[str, Any]]:
    response = await sandbox.client.get("/sandbox/control/emails", params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    data: list[dict[str, Any]] = body["data"]
    return data


def assert_html(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    text = response.text
    # Nothing the page's CSP would block: no script at all, no inline style.
    assert "<script" not in text.lower()
    assert "style=" not in text.lower()
    assert "<style" not in text.lower()
    return text


def csp_directives(response: httpx.Response) -> dict[str, str]:
    """The Content-Security-Policy as {directive: its sources}."""
    directives: dict[str, str] = {}
    for part in response.headers["content-security-policy"].split(";"):
        name, _, sources = part.strip().partition(" ")
        directives[name] = sources
    return directives


# --- the session through the SDK ---------------------------------------------------------------


async def test_a_hosted_url_session_has_stripes_shape(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo)

    assert isinstance(session, stripe.financial_connections.Session)
    assert session.status == "pending"
    assert session.ui_mode == "hosted"
    assert session.hosted is not None
    assert session.hosted.delivery_method == "url"
    assert session.hosted.return_url == RETURN_URL
    assert session.return_url == RETURN_URL
    path = page_path(sandbox, session)
    match = HOSTED_PATH.match(path)
    assert match is not None, path
    token = match.group(1)
    # The URL never carries the client secret (nor the session id it starts with).
    assert session.client_secret is not None
    assert session.client_secret.startswith(session.id + "_secret_")
    assert session.client_secret not in path
    assert session.id not in path
    assert "secret" not in token

    again = await sdk.v1.financial_connections.sessions.retrieve_async(session.id)
    assert again.url == session.url
    assert again.hosted is not None
    assert again.hosted.return_url == RETURN_URL

    other = await create_hosted(sdk, demo)
    assert other.url != session.url


async def test_a_modal_session_has_no_hosted_url(sdk: stripe.StripeClient, demo: Demo) -> None:
    session = await sdk.v1.financial_connections.sessions.create_async(
        {
            "permissions": ["payment_method"],
            "relink_options": {"authorization": demo.authorizations["relink_required"]},
            "return_url": RETURN_URL,
        }
    )
    assert session.ui_mode == "modal"
    assert session.hosted is None
    assert session.url is None
    assert session.return_url == RETURN_URL


@pytest.mark.parametrize(
    ("overrides", "param", "code", "words"),
    [
        ({"hosted": None}, "hosted[delivery_method]", "parameter_missing", "delivery_method"),
        ({"hosted": {"delivery_method": "sms"}}, "hosted[delivery_method]", None, "email, url"),
        ({"relink_options": None}, "hosted[delivery_method]", None, "relink_options"),
        ({"return_url": None}, "return_url", "parameter_missing", "return_url"),
        ({"ui_mode": "modal"}, "hosted", None, "ui_mode"),
        ({"return_url": "javascript:alert(1)"}, "return_url", None, "URL"),
        ({"return_url": "https:///nohost"}, "return_url", None, "URL"),
        # urlsplit raises on an unbalanced IPv6 bracket: a 400, never a 500.
        ({"return_url": "https://[abc/done"}, "return_url", None, "URL"),
        ({"hosted": "url"}, "hosted", None, "hash"),
        (
            {"hosted": {"delivery_method": ""}},
            "hosted[delivery_method]",
            "parameter_missing",
            "ui_mode",
        ),
        ({"return_url": "JavaScript:alert(1)"}, "return_url", None, "URL"),
        ({"return_url": "data:text/html,<h1>hi</h1>"}, "return_url", None, "URL"),
        ({"return_url": "https://app.example.com/" + "a" * 2048}, "return_url", None, "URL"),
        # It goes out verbatim in the page's Location header.
        (
            {"return_url": "https://app.example.com/done\r\nSet-Cookie: a=b"},
            "return_url",
            None,
            "URL",
        ),
    ],
)
async def test_hosted_validation_errors_name_the_param(
    sandbox: RunningSandbox,
    sdk: stripe.StripeClient,
    demo: Demo,
    overrides: dict[str, Any],
    param: str,
    code: str | None,
    words: str,
) -> None:
    params = hosted_params(demo)
    for key, value in overrides.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await sdk.v1.financial_connections.sessions.create_async(params)  # type: ignore[arg-type]
    assert caught.value.http_status == 400
    assert caught.value.param == param
    if code is not None:
        assert caught.value.code == code
    assert words in str(caught.value.user_message)
    async with sandbox.app.state.database.connection() as conn:
        assert await store.count(conn, type="hosted_link") == 0


# --- the hosted page --------------------------------------------------------------------------


async def test_the_page_shows_the_bank_with_the_authorizations_accounts(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo, scope="institution")
    response = await sandbox.client.get(page_path(sandbox, session))
    text = assert_html(response, 200)
    assert "Sandbox Bank" in text
    assert (
        "form-action 'self' https://app.example.com"
        in (response.headers["content-security-policy"])
    )
    assert '<link rel="stylesheet" href="/sandbox/hosted.css">' in text
    radios = dict(
        re.findall(
            r'<input type="radio" name="account_id" id="[^"]+" value="(fca_\w+)"([^>]*)>', text
        )
    )
    # The three accounts on the broken authorization; the card is not eligible here.
    assert set(radios) == {
        demo["relink_required"],
        demo["relink_required_savings"],
        demo["credit_card"],
    }
    assert "disabled" in radios[demo["credit_card"]]
    assert "disabled" not in radios[demo["relink_required"]]
    assert "disabled" not in radios[demo["relink_required_savings"]]
    # Institution scope names no account: the first eligible one is chosen to start with.
    checked = [account for account, attributes in radios.items() if "checked" in attributes]
    assert len(checked) == 1
    assert checked[0] != demo["credit_card"]
    for test_id in ("hosted-link", "hosted-link-new", "hosted-login-failed", "hosted-cancel"):
        assert f'data-testid="{test_id}"' in text, test_id
    # Every radio has a label.
    for input_id in re.findall(r'<input type="radio"[^>]* id="([^"]+)"', text):
        assert f'<label for="{input_id}">' in text
    assert session.client_secret is not None
    assert session.client_secret not in text

    css = await sandbox.client.get("/sandbox/hosted.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert ".option" in css.text


async def test_linking_the_account_succeeds_and_redirects_to_the_return_url(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo)
    path = page_path(sandbox, session)
    page = assert_html(await sandbox.client.get(path), 200)
    # Account scope: the account to repair is the one chosen to start with.
    assert re.search(
        rf'value="{demo["relink_required"]}" data-testid="hosted-account" checked', page
    )

    response = await submit(sandbox, path, "link", demo["relink_required"])

    assert response.status_code == 303, response.text
    assert response.headers["location"] == RETURN_URL
    done = await sdk.v1.financial_connections.sessions.retrieve_async(session.id)
    assert done.status == "succeeded"
    assert done.url is None
    assert done.hosted is not None
    assert done.hosted.return_url == RETURN_URL
    assert done.relink_result is not None
    assert done.relink_result.account == demo["relink_required"]
    assert done.relink_result.authorization == demo.authorizations["relink_required"]
    assert [account.id for account in done.accounts.data] == [demo["relink_required"]]
    account = await sdk.v1.financial_connections.accounts.retrieve_async(demo["relink_required"])
    assert account.status == "active"

    # The link is spent: the page says so and leads back; posting again changes nothing.
    again = await sandbox.client.get(path)
    text = assert_html(again, 200)
    assert 'data-testid="hosted-completed"' in text
    assert f'href="{RETURN_URL.replace("&", "&amp;")}"' in text
    assert 'name="outcome"' not in text
    repeat = await submit(sandbox, path, "cancel")
    assert_html(repeat, 409)
    assert (await sdk.v1.financial_connections.sessions.retrieve_async(session.id)).status == (
        "succeeded"
    )


@pytest.mark.parametrize(
    ("scope", "outcome", "status", "reason"),
    [
        ("account", "login_failed", "failed", "no_authorization"),
        ("account", "cancel", "cancelled", None),
        ("account", "link_new", "failed", "no_account"),
        ("institution", "cancel", "cancelled", None),
    ],
)
async def test_outcomes_that_repair_nothing(
    sandbox: RunningSandbox,
    sdk: stripe.StripeClient,
    demo: Demo,
    scope: str,
    outcome: str,
    status: str,
    reason: str | None,
) -> None:
    session = await create_hosted(sdk, demo, scope=scope)

    response = await submit(sandbox, page_path(sandbox, session), outcome)

    assert response.status_code == 303, response.text
    assert response.headers["location"] == RETURN_URL
    done = await sdk.v1.financial_connections.sessions.retrieve_async(session.id)
    assert done.status == status
    assert done.url is None
    assert done.accounts.data == []
    if reason is None:
        assert done.relink_result is None
    else:
        assert done.relink_result is not None
        assert done.relink_result.failure_reason == reason
    account = await sdk.v1.financial_connections.accounts.retrieve_async(demo["relink_required"])
    assert account.status == "inactive"


async def test_linking_a_new_account_in_institution_scope(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo, scope="institution")

    response = await submit(sandbox, page_path(sandbox, session), "link_new")

    assert response.status_code == 303, response.text
    done = await sdk.v1.financial_connections.sessions.retrieve_async(session.id)
    assert done.status == "succeeded"
    [linked] = done.accounts.data
    assert linked.id not in demo.accounts.values()
    assert linked.authorization == demo.authorizations["relink_required"]
    assert linked.status == "active"


async def test_an_unknown_link_is_a_404_page(sandbox: RunningSandbox) -> None:
    for path in ("/sandbox/hosted/" + "x" * 43, "/sandbox/hosted/short"):
        text = assert_html(await sandbox.client.get(path), 404)
        assert 'data-testid="hosted-error"' in text
        assert_html(await submit(sandbox, path, "cancel"), 404)
        # A bad form does not tell a known link from an unknown one either.
        assert_html(await submit(sandbox, path, "bogus"), 404)


async def test_bad_form_input_is_a_400_page_and_changes_nothing(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo)
    path = page_path(sandbox, session)
    bad: list[dict[str, str]] = [
        {"outcome": "bogus"},
        {},
        {"outcome": "link"},  # no account chosen
        {"outcome": "link", "account_id": demo["healthy"]},  # not on this authorization
        {"outcome": "link", "account_id": "fca_doesnotexist"},
        {"outcome": "cancel", "client_secret": "x"},
    ]
    for form in bad:
        response = await sandbox.client.post(path, data=form, follow_redirects=False)
        text = assert_html(response, 400)
        assert 'data-testid="hosted-error"' in text, form
        assert f'href="{path}"' in text
    repeated = await sandbox.client.post(
        path,
        content=b"outcome=cancel&outcome=link",
        follow_redirects=False,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_html(repeated, 400)
    # Refused however the repeat is ordered, even when the last value alone would do.
    repeated_valid_last = await sandbox.client.post(
        path,
        content=b"outcome=link&outcome=cancel",
        follow_redirects=False,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_html(repeated_valid_last, 400)

    still = await sdk.v1.financial_connections.sessions.retrieve_async(session.id)
    assert still.status == "pending"
    assert still.url == session.url
    assert await session_events(sandbox, session.id) == []


async def test_the_completed_page_escapes_the_return_url(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    hostile = 'https://app.example.com/done?q="><script>alert(1)</script>'
    session = await create_hosted(sdk, demo, return_url=hostile)
    path = page_path(sandbox, session)
    response = await submit(sandbox, path, "cancel")
    assert response.status_code == 303
    assert response.headers["location"] == hostile

    text = assert_html(await sandbox.client.get(path), 200)
    assert "&quot;&gt;&lt;script&gt;" in text


async def test_a_custom_scheme_return_url_is_allowed_as_a_form_target(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo, return_url="exampleapp://relink-done")
    response = await sandbox.client.get(page_path(sandbox, session))
    assert "form-action 'self' exampleapp:;" in response.headers["content-security-policy"]
    done = await submit(sandbox, page_path(sandbox, session), "login_failed")
    assert done.status_code == 303
    assert done.headers["location"] == "exampleapp://relink-done"


async def test_an_oversized_form_is_refused_unread(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo)
    path = page_path(sandbox, session)

    response = await sandbox.client.post(
        path, data={"outcome": "cancel", "account_id": "x" * 5000}, follow_redirects=False
    )

    assert "The form is too large." in assert_html(response, 400)
    still = await sdk.v1.financial_connections.sessions.retrieve_async(session.id)
    assert still.status == "pending"


async def test_the_page_is_not_cached_framed_or_indexed(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo)

    response = await sandbox.client.get(page_path(sandbox, session))

    assert_html(response, 200)
    # Its URL is a credential for the session.
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-robots-tag"] == "noindex"
    assert response.headers["x-content-type-options"] == "nosniff"
    directives = csp_directives(response)
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"


async def test_the_redirect_back_keeps_the_page_url_out_of_the_referrer_and_caches(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo)

    response = await submit(sandbox, page_path(sandbox, session), "cancel")

    assert response.status_code == 303, response.text
    # A redirect's own Referrer-Policy governs the request it leads to.
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


async def test_a_return_url_port_is_part_of_the_form_target(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo, return_url="https://app.example.com:8443/done")

    response = await sandbox.client.get(page_path(sandbox, session))

    assert_html(response, 200)
    assert csp_directives(response)["form-action"] == "'self' https://app.example.com:8443"


async def test_an_ipv6_return_url_keeps_its_brackets_in_the_form_target(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo, return_url="http://[::1]:3000/done")

    response = await sandbox.client.get(page_path(sandbox, session))

    assert_html(response, 200)
    assert csp_directives(response)["form-action"] == "'self' http://[::1]:3000"


@pytest.mark.parametrize(
    "return_url",
    ["https://app.example.com;script-src/done", "https://app.example.com:99999/done"],
    ids=["separator-in-host", "port-out-of-range"],
)
async def test_a_return_url_the_policy_cannot_name_safely_adds_no_form_target(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo, return_url: str
) -> None:
    session = await create_hosted(sdk, demo, return_url=return_url)
    path = page_path(sandbox, session)

    response = await sandbox.client.get(path)

    assert_html(response, 200)
    directives = csp_directives(response)
    assert directives["form-action"] == "'self'"
    assert set(directives) == {
        "default-src",
        "style-src",
        "img-src",
        "form-action",
        "base-uri",
        "frame-ancestors",
    }
    done = await submit(sandbox, path, "cancel")
    assert done.status_code == 303
    assert done.headers["location"] == return_url


# --- email delivery ---------------------------------------------------------------------------


async def test_email_delivery_records_the_email_with_the_link(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo, delivery="email")
    other = await create_hosted(sdk, demo, delivery="email")

    assert session.hosted is not None
    assert session.hosted.delivery_method == "email"
    assert session.url is not None
    [email] = await emails(sandbox, session=session.id)
    assert email["id"].startswith("email_")
    assert email["object"] == "sandbox.email"
    assert email["to"] == "demo@example.com"
    assert email["session"] == session.id
    assert email["url"] == session.url
    assert session.url in email["text"]
    assert "Sandbox Bank" in email["subject"]
    assert isinstance(email["created"], int)
    assert session.client_secret is not None
    assert session.client_secret not in email["text"]

    # Newest first, filtered by recipient; the url delivery sent nothing.
    await create_hosted(sdk, demo, delivery="url")
    listed = await emails(sandbox, to="demo@example.com")
    assert [item["session"] for item in listed] == [other.id, session.id]
    assert await emails(sandbox, to="nobody@example.com") == []

    # The emailed link is the hosted page.
    page = await sandbox.client.get(email["url"][len(sandbox.base_url) :])
    assert_html(page, 200)


async def test_email_delivery_is_refused_without_an_email(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    async with sandbox.app.state.database.transaction() as conn:
        customer = await store.get(conn, demo.customer_id, type="customer")
        assert customer is not None
        customer["email"] = None
        await store.put(conn, customer, type="customer")

    for holder in (True, False):
        params = hosted_params(demo, delivery="email")
        if not holder:
            # The authorization's own holder is asked then: the same customer.
            params.pop("account_holder")
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await sdk.v1.financial_connections.sessions.create_async(params)  # type: ignore[arg-type]
        assert caught.value.http_status == 400
        assert caught.value.param == "hosted[delivery_method]"
        assert "email" in str(caught.value.user_message)
        assert demo.customer_id in str(caught.value.user_message)
    assert await emails(sandbox) == []
    # A url delivery needs no email.
    assert (await create_hosted(sdk, demo, delivery="url")).url is not None


# --- financial_connections.session.updated -----------------------------------------------------


async def test_session_updated_is_queued_when_a_hosted_session_completes(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await create_hosted(sdk, demo)
    assert await session_events(sandbox, session.id) == []

    response = await submit(sandbox, page_path(sandbox, session), "link", demo["relink_required"])
    assert response.status_code == 303

    [event] = await session_events(sandbox, session.id)
    assert event["object"] == "event"
    assert event["type"] == "financial_connections.session.updated"
    data = event["data"]["object"]
    assert data["object"] == "financial_connections.session"
    assert data["status"] == "succeeded"
    assert data["url"] is None
    assert data["ui_mode"] == "hosted"
    assert data["relink_result"]["authorization"] == demo.authorizations["relink_required"]
    assert not any(key.startswith("_") for key in data)
    # The app's webhook endpoint takes it (2xx) like any other event.
    flushed = await sandbox.client.post("/sandbox/control/outbox/flush")
    assert flushed.json()["pending"] == 0


async def test_session_updated_is_queued_when_a_modal_session_completes(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: Demo
) -> None:
    session = await sdk.v1.financial_connections.sessions.create_async(
        {
            "permissions": ["payment_method"],
            "relink_options": {"authorization": demo.authorizations["relink_required"]},
        }
    )
    response = await sandbox.client.post(
        "/sandbox/bank/session/complete",
        json={"client_secret": session.client_secret, "outcome": "cancel"},
        headers={"Authorization": f"Bearer {sandbox.publishable_key}"},
    )
    assert response.status_code == 200, response.text

    [event] = await session_events(sandbox, session.id)
    assert event["data"]["object"]["status"] == "cancelled"
    assert event["data"]["object"]["hosted"] is None
    outbox = (await sandbox.client.get("/sandbox/control/outbox")).json()["data"]
    assert any(
        item["type"] == "financial_connections.session.updated" and item["object_id"] == session.id
        for item in outbox
    )
