"""Who a person is to a business system: the claims of its ID token and userinfo, asked afresh of
identity, enterprise and authz at every login, code exchange, refresh and userinfo."""
from dataclasses import dataclass, field


@dataclass
class Person:
    user_id: str
    enterprise_id: str
    session_id: str
    auth_time: float
    family_id: str | None = None
    systems: list = field(default_factory=list)
    claims: dict = field(default_factory=dict)

    @classmethod
    def of(cls, peers, user_id, enterprise_id, session_id, auth_time, family_id=None):
        """The person acting for the enterprise, or None when they are not a member of it now."""
        membership = next((m for m in peers.memberships(user_id) if m["enterprise_id"] == enterprise_id), None)
        if membership is None:
            return None
        user = peers.user(user_id)
        systems = peers.systems(user_id, enterprise_id)
        claims = {"sub": user_id, "name": user["name"], "eport_identity_verified": bool(user["identity_verified"]),
                  "eport_enterprise": {"enterprise_id": enterprise_id, "uscc": membership["uscc"],
                                       "name": membership["enterprise_name"]},
                  "eport_role": membership["role"], "eport_systems": systems}
        return cls(user_id, enterprise_id, session_id, auth_time, family_id, systems, claims)

    def allowed_into(self, client):
        """A client that requires a grant lets in only people granted its system in this enterprise."""
        return not client.require_grant or client.system in self.systems
