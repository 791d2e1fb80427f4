"""What enterprise answers identity before an erasure (services/identity/erasures.py): whether the
person administers an enterprise with other members, who must be handed the role first."""
import pytest

from services.enterprise.application import EnterpriseApplication
from tests.enterprise_support import applied, member, registered

pytestmark = pytest.mark.unit
APPLICATION = EnterpriseApplication  # the `app` fixture's (tests/unit/conftest.py)


def test_an_administrator_with_members_must_hand_over_first(app):
    admin, enterprise_id, uscc = registered(app)
    assert app.admin_has_members(admin) is False  # alone: nobody to hand the role to
    applicant, _ = applied(app, uscc)
    assert app.admin_has_members(admin) is False  # a pending request is no member
    user, _ = member(app, admin, uscc)
    assert app.admin_has_members(admin) is True
    assert app.admin_has_members(user) is False and app.admin_has_members(applicant) is False
    app.transfer_admin(admin, enterprise_id, user)
    assert app.admin_has_members(admin) is False and app.admin_has_members(user) is True


def test_someone_unknown_administers_nothing(app):
    assert app.admin_has_members("0f0e0d0c-0b0a-4909-8807-060504030201") is False
