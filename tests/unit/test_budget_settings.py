"""Every budget of gateway/budgets.py is a setting with a sane default that limits can read."""
import pytest

from gateway import budgets
from services.common.settings import SETTINGS

pytestmark = pytest.mark.unit

ROUTE_BUDGETS = [budgets.PASSWORD_LOGIN, budgets.SMS_LOGIN, budgets.SMS_SEND, budgets.REGISTRATION,
                 budgets.CARD_CHALLENGE, budgets.PASSWORD_CHANGE, budgets.PASSWORD_RESET, budgets.ADMIN_CLAIM,
                 budgets.PERSONAL_DATA, budgets.SSO]


@pytest.mark.parametrize("budget", ROUTE_BUDGETS, ids=lambda b: f"{b.name}-{b.counted_as}")
def test_each_budget_has_its_three_settings_with_defaults(budget):
    per_client, per_subject, overall = (budgets._item(SETTINGS[n].default) for n in budget.setting_names())
    # a rate per second of each: the global one far above one client's, a client's above one subject's
    rate = [item.amount / item.get_expiry() for item in (per_client, per_subject, overall)]
    assert rate[2] >= 50 * rate[0] and rate[0] >= rate[1] / 3


def test_only_sms_sends_have_a_ceiling_across_clients_and_it_is_above_a_clients():
    assert [b for b in ROUTE_BUDGETS if b.ceiling_name()] == [budgets.SMS_SEND]
    per_subject, ceiling = (budgets._item(SETTINGS[n].default) for n in ("BUDGET_SMS_PER_MOBILE",
                                                                          "BUDGET_SMS_PER_MOBILE_ALL_CLIENTS"))
    assert ceiling.amount / ceiling.get_expiry() >= 5 * per_subject.amount / per_subject.get_expiry()


def test_every_budget_setting_is_used_by_a_budget():
    used = {n for b in ROUTE_BUDGETS for n in (*b.setting_names(), b.ceiling_name()) if n}
    assert {n for n in SETTINGS if n.startswith("BUDGET_")} == used
