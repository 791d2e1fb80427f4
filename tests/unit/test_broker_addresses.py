"""AMQP_URI naming a cluster's nodes (`;`-separated, services/common/broker_addresses.py): what reads
the URI itself reads every address, so no node is left with the wrong user or a password shown."""
import pytest
from kombu import Connection

from deploy.broker import vhost_of, with_credentials
from deploy.eport.broker import safe_uri
from services.common.broker_addresses import addresses
from tests.support import vhost_uri

pytestmark = pytest.mark.unit

CLUSTER = "amqp://guest:guest@rabbit-1:5672/eport;amqp://guest:guest@rabbit-2:5673/eport; amqp://guest:guest@rabbit-3/eport"


def test_every_address_in_order():
    assert [a.split("@")[1] for a in addresses(CLUSTER)] == ["rabbit-1:5672/eport", "rabbit-2:5673/eport",
                                                             "rabbit-3/eport"]
    assert addresses("amqp://guest:guest@localhost:5672/") == ["amqp://guest:guest@localhost:5672/"]


def test_a_service_user_on_every_node():
    uri = with_credentials(CLUSTER, "eport-identity", "s3cret/+")
    assert [a.split("@")[0] for a in addresses(uri)] == ["amqp://eport-identity:s3cret%2F%2B"] * 3
    assert [a.split("@")[1] for a in addresses(uri)] == ["rabbit-1:5672/eport", "rabbit-2:5673/eport",
                                                         "rabbit-3:5672/eport"]
    assert vhost_of(uri) == "eport"


def test_kombu_fails_over_between_the_addresses():
    conn = Connection(with_credentials(CLUSTER, "u", "p"))
    assert conn.hostname == "rabbit-1" and conn.port == 5672 and conn.virtual_host == "eport"
    assert len(conn.alt) == 3
    conn.maybe_switch_next()
    assert (conn.hostname, conn.port, conn.userid) == ("rabbit-2", 5673, "u")


def test_no_password_shown_and_each_address_on_the_vhost():
    assert "guest" not in safe_uri(CLUSTER)
    assert [a.rsplit("/", 1)[1] for a in addresses(vhost_uri("other", CLUSTER))] == ["other"] * 3
