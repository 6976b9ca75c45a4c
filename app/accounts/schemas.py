"""Bodies for logging in, staff accounts and integration keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, WithJsonSchema

from app.pagination import Page
from app.roles import Permission, Role
from app.schemas import Boolean, InputModel, Name, ReadModel, Stored

Username = Annotated[
    str,
    StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$"),
    Field(description="Letters, digits and . _ @ -; not case-sensitive", examples=["m.durand"]),
]
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
Password = Annotated[
    str,
    Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        examples=["correct horse battery staple"],
        description=f"At least {MIN_PASSWORD_LENGTH} characters, no control character; not "
        "a character, word or pattern repeated, not the username, not one of the most common "
        "passwords, not easy to guess by zxcvbn's estimate (422 `weak-password`)",
    ),
]


def _printable(value: str) -> str:
    # No username holds one (`Username`): a name that does is refused before it is tried, so
    # it never reaches the audit trail, where it could forge or turn around what an event says.
    if not value.isprintable():
        raise ValueError("must not contain control or format characters (no username does)")
    return value


class LoginForm(BaseModel):
    """The OAuth2 password flow's form (`application/x-www-form-urlencoded`). Other fields an
    OAuth2 client may add (`scope`, `client_id`) are ignored."""

    username: Annotated[str, AfterValidator(_printable)] = Field(
        min_length=1, max_length=64, examples=["front-desk"]
    )
    password: str = Field(
        min_length=1, max_length=MAX_PASSWORD_LENGTH, examples=["correct horse battery staple"]
    )
    grant_type: str = Field(
        default="password", pattern="^password$", description="Always `password`"
    )


class TokenRead(ReadModel):
    """An OAuth2 bearer token (RFC 6749, section 5.1)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int = Field(description="Seconds until the token expires")


class PasswordChange(InputModel):
    """Your current password, and the new one."""

    current_password: str = Field(
        min_length=1, max_length=MAX_PASSWORD_LENGTH, examples=["correct horse battery staple"]
    )
    new_password: Password


class PrincipalRead(ReadModel):
    """Who the credential belongs to and what that role may do."""

    kind: Literal["user", "api-key"]
    id: uuid.UUID
    name: str
    role: Role
    permissions: list[Permission]


_LINK = (
    "The practitioner this person is: the evaluations and clearances they record are signed "
    "in that name, and no other. One account per practitioner"
)


class UserCreate(InputModel):
    username: Username
    password: Password
    role: Role
    practitioner_id: uuid.UUID | None = Field(default=None, description=_LINK)


class UserUpdate(InputModel):
    """Send only what changes. A new password ends the user's open sessions."""

    role: Role | None = None
    active: Boolean | None = Field(default=None, description="false: the user cannot log in")
    password: Password | None = None
    practitioner_id: uuid.UUID | None = Field(
        default=None, description=f"{_LINK}; `null` unlinks the account"
    )


class UserRead(Stored):
    id: uuid.UUID
    username: str
    role: Role
    active: bool
    password_changed_at: datetime
    sessions_valid_from: datetime = Field(
        description="Tokens issued before this are refused (password reset, switched off)"
    )
    practitioner_id: uuid.UUID | None = Field(
        description="The practitioner this person signs evaluations and clearances as, if any"
    )


def _not_admin(role: Role) -> Role:
    # A key never expires and is never throttled: administration stays with people who log in.
    if role is Role.ADMIN:
        raise ValueError("an API key cannot carry the admin role")
    return role


class ApiKeyCreate(InputModel):
    name: Name = Field(description="Which system uses the key", examples=["Hospital EHR"])
    role: Annotated[
        Role,
        AfterValidator(_not_admin),
        # The roles a key may carry: the document offers no value the server refuses.
        WithJsonSchema({"type": "string", "enum": [r.value for r in Role if r is not Role.ADMIN]}),
    ] = Field(default=Role.INTEGRATION, description="Any role but `admin`")


class ApiKeyRead(ReadModel):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(
        description="The key itself, shown this once: send it as `Authorization: Bearer <key>`"
    )


class UserPage(Page[UserRead]):
    """A page of staff accounts."""


class ApiKeyPage(Page[ApiKeyRead]):
    """A page of API keys."""
