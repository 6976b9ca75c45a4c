"""Webhook subscriptions through the API: the secret shown once, changes, unsubscribing, and
every malformed request a 4xx problem."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook

from app.events.targets import WebhookTargetRefused, check_target
from tests.factories import assert_problem

URL = "/api/v1/webhooks"


def _subscribed(client: TestClient, **body: object) -> dict[str, object]:
    response = client.post(URL, json={"url": "http://127.0.0.1:9/hook", **body})
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def test_a_subscription_shows_its_secret_once(client: TestClient) -> None:
    created = _subscribed(client, event_types=["session.booked"])
    secret = str(created["secret"])
    assert secret.startswith("whsec_")
    # A secret the package signs and verifies with.
    hook = Webhook(secret)
    signed = hook.sign("msg_1", datetime.now(UTC), b"{}")
    hook.verify(
        b"{}",
        {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
            "webhook-signature": signed,
        },
    )
    assert created["event_types"] == ["session.booked"]
    assert created["active"] is True
    read = client.get(f"{URL}/{created['id']}")
    assert "secret" not in read.json()
    assert "secret" not in client.get(URL).text
    assert read.json()["url"] == "http://127.0.0.1:9/hook"
    other = _subscribed(client)
    assert other["secret"] != secret
    assert [w["id"] for w in client.get(URL).json()["items"]] == [other["id"], created["id"]]


def test_a_subscription_changes_and_goes(client: TestClient) -> None:
    created = _subscribed(client)
    url = f"{URL}/{created['id']}"
    etag = client.get(url).headers["ETag"]
    changed = client.patch(url, json={"active": False, "event_types": ["plan.completed"]})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["active"], changed.json()["event_types"]) == (False, ["plan.completed"])
    assert_problem(
        client.patch(url, json={"active": True}, headers={"If-Match": etag}),
        412,
        "version-mismatch",
    )
    assert client.delete(url).status_code == 204
    assert_problem(client.get(url), 404, "not-found")
    assert_problem(client.delete(url), 404, "not-found")
    assert_problem(client.get(f"{url}/deliveries"), 404, "not-found")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "validation-error"),
        ({"url": "ftp://example.org/hook"}, "webhook-target-refused"),
        ({"url": "https://user:pw@example.org/hook"}, "webhook-target-refused"),
        ({"url": "http://[::1/hook"}, "webhook-target-refused"),
        ({"url": "not a url at all"}, "webhook-target-refused"),
        ({"url": "https://example.org/" + "a" * 2100}, "validation-error"),
        ({"url": 12}, "validation-error"),
        ({"url": "https://example.org/h", "event_types": ["session.exploded"]}, "validation-error"),
        (
            {"url": "https://example.org/h", "event_types": ["plan.completed"] * 2},
            "validation-error",
        ),
        ({"url": "https://example.org/h", "event_types": "plan.completed"}, "validation-error"),
        ({"url": "https://example.org/h", "active": "yes"}, "validation-error"),
        ({"url": "https://example.org/h", "secret": "whsec_mine"}, "validation-error"),
    ],
)
def test_a_bad_subscription_is_refused(
    client: TestClient, body: dict[str, object], code: str
) -> None:
    assert_problem(client.post(URL, json=body), 422, code)


def test_bad_requests_on_every_route_are_problems(client: TestClient) -> None:
    created = _subscribed(client)
    url = f"{URL}/{created['id']}"
    for patch in ({"url": None}, {"active": None}, {"event_types": None}, {"id": "x"}, []):
        assert_problem(client.patch(url, json=patch), 422, "validation-error")
    assert_problem(
        client.patch(url, content=b"{", headers={"Content-Type": "application/json"}),
        422,
        "validation-error",
    )
    for path in (f"{URL}/not-a-uuid", f"{URL}/not-a-uuid/deliveries"):
        assert_problem(client.get(path), 422, "validation-error")
    missing = uuid.uuid4()
    assert_problem(client.patch(f"{URL}/{missing}", json={"active": False}), 404, "not-found")
    assert_problem(client.post(f"{url}/deliveries/{missing}/retry"), 404, "not-found")
    assert_problem(client.post(f"{url}/deliveries/nope/retry"), 422, "validation-error")
    assert_problem(client.post(f"{URL}/{missing}/deliveries/{missing}/retry"), 404, "not-found")
    assert_problem(
        client.get(f"{url}/deliveries", params={"cursor": "forged"}), 422, "invalid-cursor"
    )
    assert_problem(client.get(URL, params={"limit": 0}), 422, "validation-error")


def test_production_sends_only_to_public_https_addresses() -> None:
    def resolving_to(*addresses: str):  # type: ignore[no-untyped-def]
        return lambda host, port: list(addresses)

    check_target("http://127.0.0.1:8000/h", public_only=False)  # development: anything
    check_target(
        "https://hooks.example.org/h", public_only=True, resolver=resolving_to("93.184.215.14")
    )
    refused = [
        ("http://hooks.example.org/h", ("93.184.215.14",)),  # not HTTPS
        ("https://hooks.example.org/h", ("127.0.0.1",)),
        ("https://hooks.example.org/h", ("93.184.215.14", "10.0.0.7")),  # any private one
        ("https://hooks.example.org/h", ("169.254.169.254",)),  # link-local: cloud metadata
        ("https://hooks.example.org/h", ("::1",)),
        ("https://hooks.example.org/h", ("fe80::1%eth0",)),
        ("https://hooks.example.org/h", ("::ffff:192.168.1.1",)),
        ("https://hooks.example.org/h", ("fd00::1",)),
        ("https://hooks.example.org/h", ()),  # no address
    ]
    for url, addresses in refused:
        with pytest.raises(WebhookTargetRefused):
            check_target(url, public_only=True, resolver=resolving_to(*addresses))

    def unknown(host: str, port: int) -> list[str]:
        raise OSError("no such name")

    with pytest.raises(WebhookTargetRefused):
        check_target("https://nowhere.invalid/h", public_only=True, resolver=unknown)
