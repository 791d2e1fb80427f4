"""What logout needs to find: a person's live provider sessions and token families, and the logout
notices owed to business systems (OpenID Connect Back-Channel Logout 1.0).

- `SignOns`: one per person, the index of their sessions (with the identity session each rests on)
  and token families (client, enterprise, session), so that a logout, a password reset, a
  supersession, a removed membership or a revoked grant finds what it ends. Entries leave it when
  they end or expire, so it stays as small as the person's live logins.
- `LogoutNotice`: a logout token owed to one client for one session, saved with what ended it; its
  event leaves through the notification log and the service's own consumer delivers it (backchannel.py)
  with retries and a dead letter. Its id comes from (client, session, cause): one notice per cause.
"""
import uuid

from eventsourcing.domain import Aggregate, event

from .domain import SSO_NAMESPACE
from services.common.sealing import OWNER, PersonalData


class SignOns(PersonalData, Aggregate):
    # the sso sessions are random ids of their own (the person's login at identity is sealed)
    personal_events = {"SessionAdded": {"identity_session_id": OWNER}}
    not_personal_events = {"SessionAdded": {"session_id"}, "FamilyAdded": {"session_id"}, "Forgotten": {"session_ids"}}

    @staticmethod
    def create_id(user_id: str):
        return uuid.uuid5(SSO_NAMESPACE, "signons:" + user_id)

    @event("Opened")
    def __init__(self, user_id: str):
        self.user_id = user_id
        self.sessions = {}  # session_id -> {identity_session_id, started_at, expires_at}
        self.families = {}  # family_id -> {client_id, enterprise_id, session_id, started_at, expires_at}

    def add_session(self, session_id, identity_session_id, started_at, expires_at):
        self._forget_expired(started_at)
        self._session_added(session_id=session_id, identity_session_id=identity_session_id, started_at=started_at,
                            expires_at=expires_at)

    @event("SessionAdded")
    def _session_added(self, session_id: str, identity_session_id: str, started_at: float, expires_at: float):
        self.sessions[session_id] = {"identity_session_id": identity_session_id, "started_at": started_at,
                                     "expires_at": expires_at}

    def add_family(self, family_id, client_id, enterprise_id, session_id, started_at, expires_at):
        self._forget_expired(started_at)
        self._family_added(family_id=family_id, client_id=client_id, enterprise_id=enterprise_id,
                           session_id=session_id, started_at=started_at, expires_at=expires_at)

    @event("FamilyAdded")
    def _family_added(self, family_id: str, client_id: str, enterprise_id: str, session_id: str, started_at: float,
                      expires_at: float):
        self.families[family_id] = {"client_id": client_id, "enterprise_id": enterprise_id,
                                    "session_id": session_id, "started_at": started_at, "expires_at": expires_at}

    def forget(self, session_ids=(), family_ids=()):
        session_ids = [s for s in session_ids if s in self.sessions]
        family_ids = [f for f in family_ids if f in self.families]
        if session_ids or family_ids:
            self._forgotten(session_ids=session_ids, family_ids=family_ids)

    @event("Forgotten")
    def _forgotten(self, session_ids: list, family_ids: list):
        for s in session_ids:
            self.sessions.pop(s, None)
        for f in family_ids:
            self.families.pop(f, None)

    def _forget_expired(self, now):
        self.forget([s for s, v in self.sessions.items() if v["expires_at"] <= now],
                    [f for f, v in self.families.items() if v["expires_at"] <= now])


class LogoutNotice(PersonalData, Aggregate):
    not_personal_events = {"Due": {"session_id"}}  # an sso session's random id

    @staticmethod
    def create_id(client_id: str, session_id: str, cause: str):
        return uuid.uuid5(SSO_NAMESPACE, f"logout:{client_id}:{session_id}:{cause}")

    @event("Due")
    def __init__(self, client_id: str, session_id: str, cause: str, user_id: str, reason: str):
        self.client_id = client_id
        self.session_id = session_id
        self.user_id = user_id
        self.reason = reason
