"""Who a request comes from (gateway/client_address.py): X-Forwarded-For counts only from trusted proxies."""
import ipaddress

import pytest

from gateway.client_address import client_address

pytestmark = pytest.mark.unit

PROXIES = (ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("127.0.0.9/32"))


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_address("127.0.0.2", "203.0.113.7", networks=()) == "127.0.0.2"
    assert client_address("203.0.113.7", "198.51.100.1, 127.0.0.1", networks=()) == "203.0.113.7"


def test_each_loopback_address_is_a_client_of_its_own():
    assert client_address("127.0.0.2", None, networks=()) != client_address("127.0.0.3", None, networks=())


def test_a_peer_that_is_no_trusted_proxy_cannot_name_another_client():
    assert client_address("198.51.100.4", "203.0.113.7", networks=PROXIES) == "198.51.100.4"


def test_behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client():
    # the client forged the first entry; the proxies appended what they saw
    assert client_address("127.0.0.9", "1.2.3.4, 203.0.113.7, 10.0.0.5", networks=PROXIES) == "203.0.113.7"
    assert client_address("10.0.0.1", "203.0.113.7", networks=PROXIES) == "203.0.113.7"


def test_a_hop_that_is_no_address_ends_the_walk_at_the_proxy_that_reported_it():
    assert client_address("127.0.0.9", "203.0.113.7, garbage", networks=PROXIES) == "127.0.0.9"
    assert client_address("127.0.0.9", "garbage, 10.0.0.5", networks=PROXIES) == "10.0.0.5"


def test_only_trusted_hops_leave_the_left_most_one():
    assert client_address("127.0.0.9", "10.0.0.7, 10.0.0.5", networks=PROXIES) == "10.0.0.7"


def test_an_ipv6_client_is_its_slash_64():
    a = client_address("2001:db8:1:2::1", None, networks=())
    assert a == client_address("2001:db8:1:2:ffff::9", None, networks=()) == "2001:db8:1:2::/64"
    assert client_address("::ffff:203.0.113.7", None, networks=()) == "203.0.113.7"
