"""Card challenges: 32 random bytes, single use, spent by a failed attempt too, bound to their purpose,
card and user, expiring; a login challenge stores nothing. The in-memory store, real certificates."""
import base64
import uuid

import pytest

from contracts import errors as e
from contracts.errors import ServiceError
from tests import card_support as cards
from tests.card_support import bind, login, new_card, sign

pytestmark = pytest.mark.unit
# the card suite's fixtures
ca, ca_dir, clock, app, peers = cards.ca, cards.ca_dir, cards.clock, cards.app, cards.peers


def test_challenge_has_32_random_bytes_and_two_minutes(app):
    one = app.create_challenge("login", "8800000012345")
    two = app.create_challenge("login", "8800000012345")
    assert len(base64.b64decode(one["nonce"])) == 32
    assert one["nonce"] != two["nonce"] and one["challenge_id"] != two["challenge_id"]
    assert one["expires_in"] == 120


def test_bind_challenge_needs_an_account_and_input_is_checked(app):
    with pytest.raises(ServiceError) as exc:
        app.create_challenge("bind", "8800000012345")
    assert exc.value.code == e.UNAUTHENTICATED
    with pytest.raises(ServiceError) as exc:
        app.create_challenge("open", "8800000012345 ", "u1")
    assert exc.value.code == e.VALIDATION_ERROR and "purpose" in exc.value.details
    with pytest.raises(ServiceError) as exc:
        app.create_challenge("login", "88 00")
    assert exc.value.details.keys() == {"card_no"}


def test_challenge_is_single_use(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    challenge = app.create_challenge("bind", card.card_no, "u1")
    proof = (card.card_no, challenge["challenge_id"], card.certificate_pem, sign(card, challenge["nonce"]))
    app.bind(peers, "u1", "e1", *proof)
    app.unbind("u1", "e1")
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", *proof)
    assert exc.value.code == e.CHALLENGE_INVALID
    assert app.cards_of_user("u1") == {}


def test_a_failed_attempt_spends_the_challenge_too(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    challenge = app.create_challenge("bind", card.card_no, "u1")
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", card.card_no, challenge["challenge_id"], card.certificate_pem,
                 sign(card, base64.b64encode(b"something else").decode()))
    assert exc.value.code == e.CARD_SIGNATURE_INVALID
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", card.card_no, challenge["challenge_id"], card.certificate_pem,
                 sign(card, challenge["nonce"]))
    assert exc.value.code == e.CHALLENGE_INVALID


def test_challenge_expires(app, peers, ca, clock):
    peers.add("u1", "e1")
    card = new_card(ca)
    challenge = app.create_challenge("bind", card.card_no, "u1")
    clock.now += 120
    with pytest.raises(ServiceError) as exc:
        app.bind(peers, "u1", "e1", card.card_no, challenge["challenge_id"], card.certificate_pem,
                 sign(card, challenge["nonce"]))
    assert exc.value.code == e.CHALLENGE_INVALID and "expired" in exc.value.message


def test_challenge_is_bound_to_purpose_card_and_user(app, peers, ca):
    peers.add("u1", "e1")
    peers.add("u2", "e1")
    card, other = new_card(ca), new_card(ca, card_no="8800000099999")

    def attempt(challenge, user_id="u1", card_no=card.card_no):
        return app.bind(peers, user_id, "e1", card_no, challenge["challenge_id"], card.certificate_pem,
                        sign(card, challenge["nonce"]))

    login_challenge = app.create_challenge("login", card.card_no)
    for challenge, kwargs in [
        (login_challenge, {}),                                             # wrong purpose
        (app.create_challenge("bind", card.card_no, "u2"), {}),            # issued to another user
        (app.create_challenge("bind", other.card_no, "u1"), {}),           # for another card
        (app.create_challenge("bind", card.card_no, "u1"), {"card_no": other.card_no}),  # body names another
        ({"challenge_id": str(uuid.uuid4()), "nonce": "AAAA"}, {}),        # unknown
        ({"challenge_id": "not-a-uuid", "nonce": "AAAA"}, {}),
    ]:
        with pytest.raises(ServiceError) as exc:
            attempt(challenge, **kwargs)
        assert exc.value.code == e.CHALLENGE_INVALID, (challenge, kwargs, exc.value)
    assert app.cards_of_user("u1") == {}
    # Refused challenges were left unspent: the login challenge is still good for a login (which
    # then fails only because the card is bound to nobody).
    with pytest.raises(ServiceError) as exc:
        app.login(peers, login_challenge["challenge_id"], card.certificate_pem, sign(card, login_challenge["nonce"]))
    assert exc.value.code == e.INVALID_CREDENTIALS


