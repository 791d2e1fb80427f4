"""A card bound over the public API in the e2e suites: a card of the development CA signs the bind
challenge in-process (no PC/SC chain)."""
import base64
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eport_card.devca import issue_card


def sign_nonce(card, nonce_b64):
    key = serialization.load_pem_private_key(card.private_key_pem.encode(), password=None)
    return base64.b64encode(key.sign(base64.b64decode(nonce_b64), ec.ECDSA(hashes.SHA256()))).decode()


def bind_card(api, person, enterprise_id, uscc, ca, card_type="operator"):
    card = issue_card(ca, card_no=str(uuid.uuid4().int % 10**13), card_type=card_type, holder_name=person.name,
                      holder_id_number=person.id_number, uscc=uscc)
    r = api.post("/api/v1/card-challenges", token=person.token, json={"purpose": "bind", "card_no": card.card_no})
    assert r.status_code == 201, r.text
    challenge = r.json()
    r = api.post(f"/api/v1/enterprises/{enterprise_id}/card", token=person.token, json={
        "card_no": card.card_no, "challenge_id": challenge["challenge_id"], "certificate": card.certificate_pem,
        "signature": sign_nonce(card, challenge["nonce"])})
    assert r.status_code == 201, r.text
    return card
