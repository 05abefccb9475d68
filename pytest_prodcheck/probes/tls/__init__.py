"""TLS and certificate checks of one site, sslyze-style: one module per check family.

>>> from pytest_prodcheck.probes import tls
>>> target = tls.SiteTarget.from_args("https://shop.test:8443",
...                                   resolve=["shop.test:8443:127.0.0.1"], ca_bundle="ca.pem")
>>> scan = tls.scan_tls(target)          # sslyze: protocols, suites, served chain, OCSP staple
>>> tls.check_protocols(scan).status
'pass'
>>> from pytest_prodcheck.probes.tls_site import run_site_checks
>>> run_site_checks(target).exit_code     # every TLS + HTTP check, concurrently
0

A new check is one ``check_*`` function in its family module plus one row of the table in
:mod:`pytest_prodcheck.probes.site_checks` (which the runner, the CLI and the suites read).
"""

from pytest_prodcheck.core.resolve import parse_resolve
from pytest_prodcheck.probes.tls.alpn import check_alpn
from pytest_prodcheck.probes.tls.chain import check_chain
from pytest_prodcheck.probes.tls.ciphers import check_ciphers
from pytest_prodcheck.probes.tls.expiry import check_expiry
from pytest_prodcheck.probes.tls.handshake import Handshake, handshake
from pytest_prodcheck.probes.tls.hostname import check_hostname, handshakes
from pytest_prodcheck.probes.tls.keys import check_key
from pytest_prodcheck.probes.tls.mozilla import check_cert_profile, check_groups
from pytest_prodcheck.probes.tls.ocsp import check_ocsp
from pytest_prodcheck.probes.tls.profiles import TlsProfile, load_profile
from pytest_prodcheck.probes.tls.protocols import check_protocols
from pytest_prodcheck.probes.tls.scan import TlsScan, scan_tls
from pytest_prodcheck.probes.tls.target import Expectations, SiteTarget

__all__ = [
    "Expectations",
    "Handshake",
    "SiteTarget",
    "TlsProfile",
    "TlsScan",
    "check_alpn",
    "check_cert_profile",
    "check_chain",
    "check_ciphers",
    "check_expiry",
    "check_groups",
    "check_hostname",
    "check_key",
    "check_ocsp",
    "check_protocols",
    "handshake",
    "handshakes",
    "load_profile",
    "parse_resolve",
    "scan_tls",
]
