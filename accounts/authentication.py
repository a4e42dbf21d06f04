"""Token login for field apps, with the token's user and roles kept in the shared cache.

Every request of the phone app sends ``Authorization: Token …``. DRF's TokenAuthentication
reads the token and its user, and the write permission then reads the user's roles: two
queries and their ORM work on every visit logged, for facts that change a few times a year.
Here a token's user and scope (``accounts.scoping.Scope``) are read from the cache that every
worker shares (Redis in production: config/settings/production.py), in one round trip, and
from the database only when the cache has no current entry.

Correctness comes first. Every entry carries the *generation* it was read under, a random value
kept in the cache beside it; an entry whose generation is not the current one is not used.
The generation is replaced, so every entry is forgotten at once, whenever a fact an entry holds
may have changed: a token created, changed or deleted (revoked), a user saved or deleted (made
inactive, renamed, made superuser), a role assignment saved or deleted, a region saved (its
path is what a role covers). It is replaced when the change is made and again when its
transaction commits, so that no request can store, under the new generation, what it read
before the change was committed. Should the cache lose the generation (evicted, flushed), a
new random one is taken and no older entry can match it. Code that changes these tables
without saving models (``QuerySet.update``, raw SQL) must call ``forget_tokens()``.
"""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from accounts.scoping import scope_of

GENERATION_KEY = "auth-token:generation"
ENTRY_PREFIX = "auth-token:"
# An entry also expires on its own: a day without a visit frees its room in the cache.
TIMEOUT = 24 * 60 * 60


def _entry_key(key: str) -> str:
    # The cache holds no token in clear: its keys are listed by anyone who can reach Redis.
    return ENTRY_PREFIX + hashlib.sha256(key.encode()).hexdigest()


def _new_generation() -> str:
    generation = secrets.token_hex(16)
    cache.set(GENERATION_KEY, generation, None)
    return generation


def forget_tokens() -> None:
    """Forget every cached token now and again when the current transaction commits."""
    _new_generation()
    transaction.on_commit(_new_generation)


def _user_fields() -> list[str]:
    # Everything of the user but the password hash, which stays in the database.
    return [f.attname for f in get_user_model()._meta.concrete_fields if f.name != "password"]


def _from_entry(entry: dict):
    User = get_user_model()
    names = list(entry["user"])
    user = User.from_db("default", names, [entry["user"][name] for name in names])
    user._scope_cache = entry["scope"]
    return user


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication (same header, same answers: an unknown token or an inactive
    user is refused with the same messages) with the token's user and scope cached as the
    module says."""

    def authenticate_credentials(self, key):
        entry_key = _entry_key(key)
        found = cache.get_many([GENERATION_KEY, entry_key])
        generation = found.get(GENERATION_KEY)
        entry = found.get(entry_key)
        if generation is not None and entry is not None and entry["generation"] == generation:
            user = _from_entry(entry)
            return user, Token(key=key, user=user)
        if generation is None:
            # Taken before the database is read: anything read from here on is stored under it.
            cache.add(GENERATION_KEY, secrets.token_hex(16), None)
            generation = cache.get(GENERATION_KEY)
        user, token = super().authenticate_credentials(key)  # refuses unknown and inactive
        scope = scope_of(user)
        if generation is not None:
            values = {name: getattr(user, name) for name in _user_fields()}
            cache.set(
                entry_key,
                {"generation": generation, "user": values, "scope": scope},
                TIMEOUT,
            )
        return user, token


def _changed(sender, instance=None, update_fields=None, **kwargs) -> None:
    if sender is get_user_model() and update_fields and set(update_fields) <= {"last_login"}:
        return  # a session login stamps the time; nothing an entry holds
    forget_tokens()


def connect_signals() -> None:
    """Called from AccountsConfig.ready()."""
    from accounts.models import RoleAssignment
    from regions.models import Region

    for model in (Token, get_user_model(), RoleAssignment, Region):
        post_save.connect(_changed, sender=model, dispatch_uid=f"forget-tokens-save-{model}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"forget-tokens-delete-{model}")
