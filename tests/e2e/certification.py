"""Role certification (角色认证) for e2e tests that need a certified administrator but not the PC/SC
chain: a legal-person card issued by the platform's own development CA, whose key signs the bind
challenge in this process, bound through the real HTTP API (challenge, certificate, signature).

tests/e2e/test_role_certification.py does the same through pcscd, the emulator and the agent.
"""
import base64
import itertools
import os
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eport_card.devca import issue_card, load_ca
from services.card.trust import ensure_dev_ca

_card_numbers = itertools.count(int(time.time() * 1000) % 10**9 * 10 + os.getpid() % 10)


def platform_ca():
    """The card CA the launched platform trusts (CARD_CA_CERT unset: its development CA under EPORT_VAR)."""
    return load_ca(ensure_dev_ca(Path(os.environ["EPORT_VAR"]) / "card-ca"))


def new_card(holder_name, holder_id_number, uscc, card_type="legal_person", ca=None, **overrides):
    fields = dict(card_no=f"89{next(_card_numbers):011d}", card_type=card_type, holder_name=holder_name,
                  holder_id_number=holder_id_number, uscc=uscc, pin_hash_iterations=1000)
    fields.update(overrides)
    return issue_card(ca or platform_ca(), **fields)


def prove(api, token, card, purpose="bind"):
    """{card_no, challenge_id, certificate, signature}: the card's answer to a fresh challenge."""
    r = api.post("/api/v1/card-challenges", token=token if purpose == "bind" else None,
                 json={"purpose": purpose, "card_no": card.card_no})
    assert r.status_code == 201, r.text
    challenge = r.json()
    key = serialization.load_pem_private_key(card.private_key_pem.encode(), password=None)
    signature = key.sign(base64.b64decode(challenge["nonce"]), ec.ECDSA(hashes.SHA256()))
    return {"card_no": card.card_no, "challenge_id": challenge["challenge_id"], "certificate": card.certificate_pem,
            "signature": base64.b64encode(signature).decode()}


def certify(api, token, user_id, enterprise_id, uscc, holder_name, holder_id_number, timeout=15, wait=True):
    """Bind a new legal-person card of the enterprise held by the account's registrant: the
    administrator's role is certified. Waits (bounded; unless `wait` is false) until authz has
    learnt it too, so that grants work at once. Returns the bind answer."""
    card = new_card(holder_name, holder_id_number, uscc)
    r = api.post(f"/api/v1/enterprises/{enterprise_id}/card", token=token, json=prove(api, token, card))
    assert r.status_code == 201 and r.json()["role_certified"] is True, r.text
    deadline = time.monotonic() + timeout
    while wait and not authz_allows(api, token, user_id, enterprise_id):
        assert time.monotonic() < deadline, "authz did not learn the certification"
        time.sleep(0.05)
    return r.json()


def claim(api, token, uscc, holder_name, holder_id_number, **details):
    """Claim the administrator role of `uscc` with a new legal-person card of the account's
    registrant (POST /api/v1/admin-claims). Returns the claim's answer."""
    card = new_card(holder_name, holder_id_number, uscc)
    r = api.post("/api/v1/admin-claims", token=token, json=dict(prove(api, token, card), uscc=uscc, **details))
    assert r.status_code == 201, r.text
    return r.json()


def authz_allows(api, token, user_id, enterprise_id, system="manifest"):
    r = api.get("/api/v1/authz/check", token=token,
                params={"user_id": user_id, "enterprise_id": enterprise_id, "system": system})
    assert r.status_code == 200, r.text
    return r.json()["allowed"]
