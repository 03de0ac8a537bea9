"""NASA Earthdata credentials: a user token (``EARTHDATA_TOKEN``) or a ``~/.netrc`` login.

Both are the providers' documented ways for scripted downloads (LP DAAC, GES DISC):

- ``EARTHDATA_TOKEN``: a bearer token made at https://urs.earthdata.nasa.gov (Generate
  Token); it is sent as ``Authorization: Bearer ...`` only to the hosts listed in
  ``download.earthdata_hosts`` and never on a redirect to another host (``requests`` drops
  the header there, e.g. on the redirect to a signed S3 address).
- ``~/.netrc`` (or the file named by ``NETRC``) with a line
  ``machine urs.earthdata.nasa.gov login <user> password <password>``: ``requests`` answers
  the Earthdata login redirect with it and keeps the session cookie.

A token is held in :class:`Credentials` with ``repr=False`` and never logged, printed or
written; log lines say only which kind of credential is in use.
"""

from __future__ import annotations

import fnmatch
import netrc
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

URS_HOST = "urs.earthdata.nasa.gov"
TOKEN_VARIABLE = "EARTHDATA_TOKEN"

EARTHDATA_HELP = (
    "NASA Earthdata needs a free login (https://urs.earthdata.nasa.gov/users/new). Give it "
    f"to the workflow in one of two ways: set the environment variable {TOKEN_VARIABLE} to "
    "a user token (Earthdata Login -> Generate Token; tokens expire after 60 days), or put "
    f"the line 'machine {URS_HOST} login <user> password <password>' in ~/.netrc (then "
    "chmod 600 ~/.netrc). The account must also have authorised the data provider's "
    "application (LP DAAC for MODIS and SRTM, GES DISC for IMERG: Earthdata Login -> "
    "Applications -> Authorized Apps)."
)


@dataclass(frozen=True)
class Credentials:
    """Which Earthdata credential is in use; the token itself is never shown."""

    kind: Literal["token", "netrc", "none"]
    token: str = field(default="", repr=False)
    netrc_path: str = ""

    def describe(self) -> str:
        if self.kind == "token":
            return f"the bearer token in ${TOKEN_VARIABLE}"
        if self.kind == "netrc":
            return f"the {URS_HOST} login in {self.netrc_path}"
        return "no Earthdata credentials"


def netrc_file(env: Mapping[str, str] | None = None) -> Path:
    """The netrc file ``requests`` reads: ``$NETRC`` if set, else ``~/.netrc``."""
    env = os.environ if env is None else env
    return Path(env["NETRC"]).expanduser() if env.get("NETRC") else Path.home() / ".netrc"


def earthdata_credentials(env: Mapping[str, str] | None = None) -> Credentials:
    """The Earthdata credential available: the token first, then a netrc login, else none."""
    env = os.environ if env is None else env
    token = env.get(TOKEN_VARIABLE, "").strip()
    if token:
        return Credentials("token", token=token)
    path = netrc_file(env)
    if path.is_file():
        try:
            if netrc.netrc(path).authenticators(URS_HOST):
                return Credentials("netrc", netrc_path=str(path))
        except (netrc.NetrcParseError, OSError):
            pass  # an unreadable netrc is reported as "no credentials" (never echoed)
    return Credentials("none")


def host_matches(url: str, patterns: Sequence[str]) -> bool:
    """Whether the URL's host matches one of the glob patterns (``*.earthdata.nasa.gov``)."""
    host = (urlsplit(url).hostname or "").lower()
    return any(fnmatch.fnmatch(host, p.lower()) for p in patterns)


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>`` on requests to the allowed hosts only."""

    def __init__(self, token: str, hosts: Sequence[str]) -> None:
        self._token = token
        self._hosts = list(hosts)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if host_matches(r.url or "", self._hosts):
            r.headers["Authorization"] = f"Bearer {self._token}"
        return r

    def __repr__(self) -> str:
        return "BearerAuth(<hidden>)"


def request_auth(creds: Credentials, hosts: Sequence[str]) -> requests.auth.AuthBase | None:
    """The ``auth`` argument for ``requests``: the token, or None (netrc is used by requests)."""
    return BearerAuth(creds.token, hosts) if creds.kind == "token" else None


def auth_failure_message(url: str, status: int | str, creds: Credentials) -> str:
    """What went wrong and how to set credentials; holds no credential."""
    return (
        f"{redact_url(url)}: the provider refused access (HTTP {status}) with "
        f"{creds.describe()}. {EARTHDATA_HELP}"
    )


_SECRET_PARAM = re.compile(r"token|key|sig|password|passwd|credential|auth", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The URL fit for logs and manifests: no user:password part, and the values of query
    parameters that may carry secrets (tokens, keys, S3 signatures) replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = [
        (k, "***" if _SECRET_PARAM.search(k) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*[]:,"), ""))
