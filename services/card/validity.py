"""Bound legal-person cards stay valid, or are unbound: a card whose certificate the CA revoked (its
CRL lists the serial number) or whose validity ended (notAfter) is unbound with reason `revoked` or
`expired`, so that the role certification it gave ends too (enterprise learns it from CardUnbound).
A mixin of CardApplication; the card service's timer calls `check_validity` every second.

Which cards are bound is followed in memory from the store's own notifications (only the
CardBinding Bound and Unbound events, by topic): each check reads what was recorded since the last
one, so it costs one query when nothing changed. The whole set is looked at again only when a newer
revocation list is in force or the earliest notAfter has passed; a newly bound card is looked at once.
A binding stored before certificates were recorded with it (Bound v2) carries no serial number or
notAfter: it is checked once bound again. Several instances may check at once: the unbinding is
decided again on the stored binding, and the second finds it unbound.
"""
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from eventsourcing.utils import get_topic

from contracts.card import LEGAL_PERSON
from services.common.application import retry_on_conflict

from .domain import CardBinding

log = logging.getLogger(__name__)
PAGE = 500
REVOKED, EXPIRED = "revoked", "expired"  # contracts/card.py UNBIND_REASONS
TOPICS = (get_topic(CardBinding.Bound), get_topic(CardBinding.Unbound))


@dataclass(frozen=True)
class Watched:
    binding_id: str
    card_no: str
    serial_number: str  # hex, as the binding stores it
    not_after: datetime


class BoundCards:
    """The legal-person cards bound now, as the notifications of the card store say."""

    def __init__(self):
        self.position = 0
        self.watched = {}  # binding id -> Watched
        self.unchecked = set()  # binding ids bound since the last check
        self.crl_checked = None  # the revocation list the whole set was last checked against
        self.next_expiry = None

    def follow(self, app):
        while True:
            notifications = app.recorder.select_notifications(start=self.position + 1, limit=PAGE, topics=TOPICS)
            for notification in notifications:
                self._learn(app.mapper.to_domain_event(notification))
                self.position = notification.id
            if len(notifications) < PAGE:
                return

    def _learn(self, ev):
        binding_id = str(ev.originator_id)
        self.watched.pop(binding_id, None)
        self.unchecked.discard(binding_id)
        if isinstance(ev, CardBinding.Bound) and ev.card_type == LEGAL_PERSON and ev.serial_number and ev.not_after:
            self.watched[binding_id] = Watched(binding_id, ev.card_no, ev.serial_number,
                                               datetime.fromisoformat(ev.not_after))
            self.unchecked.add(binding_id)

    def lapsed(self, crl, now):
        """(Watched, reason) of each card to unbind now."""
        everything = crl is not self.crl_checked or (self.next_expiry is not None and now > self.next_expiry)
        ids = list(self.watched) if everything else [b for b in self.unchecked if b in self.watched]
        revoked = crl.revoked if crl is not None else frozenset()
        found, valid = [], []
        for binding_id in ids:
            card = self.watched[binding_id]
            if int(card.serial_number, 16) in revoked:
                found.append((card, REVOKED))
            elif now > card.not_after:
                found.append((card, EXPIRED))
            else:
                valid.append(card.not_after)
        if everything:
            self.crl_checked, self.next_expiry = crl, None
        self.next_expiry = min([*valid, *([self.next_expiry] if self.next_expiry else [])], default=None)
        self.unchecked.clear()
        return found


class Validity:
    def _start_validity(self):
        self._bound_cards = BoundCards()
        self._validity_lock = threading.Lock()

    def check_validity(self):
        """Unbind every bound legal-person card revoked or expired now; the number unbound."""
        with self._validity_lock:  # one check at a time in this process
            return self._check_validity(self._bound_cards)

    def _check_validity(self, cards):
        cards.follow(self)
        now = datetime.fromtimestamp(self.clock(), UTC)
        lapsed = cards.lapsed(self.trust.revocation_list(), now)
        done = 0
        for card, reason in lapsed:
            try:
                done += self.lapse(card.binding_id, card.card_no, card.serial_number, reason)
            except Exception:  # one card's failure must not stop the others; the next full check retries it
                log.exception("could not unbind card %s (%s)", card.card_no, reason)
                cards.crl_checked = None
        return done

    def lapse(self, binding_id, card_no, serial_number, reason):
        """Unbind the card from its binding if that certificate is still the one bound; whether it did."""
        def attempt():
            binding = self.find(binding_id, CardBinding)
            if binding is None or not binding.bound or binding.card_no != card_no \
                    or getattr(binding, "serial_number", None) != serial_number:
                return False
            self.save(*self._unbind(binding, reason=reason, by_user_id=None))
            log.info("card %s unbound: %s", card_no, reason)
            return True

        return retry_on_conflict(attempt, message="The card binding changed while unbinding it.")
