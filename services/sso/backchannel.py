"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0; Authlib has none): the delivery of the
logout tokens the provider owes (logouts.py's `LogoutNotice`, published as BackchannelLogoutDue).

The service consumes its own BackchannelLogoutDue events (contracts/subscriptions.py): the notice was
saved with what ended the session, and left through the notification log, so no logout is lost
between the save and the send. Its consumer (`BackchannelConsumer`) tries again with a pause that
doubles (SSO_BACKCHANNEL_RETRY_DELAY, up to 60 s) when the client's endpoint is down or refuses, and
after SSO_BACKCHANNEL_ATTEMPTS tries parks the event in its dead-letter queue (`eport dead-letters`);
the trigger itself never waits for a business system.

The logout token: a JWT signed like the ID tokens (identity's key, `typ: logout+jwt`), `iss`, `aud` =
the client_id, `iat`, `exp`, `jti` (the notice: the same on every try), `sub`, `sid` (the provider
session, as in the ID tokens) and the back-channel logout event; never a `nonce`. POSTed as
application/x-www-form-urlencoded `logout_token=...`; any answer but 2xx is a failure.
"""
import logging

import requests

from contracts import sso as c
from services.common.messaging import EventConsumer
from services.common.settings import issuer, setting

log = logging.getLogger(__name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_TTL = 120  # seconds: a logout token is for now, not to be kept
CONSUMER = "sso.backchannel"


class EndpointFailed(Exception):
    """The client's back-channel logout endpoint did not take the token (retried, then parked)."""


def logout_claims(payload, now):
    return {"iss": issuer(), "aud": payload["client_id"], "iat": int(now), "exp": int(now) + TOKEN_TTL,
            "jti": payload["notice_id"], "sub": payload["user_id"], "sid": payload["session_id"],
            "events": {EVENT: {}}}


def post_logout_token(uri, token):
    try:
        answer = requests.post(uri, data={"logout_token": token}, timeout=float(setting("SSO_BACKCHANNEL_TIMEOUT")),
                               allow_redirects=False)
    except requests.RequestException as exc:
        raise EndpointFailed(f"back-channel logout endpoint unreachable: {type(exc).__name__}") from None
    if not 200 <= answer.status_code < 300:
        raise EndpointFailed(f"back-channel logout endpoint answered {answer.status_code}")


def deliver(app, peers, envelope, post=post_logout_token):
    """Send one BackchannelLogoutDue's logout token: True when sent, False for a repeat of a delivered one
    (not sent again) or a client with nobody to tell. Raises EndpointFailed when the client's endpoint
    does not take it (the consumer retries)."""
    if (envelope.get("source"), envelope.get("event_type")) != (c.SOURCE, c.BACKCHANNEL_LOGOUT_DUE.name):
        return False
    sent = []

    def effect(p):
        client = app.client(p["client_id"])
        if client is None or not client.backchannel_logout_uri:
            return []  # removed, or its endpoint unregistered since: nobody to tell
        post(client.backchannel_logout_uri, peers.sign(logout_claims(p, app.clock())))
        log.info("logout token %s delivered to client %s", p["notice_id"], p["client_id"])
        sent.append(p["notice_id"])
        return []

    app.consume(CONSUMER, envelope, c.BackchannelLogoutDuePayload, effect)
    return bool(sent)


class BackchannelConsumer(EventConsumer):
    """The consumer of BackchannelLogoutDue, with back-channel logout's own tries and pauses."""

    def setup(self):
        self.retry_delay = float(setting("SSO_BACKCHANNEL_RETRY_DELAY"))
        self.max_failures = int(setting("SSO_BACKCHANNEL_ATTEMPTS"))
        super().setup()


on_logout_due = BackchannelConsumer.decorator