def test_login_challenge_checks(app, peers, ca):
    peers.add("u1", "e1")
    card = new_card(ca)
    bind(app, peers, "u1", "e1", card)
    bind_challenge = app.create_challenge("bind", card.card_no, "u1")
    with pytest.raises(ServiceError) as exc:
        app.login(peers, bind_challenge["challenge_id"], card.certificate_pem, sign(card, bind_challenge["nonce"]))
    assert exc.value.code == e.CHALLENGE_INVALID
    challenge = app.create_challenge("login", card.card_no)
    proof = (challenge["challenge_id"], card.certificate_pem, sign(card, challenge["nonce"]))
    assert app.login(peers, *proof)["access_token"] == "token-u1"
    with pytest.raises(ServiceError) as exc:
        app.login(peers, *proof)
    assert exc.value.code == e.CHALLENGE_INVALID


def stored(app):
    return app.recorder.max_notification_id() or 0


def test_asking_for_a_login_challenge_stores_nothing(app, peers, ca):
    before = stored(app)
    for _ in range(50):  # anonymous: however many are asked for, nothing is written
        app.create_challenge("login", "8800000012345")
    assert stored(app) == before
    peers.add("u1", "e1")
    card = new_card(ca)
    bind(app, peers, "u1", "e1", card)
    before = stored(app)
    assert login(app, peers, card)["user_id"] == "u1"
    assert stored(app) == before + 1  # only a card's valid answer writes: the challenge is spent


def test_a_login_challenge_expires_and_answers_only_for_its_card(app, peers, ca, clock):
    peers.add("u1", "e1")
    card, other = new_card(ca), new_card(ca, card_no="8800000099999")
    bind(app, peers, "u1", "e1", card)

    def answer(challenge, with_card=card):
        return app.login(peers, challenge["challenge_id"], with_card.certificate_pem,
                         sign(with_card, challenge["nonce"]))

    late = app.create_challenge("login", card.card_no)
    clock.now += 120
    with pytest.raises(ServiceError) as exc:
        answer(late)
    assert exc.value.code == e.CHALLENGE_INVALID and "expired" in exc.value.message
    with pytest.raises(ServiceError) as exc:  # asked for one card, answered by another
        answer(app.create_challenge("login", card.card_no), with_card=other)
    assert exc.value.code == e.CARD_SIGNATURE_INVALID
    challenge = app.create_challenge("login", card.card_no)
    version, expires_ms, random_part = challenge["challenge_id"].split(".")
    longer = dict(challenge, challenge_id=f"{version}.{int(expires_ms) + 3_600_000}.{random_part}")
    with pytest.raises(ServiceError) as exc:  # a lifetime made longer by hand is another challenge
        answer(longer)
    assert exc.value.code == e.CARD_SIGNATURE_INVALID
    for forged in ("L1", "L1.x.y", "L2.99999999999999.abc", "", "L1.99999999999999."):
        with pytest.raises(ServiceError) as exc:
            answer(dict(challenge, challenge_id=forged))
        assert exc.value.code in (e.CHALLENGE_INVALID, e.VALIDATION_ERROR), forged
    assert answer(challenge)["user_id"] == "u1"  # the untouched one still works, once
