from __future__ import annotations

import ipaddress

import marshmallow as ma
import pytest

from workers.ifconfig import Ifconfig, _cidr


def test_lists_loopback_in_cidr_form(ctx):
    rows = Ifconfig().perform(Ifconfig.Config().load({}), ctx)["interfaces"]
    assert any(row["ip_network"] == "127.0.0.1/8" for row in rows)
    for row in rows:
        assert set(row) == {"interface_name", "ip_network", "mac_address"}
        assert row["interface_name"]
        assert isinstance(row["mac_address"], str)
        ipaddress.ip_interface(row["ip_network"])  # parses: CIDR, no "%scope"


def test_takes_no_config():
    with pytest.raises(ma.ValidationError):
        Ifconfig.Config().load({"anything": 1})


@pytest.mark.parametrize(
    ("address", "netmask", "cidr"),
    [
        ("192.168.1.7", "255.255.255.0", "192.168.1.7/24"),
        ("fe80::1%eth0", "ffff:ffff:ffff:ffff::", "fe80::1/64"),
        ("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::1/128"),
        ("fd00::2", None, "fd00::2/128"),
    ],
)
def test_cidr(address, netmask, cidr):
    assert _cidr(address, netmask) == cidr
