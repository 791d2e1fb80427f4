"""The gateway's copies of authz's check answers (gateway/check_answers.py), on a clock of the test's."""
import eventlet
import pytest

from gateway.check_answers import CheckAnswers

L = 0.2
KEY = ("actor", "user", "enterprise", "manifest")


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def answers(clock):
    a = CheckAnswers(seconds=L, clock=clock)
    a.setup()
    return a


class Authz:
    """authz's side: counts the questions, answers what the test says (or raises)."""

    def __init__(self, answer=True):
        self.answer, self.asked = answer, 0

    def __call__(self):
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_an_answer_is_repeated_for_L_from_before_its_request_then_asked_again(answers, clock):
    authz = Authz(True)
    assert answers.check(authz, KEY) is True
    clock.now += L * 0.99
    authz.answer = False  # authz would answer otherwise now: the copy still speaks
    assert answers.check(authz, KEY) is True and authz.asked == 1
    clock.now += L * 0.02  # L after the clock read before the request
    assert answers.check(authz, KEY) is False and authz.asked == 2


def test_the_copy_expires_L_after_the_request_was_sent_not_answered(answers, clock):
    def slow():  # authz answers L/2 after the request left
        clock.now += L / 2
        return True
    assert answers.check(slow, KEY) is True
    clock.now += L / 2 + 1e-9  # L after sending, L/2 after the answer
    authz = Authz(False)
    assert answers.check(authz, KEY) is False and authz.asked == 1


def test_each_question_has_its_own_answer(answers):
    assert answers.check(Authz(True), KEY) is True
    other_actor, other_system = ("admin", *KEY[1:]), (*KEY[:3], "processing_trade")
    assert answers.check(Authz(False), other_actor) is False
    assert answers.check(Authz(False), other_system) is False
    assert answers.check(Authz(False), KEY) is True


def test_refusals_are_never_repeated(answers):
    from contracts.errors import ServiceError
    authz = Authz(ServiceError("FORBIDDEN", "no"))
    for _ in range(2):
        with pytest.raises(ServiceError):
            answers.check(authz, KEY)
    assert authz.asked == 2


def test_off_asks_every_time(clock):
    a = CheckAnswers(seconds=0, clock=clock)
    a.setup()
    authz = Authz(True)
    a.check(authz, KEY), a.check(authz, KEY)
    assert authz.asked == 2


def test_the_fence_waits_L(answers):
    t0 = eventlet.hubs.get_hub().clock()
    answers.fence()
    assert eventlet.hubs.get_hub().clock() - t0 >= L * 0.95


def test_a_question_in_flight_answers_the_same_question_asked_meanwhile(answers, clock):
    release, authz = eventlet.event.Event(), Authz(True)

    def waiting():
        release.wait()
        return authz()
    first = eventlet.spawn(answers.check, waiting, KEY)
    eventlet.sleep(0)
    second = eventlet.spawn(answers.check, Authz(False), KEY)
    eventlet.sleep(0)
    release.send()
    assert first.wait() is True and second.wait() is True and authz.asked == 1


def test_a_question_in_flight_for_L_or_more_is_not_shared(answers, clock):
    """It may have been answered before a change whose PUT returned since: a later caller asks itself."""
    release = eventlet.event.Event()

    def stuck():
        release.wait()
        return True
    first = eventlet.spawn(answers.check, stuck, KEY)
    eventlet.sleep(0)
    clock.now += L
    late = Authz(False)
    assert answers.check(late, KEY) is False and late.asked == 1
    release.send()
    assert first.wait() is True


def test_the_copies_are_bounded_whatever_the_questions(answers, clock):
    from gateway.check_answers import MAX_ANSWERS
    for n in range(MAX_ANSWERS * 2 + 10):  # made-up enterprises, each a question of its own
        answers.check(Authz(False), ("actor", "actor", f"enterprise-{n}", "manifest"))
        clock.now += L / 1000
    assert len(answers._answers) <= MAX_ANSWERS
    clock.now += L
    answers.check(Authz(True), KEY)
    assert answers.check(Authz(False), KEY) is True  # a new copy is kept all the same
