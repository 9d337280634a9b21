"""Where a BigCommerce store is, and how hard Plaudit may lean on it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BigCommerceConfig:
    """Where the store is and how hard Plaudit may lean on it."""

    store_hash: str
    access_token: str = field(repr=False)
    api_url: str = "https://api.bigcommerce.com"
    quota_share: float = 0.2
    timeout: float = 10.0
    max_retries: int = 5

    def __post_init__(self) -> None:
        if not self.store_hash or "/" in self.store_hash:
            raise ValueError("store_hash must be a bare store hash")
        if not 0 < self.quota_share <= 1:
            raise ValueError("quota_share must be in (0, 1]")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.max_retries < 0:
            raise ValueError("max_retries must not be negative")
