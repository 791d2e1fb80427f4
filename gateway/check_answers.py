"""authz's answers to permission checks, kept by each gateway instance for a fraction of a second
(GATEWAY_CHECK_ANSWER_SECONDS, `L`), and the fence that keeps them fresh across instances.

authz decides every check; an instance only repeats an answer authz gave to the very same question
(actor, user, enterprise, system) less than L ago. The copy is provably never stale after a change
of grants returned, whichever instance is asked, with no list of instances and no message between them:

- an answer is stamped with the instance's clock read *before* its request was sent, so it is
  dropped at most L after authz computed it (earlier, if anything);
- the PUT that changes grants (authz's set_permissions) returns to its client only L after authz's
  reply arrived, i.e. L after the change was visible to authz's checks (services/authz/application.py
  updates its projection before replying).
So any answer computed before the change has expired, on every instance, before anyone learns that the
PUT returned: the very next check through any gateway asks authz again. What the fence costs: L on
every permissions PUT (an administrator's click), never on a check.

Not fenced, as before: changes authz learns from enterprise's events (a member removed, a role
certification lost) reach checks when authz has learnt them, now plus at most L; and a second
authz instance on a shared store (AUTHZ_FOLLOW_SECONDS) sees another's saves late, copy or not.
Every instance must have the same L: a PUT through one with a smaller L (or through a gateway of
an earlier version, which has no fence: in a rolling upgrade, set 0 until every instance runs this
one) waits less than the others' copies live.
Only `True`/`False` answers are kept; a refusal (403, 400) is asked again each time. Logout and
expiry are checked before the copy is looked at (gateway/sessions.py), on every request.
"""
import time

import eventlet
from eventlet.event import Event
from nameko.extensions import DependencyProvider

from services.common.settings import setting

# A bound on memory (about 2 MB): past it, the expired ones go, and if that is not enough, all. The
# live ones are those of the last L: at 1,000 checks/s and L = 0.2 s, at most 200.
MAX_ANSWERS = 4096


def answer_seconds():
    return float(setting("GATEWAY_CHECK_ANSWER_SECONDS"))


class CheckAnswers(DependencyProvider):
    """`answers.check(ask, key)`: authz's answer for `key`, repeated while younger than L, else `ask()`;
    `answers.fence()` after a change of grants returned from authz, before the PUT answers."""

    def __init__(self, seconds=None, clock=time.monotonic):
        self._configured, self.clock = seconds, clock

    def setup(self):
        self.seconds = answer_seconds() if self._configured is None else self._configured
        self._answers = {}  # key -> (answer, valid until: the clock before its request + L)
        self._asking = {}  # key -> (Event, the clock before it was sent) of the request in flight

    def get_dependency(self, worker_ctx):
        return self

    def check(self, ask, key):
        if self.seconds <= 0:
            return ask()
        kept = self._answers.get(key)
        if kept is not None and self.clock() < kept[1]:
            return kept[0]
        asking = self._asking.get(key)
        if asking is not None and self.clock() < asking[1] + self.seconds:
            # the same question is on its way to authz, sent less than L ago: its answer is as fresh
            # as a copy kept that long (an older request could have been answered before a change
            # whose PUT has returned since)
            answered = asking[0].wait()
            if answered is not None:
                return answered
            return ask()  # it failed: this caller asks for itself and sees its own error
        if asking is not None:
            return ask()
        return self._ask(ask, key)

    def _ask(self, ask, key):
        sent = self.clock()  # before the request: authz computes the answer after this instant
        asking = Event()
        self._asking[key] = (asking, sent)
        answer = None
        try:
            answer = ask()
            if isinstance(answer, bool):
                self._keep(key, answer, sent + self.seconds)
            return answer
        finally:
            del self._asking[key]
            asking.send(answer if isinstance(answer, bool) else None)

    def _keep(self, key, answer, until):
        if len(self._answers) >= MAX_ANSWERS:
            now = self.clock()
            for k in [k for k, (_, u) in self._answers.items() if u <= now]:
                del self._answers[k]
            if len(self._answers) >= MAX_ANSWERS:
                self._answers.clear()
        self._answers[key] = (answer, until)

    def fence(self):
        """Wait until every copy of an answer given before the change just returned has expired,
        on every gateway instance (see the module's docstring)."""
        if self.seconds > 0:
            eventlet.sleep(self.seconds)
