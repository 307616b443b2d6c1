"""Is an incoming request from the Bot Connector? Its JWT and Microsoft's signing keys.

* OpenID metadata and signing keys are fetched lazily, on the first incoming
  activity, with timeouts, and cached for a day (refreshed early, at most once
  a minute, when an unknown key id shows up). One fetch at a time, shared by
  all requests; after a failure the next try waits (2 s, doubling, at most
  5 minutes) and requests meanwhile get 503 at once without touching the
  network, or are checked with the cached keys if there are any
  (:class:`SigningKeys`);
* incoming JWTs are checked with PyJWT: RS256 only, issuer, audience (our app
  id), expiry with 5 minutes' leeway (:func:`verify_token`); the signing key
  must be endorsed for the activity's channel (a key without endorsements is
  refused), and the ``serviceurl`` claim must equal the activity's
  ``serviceUrl``, so our own token is never sent to a URL the Bot Connector
  did not vouch for (:func:`check_activity`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any, Callable, Dict, Optional, Tuple

import httpx
import jwt

from bot.teams_settings import TeamsSettings

logger = logging.getLogger(__name__)

KEY_CACHE_SECONDS = 24 * 3600
UNKNOWN_KEY_REFRESH_SECONDS = 60
KEY_RETRY_FIRST_SECONDS = 2.0
KEY_RETRY_MAX_SECONDS = 300.0
LEEWAY_SECONDS = 300
_BEARER = re.compile(r"Bearer\s+(\S+)$")

#: A verified token's claims and the key that signed it (:func:`verify_token`).
Verified = Tuple[Dict[str, Any], Dict[str, Any]]


class AuthError(Exception):
    """The incoming request is not from the Bot Connector (401)."""


class KeysUnavailable(Exception):
    """Microsoft's signing keys could not be fetched (503: the connector retries)."""


class SigningKeys:
    """Bot Connector signing keys from the OpenID metadata, fetched lazily and cached.

    At most one fetch runs at a time and every request that needs it shares it.
    After a failed fetch the next one waits ``first_retry`` seconds, doubling
    with each failure up to ``max_retry``; until then requests are answered
    from the cache, or refused at once (503) when there is none."""

    def __init__(
        self, settings: TeamsSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.keys: Dict[str, Dict[str, Any]] = {}
        self.fetched_at = 0.0
        self.failures = 0
        self.retry_at = 0.0
        self.fetches = 0
        self.first_retry = KEY_RETRY_FIRST_SECONDS
        self.max_retry = KEY_RETRY_MAX_SECONDS
        self._task: Optional[asyncio.Future[None]] = None

    async def fetch(self) -> None:
        """Fetch the OpenID metadata and the keys (one attempt)."""
        self.fetches += 1
        timeout = httpx.Timeout(self.settings.timeout)
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                conf = (await client.get(self.settings.openid_url)).raise_for_status().json()
                jwks = (await client.get(conf["jwks_uri"])).raise_for_status().json()
            keys = jwks.get("keys", [])
            fetched = {k["kid"]: k for k in keys if isinstance(k, dict) and "kid" in k}
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeysUnavailable(f"could not fetch the Bot Framework keys: {exc}") from exc
        self.keys = fetched
        self.fetched_at = self.clock()
        logger.debug("Bot Framework signing keys fetched: %d keys", len(self.keys))

    def backoff(self) -> float:
        """Seconds to wait after the current number of failures in a row."""
        if not self.failures:
            return 0.0
        return min(self.max_retry, self.first_retry * 2 ** min(self.failures - 1, 32))

    async def _attempt(self) -> None:
        try:
            await self.fetch()
        except KeysUnavailable as exc:
            self.failures += 1
            self.retry_at = self.clock() + self.backoff()
            logger.warning("%s; next try in %.0f s", exc, self.backoff())
            raise
        self.failures = 0
        self.retry_at = 0.0

    def refresh(self) -> asyncio.Future[None]:
        """The fetch in flight, started now if none is."""
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._attempt())
            # Read the outcome even when no request waits for it (a background refresh).
            self._task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return self._task

    async def get(self, kid: str) -> Dict[str, Any]:
        now = self.clock()
        age = now - self.fetched_at
        stale = not self.fetched_at or age > KEY_CACHE_SECONDS
        unknown = kid not in self.keys and (
            not self.fetched_at or age > UNKNOWN_KEY_REFRESH_SECONDS
        )
        in_flight = self._task is not None and not self._task.done()
        if (stale or unknown) and (in_flight or now >= self.retry_at):
            task = self.refresh()
            if kid not in self.keys:
                # Nothing to check this token with yet: wait for the shared fetch.
                try:
                    await asyncio.shield(task)
                except KeysUnavailable:
                    if not self.keys:
                        raise
            # Otherwise the cached key answers while the refresh runs.
        elif not self.keys:
            raise KeysUnavailable(
                f"Bot Framework keys not fetched; next try in {self.retry_at - now:.0f} s"
            )
        if kid not in self.keys:
            raise AuthError(f"unknown signing key {kid!r}")
        return self.keys[kid]


async def verify_token(
    settings: TeamsSettings, keys: SigningKeys, auth_header: Optional[str]
) -> Verified:
    """The token's claims and signing key when the bearer token is a valid
    Bot Connector JWT (signature, issuer, audience, expiry), else AuthError
    (KeysUnavailable when there are no keys to check it with).
    Needs no request body: the webhook runs it before parsing the JSON."""
    match = _BEARER.match(auth_header or "")
    if not match:
        raise AuthError("no bearer token")
    token = match.group(1)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise AuthError(f"malformed token: {exc}") from exc
    if header.get("alg") != "RS256" or not header.get("kid"):
        raise AuthError("token must be RS256 with a key id")
    jwk = await keys.get(header["kid"])
    try:
        claims = jwt.decode(
            token,
            key=jwt.PyJWK(jwk, algorithm="RS256").key,
            algorithms=["RS256"],
            audience=settings.app_id,
            issuer=settings.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    return claims, jwk


def check_activity(verified: Verified, activity: Dict[str, Any]) -> None:
    """AuthError unless the verified token vouches for this activity: its
    signing key is endorsed for the activity's channel and the token's
    serviceUrl is the activity's."""
    claims, jwk = verified
    # A key vouches only for the channels it lists: none listed, none vouched for.
    endorsements = jwk.get("endorsements")
    channel = activity.get("channelId")
    if (
        not isinstance(endorsements, list)
        or not isinstance(channel, str)
        or channel not in endorsements
    ):
        raise AuthError("signing key not endorsed for this channel")
    claimed = (claims.get("serviceurl") or claims.get("serviceUrl") or "").rstrip("/")
    if not claimed or claimed != str(activity.get("serviceUrl") or "").rstrip("/"):
        raise AuthError("serviceUrl does not match the token")
