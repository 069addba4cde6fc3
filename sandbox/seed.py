"""Deterministic seed data: several GHL locations with hundreds of social tags."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

COMPANY_ID = "SbxAgency0000000001"
PLEO_COMPANY_ID = "7d2a8f5e-1c3b-4e6f-9a0d-5b4c3e2f1a00"
WORDS = [
    "Summer",
    "Winter",
    "Launch",
    "Promo",
    "Webinar",
    "Holiday",
    "Flash",
    "Giveaway",
    "Brand",
    "Event",
    "Reel",
    "Story",
    "Contest",
    "Spring",
    "Autumn",
    "Product",
    "Teaser",
    "Recap",
    "Q&A",
    "Live",
]
SUFFIX = ["Sale", "Campaign", "Series", "Push", "Week", "Drop", "Blast", "Spotlight", "Tips", "Moments"]
# Names that exercise the name rules: each is (raw name, what the mapping should make of it or None if rejected).
SPECIAL_NAMES = [
    "  Black\tFriday \n Deals  ",  # whitespace collapsed
    "Caf\u0065\u0301 Week",  # combining accent -> NFC
    "No\u00a0Break\u00a0Space",  # no-break spaces
    "🎉 Launch Party",  # emoji
    "Family 👨\u200d👩\u200d👧 Day",  # ZWJ sequence kept
    "Zero\u200bWidth",  # zero-width space (Cf) removed
    "\u200b\t \u200e",  # nothing visible: rejected
    "<b>Bold</b> & 'quotes'",  # HTML-looking, loaded as is
]


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _alnum(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def build_seed(seed: int = 42, locations: int = 4, min_tags: int = 150, max_tags: int = 400) -> dict:
    """Return the GHL side of the sandbox state. Same arguments, same data."""
    rng = random.Random(seed)
    base = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    ghl: dict = {"locations": {}, "tags": {}, "accounts": {}}
    for i in range(locations):
        loc_id = f"Loc{i:02d}" + _alnum(rng, 15)
        ghl["locations"][loc_id] = {
            "id": loc_id,
            "companyId": COMPANY_ID,
            "name": f"Sandbox Store {i + 1}",
            "timezone": "UTC",
            "email": f"store{i + 1}@example.com",
        }
        n_tags = rng.randint(min_tags, max_tags)
        tags = []
        for j in range(n_tags):
            created = base + timedelta(
                days=rng.randint(0, 200), seconds=rng.randint(0, 86400), milliseconds=rng.randint(0, 999)
            )
            updated = created + timedelta(hours=rng.randint(0, 500))
            if j < len(SPECIAL_NAMES) and i == 0:
                name = SPECIAL_NAMES[j]
            else:
                name = f"{rng.choice(WORDS)} {rng.choice(SUFFIX)} {j + 1}"
            tags.append(
                {
                    "_id": _hex(rng, 24),
                    "tag": name,
                    "locationId": loc_id,
                    "createdBy": "user_" + _alnum(rng, 10),
                    "deleted": rng.random() < 0.03,
                    "createdAt": iso(created),
                    "updatedAt": iso(updated),
                }
            )
        ghl["tags"][loc_id] = tags
        platforms = ["facebook", "instagram", "linkedin", "google", "tiktok", "youtube", "pinterest"]
        n_accounts = 0 if i == locations - 1 and locations > 2 else rng.randint(1, 4)
        ghl["accounts"][loc_id] = [
            {
                "id": f"{_hex(rng, 24)}_{loc_id}_{k}",
                "oauthId": _hex(rng, 24),
                "profileId": _hex(rng, 24),
                "name": f"Store {i + 1} {p.title()}",
                "platform": p,
                "type": "page",
                "expire": "2027-01-01T00:00:00.000Z",
                "isExpired": False,
                "meta": {},
            }
            for k, p in enumerate(rng.sample(platforms, n_accounts))
        ]
    return ghl
