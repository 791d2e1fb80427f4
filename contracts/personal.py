"""Which payload fields of the integration events are personal, and whose (docs/PERSONAL_DATA.md).

`PERSONAL[(source, event_type)]` maps each personal payload field (a name, a masked ID number or
mobile, a card number, a session id) to the payload field holding its person's user id; `NOT_PERSONAL`
lists fields whose names look personal but are not (an enterprise's name, a system's). Where an
envelope is kept (a service's published log, the audit log), its personal fields are sealed with the
keys of `persons_of(envelope)` (services/common/published.py), so that erasing a person shreds them.
tests/unit/test_personal_data_inventory.py fails on an event type with a personal-looking field
declared neither way.
"""

PERSONAL = {
    ("identity", "UserRegistered"): {"name": "user_id", "id_number_masked": "user_id", "mobile_masked": "user_id"},
    ("identity", "UserLoggedIn"): {"session_id": "user_id"},
    ("identity", "SessionRevoked"): {"session_id": "user_id"},
    ("enterprise", "AssociationRequested"): {"user_name": "user_id"},
    ("enterprise", "RoleCertified"): {"card_no": "user_id"},
    ("enterprise", "RoleCertificationLost"): {"card_no": "user_id"},
    ("card", "CardBound"): {"card_no": "user_id"},
    ("card", "CardUnbound"): {"card_no": "user_id"},
    ("sso", "ProviderSessionEnded"): {"identity_session_id": "user_id"},
}

_ENTERPRISE_NAMED = ("AdminSuperseded", "AdminTransferred", "AssociationApproved", "AssociationRejected",
                     "AssociationRequested", "MemberRemoved", "RoleCertificationLost", "RoleCertified")
NOT_PERSONAL = {
    ("identity", "PasswordSet"): {"ends_sessions"},
    # single sign-on's sessions are random ids of its own (identity's, which it names, are sealed)
    ("sso", "ProviderSessionEnded"): {"session_id", "ends_identity_session"},
    ("sso", "BackchannelLogoutDue"): {"session_id"},
    ("authz", "PermissionGranted"): {"system_name"},
    ("authz", "PermissionRevoked"): {"system_name"},
    **{("enterprise", name): {"name"} for name in ("EnterpriseRegistered", "EnterpriseCertified",
                                                   "EnterpriseDetailsChanged")},
    **{("enterprise", name): {"enterprise_name"} for name in _ENTERPRISE_NAMED},
}


def persons_of(envelope):
    """The user ids whose personal data the envelope holds (sorted; none for most events)."""
    fields = PERSONAL.get((envelope.get("source"), envelope.get("event_type")))
    if not fields:
        return ()
    payload = envelope.get("payload") or {}
    return tuple(sorted({str(payload[whose]) for field, whose in fields.items()
                         if payload.get(field) is not None and payload.get(whose)}))
