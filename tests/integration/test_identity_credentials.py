"""Through the real identity service (a Nameko container on the real RabbitMQ, real SQLite, real
argon2id): a reset wins over a change and a login in flight (issue 20, item 1), and unknown
accounts and unregistered mobiles cost what known ones do (issue 22, item 4)."""
import statistics
import time

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from contracts import errors as e
from tests import sms
from tests.factories import new_mobile
from tests.integration import identity_steps as steps
from tests.integration.identity_steps import PASSWORD, app_of, fails, new_code, register
from tests.identity_support import PausingPasswords

# the fixtures: identity and notify as containers on a vhost of this module's own, identity's RPC proxy
config, services, rpc = steps.config, steps.services, steps.rpc  # fixtures (module_amqp_uri: conftest.py)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAMPLES = 30


def test_a_reset_through_the_service_wins_over_a_change_and_a_login_in_flight(rpc, services, config):
    identity, _ = services
    pausing = app_of(identity).passwords = PausingPasswords()

    def owner_resets(mobile):  # another request, through the service, while the attacker's waits to save
        def reset():
            with ClusterRpcProxy(config) as other:
                code = new_code(other.identity, mobile, "reset_password")
                other.identity.reset_password(mobile, code, "the owner's passphrase")
        return reset

    for attack in ("change", "login"):
        user_id, mobile, _ = register(rpc)
        attackers = rpc.login_password(mobile, PASSWORD)
        pausing.during_next_verify = owner_resets(mobile)
        if attack == "change":
            refused = fails(rpc.set_password, user_id, "the attacker's passphrase", current_password=PASSWORD,
                            actor_user_id=user_id, end_other_sessions=False,
                            session_id=rpc.authenticate(attackers["access_token"])["session_id"])
        else:
            refused = fails(rpc.login_password, mobile, PASSWORD)
        assert refused.code == e.INVALID_CREDENTIALS, attack
        assert fails(rpc.authenticate, attackers["access_token"]).code == e.UNAUTHENTICATED
        assert rpc.login_password(mobile, "the owner's passphrase")["user_id"] == user_id
        assert fails(rpc.login_password, mobile, "the attacker's passphrase").code == e.INVALID_CREDENTIALS


def timed(call, *args):
    started = time.perf_counter()
    try:
        outcome = call(*args)
    except Exception as refusal:  # a ServiceError: compared by code, message and details
        outcome = (refusal.code, refusal.message, refusal.details)
    return time.perf_counter() - started, outcome


def compare(samples):
    """Medians of two interleaved series, in ms, and every answer of each."""
    medians = {name: statistics.median(t for t, _ in series) * 1000 for name, series in samples.items()}
    answers = {name: {repr(outcome) for _, outcome in series} for name, series in samples.items()}
    return medians, answers


def within(samples, tolerance_ms, ratio):
    """The median of the paired differences (each pair ran back to back, so shares the machine's
    load of the moment) is at most `tolerance_ms` or `ratio` of the median time. Coarse on purpose:
    this machine is shared (load averages of 10 on 2 cores were seen, and medians of 30 swung by
    20% between runs), so the test catches a skipped hash or round trip, not a millisecond; equal
    writes and hand-offs are checked exactly in tests/unit/test_lockout.py."""
    a, b = samples.values()
    differences = [(x - y) * 1000 for (x, _), (y, _) in zip(a, b, strict=True)]
    typical = statistics.median(t * 1000 for t, _ in a + b)
    return abs(statistics.median(differences)) <= max(tolerance_ms, ratio * typical)


def equal_cost(sample, tolerance_ms, ratio, rounds=3):
    """`sample()` -> two interleaved series; passes on the first round within the tolerance (a
    busy moment of the shared machine may spoil one; a skipped hash or round trip spoils every
    one), and always asks the same answers of both. The medians of each round, in ms."""
    seen = []
    for _ in range(rounds):
        samples = sample()
        medians, answers = compare(samples)
        seen.append(medians)
        (one, *rest), (other, *more) = answers.values()
        assert (one, rest) == (other, more) == (one, [])  # every answer the same, for both
        if within(samples, tolerance_ms, ratio):
            return seen
    raise AssertionError(f"not within {tolerance_ms} ms or {ratio:.0%} in {rounds} rounds: {seen}")


def test_a_wrong_password_costs_the_same_for_known_and_unknown_accounts(rpc, services):
    def sample():
        known = [register(rpc)[1] for _ in range(SAMPLES // 4 + 1)]  # four tries each: the fifth would lock
        unknown = [new_mobile() for _ in known]
        samples = {"known": [], "unknown": []}
        for i in range(SAMPLES):
            for name in sorted(samples, reverse=i % 2 == 1):  # each first half the time: the work one
                accounts = known if name == "known" else unknown  # leaves behind may slow the next
                samples[name].append(timed(rpc.login_password, accounts[i // 4], "not the password"))
        return samples

    print(f"\nwrong password, median ms: {equal_cost(sample, tolerance_ms=5, ratio=0.15)}")


def test_an_sms_code_request_costs_the_same_for_registered_and_unregistered_mobiles(rpc, services):
    registered = []

    def sample():
        registered[:] = [register(rpc, password=None)[1] for _ in range(SAMPLES)]
        samples = {"registered": [], "unregistered": []}
        for i, mobile in enumerate(registered):
            for name in sorted(samples, reverse=i % 2 == 1):
                number = mobile if name == "registered" else new_mobile()
                samples[name].append(timed(rpc.request_sms_code, number, "login"))
        return samples

    print(f"\nSMS code request, median ms: {equal_cost(sample, tolerance_ms=2, ratio=0.25)}")
    assert sms.latest_code(registered[-1], "login")  # the registered ones were sent, the others not
