"""``ifconfig``: the host's network addresses, one row per IPv4/IPv6 address."""

from __future__ import annotations

import ipaddress
import socket

import psutil

from tasky.worker import Worker


class Ifconfig(Worker):
    name = "ifconfig"
    description = "Lists the host's IP addresses in CIDR form with their interface and MAC address."
    usage = "curl -X POST http://127.0.0.1:8888/tasky/v1/workers/ifconfig"
    max_num_tasks = 4

    def perform(self, config, ctx):
        rows = []
        for interface, addresses in psutil.net_if_addrs().items():
            mac = next((a.address for a in addresses if a.family == psutil.AF_LINK), "")
            for addr in addresses:
                if addr.family in (socket.AF_INET, socket.AF_INET6):
                    rows.append(
                        {
                            "interface_name": interface,
                            "ip_network": _cidr(addr.address, addr.netmask),
                            "mac_address": mac,
                        }
                    )
        return {"interfaces": rows}


def _cidr(address: str, netmask: str | None) -> str:
    """``127.0.0.1`` + ``255.0.0.0`` -> ``127.0.0.1/8``. The prefix is counted from the mask's
    bits because ``ipaddress`` takes a mask, not a prefix, only for IPv4. A missing mask
    (some platforms' IPv6) means a single host."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    prefix = int(ipaddress.ip_address(netmask)).bit_count() if netmask else ip.max_prefixlen
    return str(ipaddress.ip_interface(f"{ip}/{prefix}"))
