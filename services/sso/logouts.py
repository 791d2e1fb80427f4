"""What ends a person's single sign-on, and the logout tokens owed for it (a mixin of SsoApplication).

Triggers: a logout at the provider (RP-initiated, flows `logout`); and, learnt from the other services'
events, the identity session under a provider session logged out (SessionRevoked), a password reset
(PasswordSet that ends sessions), a supersession (UserSuperseded), an erasure (UserErased), a removed
membership (MemberRemoved)
and a revoked grant (PermissionRevoked: the families of clients of that system which require a grant).

Each ends what it reaches in one save: the provider sessions (their cookies log nobody in), the token
families (refresh answers invalid_grant) and a `LogoutNotice` for every client with a back-channel
logout URI that had tokens in an ended session. The notices leave through the notification log as
BackchannelLogoutDue, which the service's own consumer delivers (backchannel.py): never sent from here.
"""
from datetime import datetime
from typing import Protocol

from contracts import authz as az
from contracts import enterprise as ent
from contracts import identity as idn
from services.common.application import retry_on_conflict

from .domain import ProviderSession, TokenFamily
from .signons import LogoutNotice, SignOns

CONSUMER = "sso.logouts"


class LogoutsHost(Protocol):
    """What Logouts needs of the application it is mixed into."""

    def find(self, aggregate_id, cls): ...
    def save(self, *aggregates, **kwargs): ...
    def client(self, client_id): ...
    def consume(self, consumer, envelope, schema, effect): ...


def _epoch(iso):
    try:
        return datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return float("inf")


class Logouts:
    def log_out(self, run, session):
        """RP-initiated logout (saved through the logout command's `run`): the provider session ends, with the
        identity session it rests on, and its families; the clients it gave tokens to are owed logout tokens."""
        session_id = str(session.id)

        def attempt():
            run.save(*self.ending(session.user_id, "logged_out", "logout", sessions=lambda s, v: s == session_id))
        retry_on_conflict(attempt)

    def ending(self, user_id, reason, cause, sessions=lambda s, v: False, families=lambda f, v: False):
        """The aggregates a trigger changes: the person's sessions that `sessions(id, entry)` selects
        end, and so do their families and those `families(id, entry)` selects; the notices owed."""
        signons = self.find(SignOns.create_id(user_id), SignOns)
        if signons is None:
            return []
        session_ids = [s for s, v in signons.sessions.items() if sessions(s, v)]
        family_ids = [f for f, v in signons.families.items() if v["session_id"] in session_ids or families(f, v)]
        if not session_ids and not family_ids:
            return []
        changed, owed = [], {}
        for session_id in session_ids:
            session = self.find(session_id, ProviderSession)
            if session is not None and not session.ended:
                session.end(reason, ends_identity_session=reason == "logged_out")
                changed.append(session)
        for family_id in family_ids:
            family = self.find(family_id, TokenFamily)
            if family is not None and not family.ended:
                family.end(reason)
                changed.append(family)
                owed[(family.client_id, family.session_id)] = True
        changed += self._notices(owed, user_id, reason, cause)
        signons.forget(session_ids, family_ids)
        return [signons, *changed]

    def _notices(self, owed, user_id, reason, cause):
        notices = []
        for client_id, session_id in owed:
            client = self.client(client_id)
            if client is None or not client.backchannel_logout_uri:
                continue
            if self.find(LogoutNotice.create_id(client_id, session_id, cause), LogoutNotice) is None:
                notices.append(LogoutNotice(client_id=client_id, session_id=session_id, cause=cause,
                                            user_id=user_id, reason=reason))
        return notices

    # -- what the other services' events end ----------------------------------------------------------
    def learn(self, envelope):
        """One event of identity, enterprise or authz that ends sign-ons; False for a repeat, another
        event, or one that ended nothing."""
        kind = (envelope.get("source"), envelope.get("event_type"))
        cause = str(envelope.get("event_id"))
        before = _epoch(envelope.get("occurred_at"))
        everything = {"sessions": lambda s, v: v["started_at"] <= before,
                      "families": lambda f, v: v["started_at"] <= before}
        if kind == (idn.SOURCE, idn.SESSION_REVOKED.name):
            schema, reason = idn.SessionRevokedPayload, "session_ended"
            selects = lambda p: {"sessions": lambda s, v: v["identity_session_id"] == p["session_id"]}  # noqa: E731
        elif kind == (idn.SOURCE, idn.PASSWORD_SET.name):
            schema, reason = idn.PasswordSetPayload, "password_reset"
            selects = lambda p: everything if p["ends_sessions"] else {}  # noqa: E731
        elif kind == (idn.SOURCE, idn.USER_SUPERSEDED.name):
            schema, reason, selects = idn.UserSupersededPayload, "superseded", lambda p: everything
        elif kind == (idn.SOURCE, idn.USER_ERASED.name):  # services/common/erasure.py: before the keys go
            schema, reason, selects = idn.UserErasedPayload, "erased", lambda p: everything
        elif kind == (ent.SOURCE, ent.MEMBER_REMOVED.name):
            schema, reason = ent.MemberRemovedPayload, "membership_ended"
            selects = lambda p: {"families": lambda f, v: v["enterprise_id"] == p["enterprise_id"]}  # noqa: E731
        elif kind == (az.SOURCE, az.PERMISSION_REVOKED.name):
            schema, reason, selects = az.PermissionRevokedPayload, "grant_lost", self._granted_families
        else:
            return False
        return self.consume(CONSUMER, envelope, schema,
                            lambda p: self.ending(p["user_id"], reason, cause, **selects(p)))

    def _granted_families(self, p):
        """The families of the enterprise at clients of the revoked system that require its grant."""
        def selected(family_id, entry):
            client = self.client(entry["client_id"]) if entry["enterprise_id"] == p["enterprise_id"] else None
            return client is not None and client.require_grant and client.system == p["system"]
        return {"families": selected}

