"""Payees' account numbers, encrypted at rest.

AES-256-GCM (``cryptography``'s AESGCM, authenticated): a stored value is a fresh 12-byte nonce
followed by the ciphertext and its tag. The associated data is the payee the account belongs to
(``elder:17``), so a ciphertext copied onto another payee's row does not decrypt: an account
number cannot be moved to someone else by editing the table.

Keys come from ``settings.PAYEE_ACCOUNT_KEYS`` (the environment): the first encrypts, every key
decrypts, so a key is rotated by putting the new one first and re-saving the accounts. GCM
rather than Fernet because the bank file decrypts one account per line — a million in an
export — and GCM decrypts about ten times faster here, with the same guarantees.
"""

from __future__ import annotations

import base64
import binascii
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12


class UndecryptableAccount(ValueError):
    """No configured key opens the stored value (wrong key, or the row was tampered with)."""


@lru_cache(maxsize=8)
def _ciphers(keys: tuple[str, ...]) -> tuple[AESGCM, ...]:
    ciphers = []
    for key in keys:
        try:
            raw = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ImproperlyConfigured(
                "PAYEE_ACCOUNT_KEYS: each key is 32 random bytes in urlsafe base64 "
                '(python -c "import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)))").'
            )
        ciphers.append(AESGCM(raw))
    if not ciphers:
        raise ImproperlyConfigured("PAYEE_ACCOUNT_KEYS is empty.")
    return tuple(ciphers)


def ciphers() -> tuple[AESGCM, ...]:
    return _ciphers(tuple(settings.PAYEE_ACCOUNT_KEYS))


def payee_ref(kind: str, pk: int) -> bytes:
    """The associated data binding a ciphertext to its payee: ``elder:17``."""
    return f"{kind}:{pk}".encode()


def encrypt(plaintext: str, ref: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + ciphers()[0].encrypt(nonce, plaintext.encode(), ref)


def decrypter():
    """``decrypt`` with the configured keys looked up once, for whoever opens many values
    (an export opens one per payee)."""
    keys = ciphers()

    def decrypt_one(stored: bytes, ref: bytes) -> str:
        stored = bytes(stored)
        nonce, body = stored[:NONCE_BYTES], stored[NONCE_BYTES:]
        for cipher in keys:
            try:
                return cipher.decrypt(nonce, body, ref).decode()
            except InvalidTag:
                continue
        raise UndecryptableAccount(ref.decode())

    return decrypt_one


def decrypt(stored: bytes, ref: bytes) -> str:
    return decrypter()(stored, ref)
