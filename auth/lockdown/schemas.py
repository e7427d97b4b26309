"""Wire types for lockdown."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from auth.account.schemas import TokenIn
from server.core.wire import Input, Output

IpOrNetwork = Annotated[str, msgspec.Meta(min_length=2, max_length=64)]


class LockdownChangeRequest(Input):
    """Applied only after the e-mailed confirmation link is used."""

    enabled: bool
    # Replaces the trusted IP list when given (single addresses or CIDR networks).
    trusted_ips: Annotated[list[IpOrNetwork], msgspec.Meta(max_length=20)] | None = None
    trust_current_device: bool = False


class LockdownTokenRequest(Input):
    token: TokenIn


class TrustedDeviceView(Output):
    id: str
    label: str
    added_at: datetime


class LockdownView(Output):
    enabled: bool
    trusted_ips: list[str]
    trusted_devices: list[TrustedDeviceView]
