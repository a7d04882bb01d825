"""SASL initial responses for bearer-token logins (no Django, no network).

XOAUTH2 is Google's and Microsoft's mechanism; OAUTHBEARER (RFC 7628) is the standard
one that supersedes it. Both carry the access token in clear inside TLS: the strings
built here must never be logged.
"""

from __future__ import annotations

import base64

XOAUTH2 = "XOAUTH2"
OAUTHBEARER = "OAUTHBEARER"


def xoauth2(user: str, token: str) -> str:
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def oauthbearer(user: str, token: str) -> str:
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={authzid},\x01auth=Bearer {token}\x01\x01"


def initial_response(mechanism: str, user: str, token: str) -> str:
    """The base64 initial response for `mechanism` (XOAUTH2 or OAUTHBEARER)."""
    text = oauthbearer(user, token) if mechanism == OAUTHBEARER else xoauth2(user, token)
    return base64.b64encode(text.encode()).decode("ascii")


def choose(offered: set[str] | frozenset[str]) -> str:
    """OAUTHBEARER where the server offers it, else XOAUTH2."""
    return OAUTHBEARER if OAUTHBEARER in {m.upper() for m in offered} else XOAUTH2
