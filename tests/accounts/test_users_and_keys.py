"""Staff accounts and API keys: what admins manage, and the admin the clinic always keeps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from app.access import credentials
from app.models import ApiKey
from app.roles import Role
from tests.accounts.steps import demote_each_other, log_in, token_of
from tests.factories import ClientFactory, UserFactory, assert_problem, bearer


def test_admins_manage_users_and_changes_take_effect_at_once(
    client: TestClient, anonymous: TestClient, engine: Engine
) -> None:
    created = client.post(
        "/api/v1/users",
        json={"username": "N.Petit", "password": "a long enough pass", "role": "receptionist"},
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["username"], user["role"], user["active"]) == ("n.petit", "receptionist", True)
    assert "a long enough pass" not in created.text
    assert "password_hash" not in created.text
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM users")).scalars().all()
    assert any(h.startswith("$argon2id$") for h in stored)
    assert not any("a long enough pass" in h for h in stored)

    assert_problem(
        client.post(
            "/api/v1/users",
            json={"username": "n.PETIT", "password": "another long one", "role": "admin"},
        ),
        409,
        "username-taken",
    )
    for bad in (
        {"username": "ab", "password": "long enough pass", "role": "admin"},
        {"username": "has space", "password": "long enough pass", "role": "admin"},
        {"username": "shorty", "password": "short", "role": "admin"},
        {"username": "roleless", "password": "long enough pass", "role": "janitor"},
        {"username": "extra", "password": "long enough pass", "role": "admin", "active": False},
    ):
        assert_problem(client.post("/api/v1/users", json=bad), 422, "validation-error")

    headers = token_of(anonymous, "n.petit", "a long enough pass")
    url = f"/api/v1/users/{user['id']}"
    promoted = client.patch(url, json={"role": "clinician"})
    assert promoted.json()["role"] == "clinician"
    assert anonymous.get("/api/v1/auth/me", headers=headers).json()["role"] == "clinician"

    reset = client.patch(
        url, json={"password": "a brand new secret"}, headers={"If-Match": 'W/"2"'}
    )
    assert reset.status_code == 200, reset.text
    assert_problem(anonymous.get("/api/v1/auth/me", headers=headers), 401, "invalid-token")
    assert_problem(log_in(anonymous, "n.petit", "a long enough pass"), 401, "invalid-credentials")
    headers = token_of(anonymous, "n.petit", "a brand new secret")

    assert_problem(
        client.patch(url, json={"active": False}, headers={"If-Match": 'W/"1"'}),
        412,
        "version-mismatch",
    )
    assert client.patch(url, json={"active": False}).json()["active"] is False
    assert_problem(anonymous.get("/api/v1/auth/me", headers=headers), 401, "invalid-token")
    assert_problem(log_in(anonymous, "n.petit", "a brand new secret"), 401, "invalid-credentials")
    # Switched on again: a fresh login works, the token from before stays dead.
    assert client.patch(url, json={"active": True}).json()["active"] is True
    assert_problem(anonymous.get("/api/v1/auth/me", headers=headers), 401, "invalid-token")
    assert (
        anonymous.get(
            "/api/v1/auth/me", headers=token_of(anonymous, "n.petit", "a brand new secret")
        ).status_code
        == 200
    )

    listed = client.get("/api/v1/users").json()["items"]
    assert "n.petit" in [u["username"] for u in listed]
    assert_problem(client.patch(f"/api/v1/users/{uuid.uuid4()}", json={}), 404, "not-found")
    assert_problem(client.patch(url, json={"active": "no"}), 422, "validation-error")


def test_integrations_use_api_keys_that_admins_list_and_revoke(
    client: TestClient, anonymous: TestClient, engine: Engine
) -> None:
    created = client.post("/api/v1/api-keys", json={"name": "Hospital EHR"})
    assert created.status_code == 201, created.text
    key = created.json()
    secret = key["key"]
    assert secret.startswith("scl_")
    assert key["prefix"] == secret[:12]
    assert key["role"] == "integration"
    headers = {"Authorization": f"Bearer {secret}"}
    me = anonymous.get("/api/v1/auth/me", headers=headers).json()
    assert (me["kind"], me["name"], me["role"]) == ("api-key", "Hospital EHR", "integration")
    assert anonymous.get("/api/v1/patients", headers=headers).status_code == 200
    assert_problem(
        anonymous.post("/api/v1/practitioners", headers=headers, json={}), 403, "forbidden"
    )

    with engine.connect() as connection:
        stored = connection.execute(text("SELECT * FROM api_keys")).all()
    assert secret not in repr(stored)

    listed = client.get("/api/v1/api-keys").json()["items"]
    assert [k["id"] for k in listed] == [key["id"]]
    assert "key" not in listed[0]

    revoked = client.delete(f"/api/v1/api-keys/{key['id']}")
    assert revoked.json()["revoked_at"] is not None
    assert client.delete(f"/api/v1/api-keys/{key['id']}").json() == revoked.json()  # harmless
    assert_problem(anonymous.get("/api/v1/patients", headers=headers), 401, "invalid-token")
    assert client.get("/api/v1/api-keys").json()["items"] == []
    assert len(client.get("/api/v1/api-keys?include_revoked=true").json()["items"]) == 1

    # The key listed no patients (there were none); it was refused a practitioner, then,
    # once revoked, the patient list: both refusals are in the trail, newest first.
    keyed = client.get("/api/v1/audit-events", params={"actor_id": key["id"]}).json()["items"]
    assert [(e["actor_kind"], e["resource_type"], e["outcome"]) for e in keyed] == [
        ("api-key", "patient", "denied"),
        ("api-key", "practitioner", "denied"),
    ]
    assert "revoked" in keyed[0]["detail"]
    assert_problem(
        client.post("/api/v1/api-keys", json={"name": "Root", "role": "admin"}),
        422,
        "validation-error",
    )

    assert_problem(client.post("/api/v1/api-keys", json={"name": ""}), 422, "validation-error")
    assert_problem(
        client.post("/api/v1/api-keys", json={"name": "x", "role": "root"}),
        422,
        "validation-error",
    )


def test_people_other_than_admins_cannot_manage_access(client_as: ClientFactory) -> None:
    for role in (Role.CLINICIAN, Role.RECEPTIONIST, Role.INTEGRATION):
        client = client_as(role)
        for method, path in (
            ("GET", "/api/v1/users"),
            ("POST", "/api/v1/api-keys"),
            ("GET", "/api/v1/audit-events"),
        ):
            assert_problem(client.request(method, path, json={}), 403, "forbidden")


def test_a_token_names_a_user_who_must_still_exist(
    app: FastAPI, anonymous: TestClient, make_user: UserFactory, engine: Engine
) -> None:
    user = make_user(Role.ADMIN)
    headers = bearer(app, user)
    assert anonymous.get("/api/v1/auth/me", headers=headers).status_code == 200
    with engine.begin() as connection:
        connection.execute(text("UPDATE users SET active = :off"), {"off": False})
    assert_problem(anonymous.get("/api/v1/auth/me", headers=headers), 401, "invalid-token")


def test_an_admin_cannot_switch_off_or_demote_their_own_account(
    app: FastAPI, anonymous: TestClient, make_user: UserFactory
) -> None:
    me = make_user(Role.ADMIN, "head.admin")
    other = make_user(Role.ADMIN, "second.admin")
    headers = token_of(anonymous, "head.admin")
    for change in ({"active": False}, {"role": "clinician"}):
        response = anonymous.patch(f"/api/v1/users/{me}", json=change, headers=headers)
        assert_problem(response, 409, "own-account")
    # A password change of one's own is fine; so is demoting another admin.
    own = anonymous.patch(
        f"/api/v1/users/{me}", json={"password": "my new long secret"}, headers=headers
    )
    assert own.status_code == 200
    headers = token_of(anonymous, "head.admin", "my new long secret")
    demoted = anonymous.patch(f"/api/v1/users/{other}", json={"role": "clinician"}, headers=headers)
    assert demoted.json()["role"] == "clinician"


def test_the_last_active_admin_stays_one(
    db_sessions: sessionmaker[Session], make_user: UserFactory
) -> None:
    from app.access.credentials import Passwords
    from app.accounts.schemas import UserUpdate
    from app.accounts.users import LastAdmin, update_user

    only = make_user(Role.ADMIN, "only.admin")
    make_user(Role.ADMIN, "retired.admin", active=False)
    with db_sessions.begin() as db:
        for change in (UserUpdate(active=False), UserUpdate(role=Role.RECEPTIONIST)):
            try:
                update_user(
                    db=db,
                    user_id=only,
                    changes=change,
                    expected_version=None,
                    acting_user_id=None,
                    passwords=Passwords(),
                )
            except LastAdmin:
                continue
            raise AssertionError(f"{change} left the clinic without an admin")


def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    app: FastAPI, engine: Engine, make_user: UserFactory
) -> None:
    for round_ in range(3):
        with engine.begin() as connection:  # the two of this round are the only admins
            connection.execute(text("UPDATE users SET active = :off"), {"off": False})
        first = make_user(Role.ADMIN, f"first.{round_}")
        second = make_user(Role.ADMIN, f"second.{round_}")
        # One wins; the other is refused: the last admin stays one (409), or the loser was
        # demoted before its request was let in (403). Never a deadlock's 503.
        assert demote_each_other(app, first, second) in ([200, 403], [200, 409])
        with engine.connect() as connection:
            admins = connection.execute(
                text("SELECT count(*) FROM users WHERE role = 'admin' AND active = :on"),
                {"on": True},
            ).scalar_one()
        assert admins == 1


def test_an_admin_api_key_made_by_hand_is_not_honoured(
    client: TestClient, anonymous: TestClient, engine: Engine
) -> None:
    made = credentials.new_api_key()
    key_id = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            ApiKey.__table__.insert().values(
                id=key_id,
                name="Hand-made",
                role=Role.ADMIN,
                prefix=made.prefix,
                key_hash=made.key_hash,
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
                version=1,
            )
        )
    response = anonymous.get("/api/v1/users", headers={"Authorization": f"Bearer {made.secret}"})
    assert_problem(response, 401, "invalid-token")
    events = client.get("/api/v1/audit-events", params={"actor_id": str(key_id)}).json()["items"]
    assert [(e["outcome"], e["detail"]) for e in events] == [
        ("denied", "401: API keys cannot act as admin")
    ]
