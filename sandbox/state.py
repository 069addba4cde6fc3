"""What both emulators know: GHL and Pleo data, config, counters, faults and the exchange log; its JSON file."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter, deque
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from sandbox.seed import build_seed


def utcnow() -> datetime:
    return datetime.now(UTC)


class SandboxState:
    """Everything both emulators know; persisted to a JSON file between runs.

    Saving is debounced (a background thread writes at most every 0.2 s and on
    shutdown), so hundreds of writes do not each rewrite the file.
    """

    DEFAULT_CONFIG = {
        "ghl_token": "sandbox-ghl-token",
        "location_tokens": {},
        "pleo_token": "sandbox-pleo-token",
        "ghl_burst_limit": 100,
        "ghl_burst_window_s": 10.0,
        "ghl_retry_after": True,
        "ghl_denied_scopes": [],  # scopes the GHL tokens lack: routes that need one answer 403 (sandbox.ghl.SCOPES)
        "pleo_rps": 100.0,
        "delays": {},  # "<API> <route>" -> seconds each such request is held first (lowering it frees the waiting)
        "oauth_client_id": "sbx-client",
        "oauth_client_secret": "sbx-client-secret-7f3a",
        "oauth_refresh_token": "sbx-refresh-initial-0001",
        "oauth_ttl_s": 86399,
        # What OAuth answers send as expires_in: None, the real lifetime (oauth_ttl_s); "missing", no field at all;
        # anything else is sent as it is ("soon", -1, 1e12), while the token still lives oauth_ttl_s
        "oauth_expires_in": None,
        "seed": 42,
        "locations": 4,
        "min_tags": 150,
        "max_tags": 400,
        "exchange_log": 20000,  # request/response pairs kept for /_admin/exchanges (0: none; benchmarks)
    }

    def __init__(self, path: str | None, config: dict | None = None) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.config = {**self.DEFAULT_CONFIG, **(config or {})}
        self.requests: Counter = Counter()
        self.location_requests: Counter = Counter()  # GHL requests per location (or "company")
        self.traffic_span: dict[str, list[float]] = {}  # api -> [first, last] request time (epoch s)
        self.faults: list[dict] = []
        self.exchanges: deque = deque(maxlen=int(self.config["exchange_log"]))
        self.exchange_seq = 0
        self.ghl_windows: dict[str, deque] = {}
        self.pleo_window: deque = deque()
        # Indexes so a page or a batch costs O(page), not O(all tags): they matter at 100,000 tags.
        self._group_tags: dict[str, tuple[int, list[dict]]] = {}
        self.group_versions: Counter = Counter()
        self._ghl_index: dict[str, tuple[int, int, dict[str, dict]]] = {}
        self.ghl_version = 0
        self._dirty = False
        self._stop = threading.Event()
        if path and os.path.exists(path):
            self._load(path)
        else:
            self.reset()
        self._saver = threading.Thread(target=self._save_loop, daemon=True)
        self._saver.start()

    # persistence ------------------------------------------------------------------------------
    def _load(self, path: str) -> None:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        self.config.update(data.get("config", {}))
        self.ghl, self.pleo = data["ghl"], data["pleo"]
        self.oauth = {**self._fresh_oauth(), **(data.get("oauth") or {})}

    def _fresh_oauth(self) -> dict:
        return {
            "refresh": {self.config["oauth_refresh_token"]: "valid"},
            "access": {},
            "issued": [],
            "refreshes": 0,
            "mints": 0,
            # per refresh token: when the agency access token issued with it expires (its refresh is then due)
            "due": {},
            # per refresh: when it happened and when the access token it replaced expired (None: the first)
            "refresh_log": [],
        }

    def reset(self, **overrides: Any) -> None:
        with self.lock:
            self.config.update({k: v for k, v in overrides.items() if v is not None})
            c = self.config
            self.ghl = build_seed(int(c["seed"]), int(c["locations"]), int(c["min_tags"]), int(c["max_tags"]))
            self.pleo = {"groups": {}, "tags": {}, "dimensions": {}, "values": {}}
            self.oauth = self._fresh_oauth()
            self.requests.clear()
            self.location_requests.clear()
            self.traffic_span.clear()
            self.faults.clear()
            self.exchanges.clear()
            self.ghl_windows.clear()
            self.pleo_window.clear()
            self.invalidate()
            self.mark_dirty()

    def mark_dirty(self) -> None:
        self._dirty = True

    def save(self) -> None:
        if not self.path:
            return
        with self.lock:
            data = json.dumps({"config": self.config, "ghl": self.ghl, "pleo": self.pleo, "oauth": self.oauth})
            self._dirty = False
        tmp = f"{self.path}.tmp"
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, self.path)

    def _save_loop(self) -> None:
        while not self._stop.wait(0.2):
            if self._dirty:
                self.save()

    def close(self) -> None:
        self._stop.set()
        self.save()

    # indexes ----------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget the indexes (after a reset, or an edit that may change membership or order)."""
        with self.lock:
            self._group_tags.clear()
            self._ghl_index.clear()
            self.ghl_version += 1

    def group_tags(self, group_id: str) -> list[dict]:
        """A Pleo group's tags (archived included) in (createdAt, id) order; rebuilt only after a create there."""
        with self.lock:
            version = self.group_versions[group_id]
            cached = self._group_tags.get(group_id)
            if cached is None or cached[0] != version:
                tags = sorted(
                    (t for t in self.pleo["tags"].values() if t["groupId"] == group_id),
                    key=lambda t: (t["createdAt"], t["id"]),
                )
                cached = (version, tags)
                self._group_tags[group_id] = cached
            return cached[1]

    def ghl_tag_index(self, location_id: str) -> dict[str, dict]:
        """GHL tags of a location by ``_id`` (the first of repeated ids)."""
        with self.lock:
            tags = self.ghl["tags"].get(location_id, [])
            cached = self._ghl_index.get(location_id)
            if cached is None or cached[0] != self.ghl_version or cached[1] != len(tags):
                index: dict[str, dict] = {}
                for t in tags:
                    index.setdefault(t.get("_id"), t)
                cached = (self.ghl_version, len(tags), index)
                self._ghl_index[location_id] = cached
            return cached[2]

    # traffic ----------------------------------------------------------------------------------
    def note_time(self, api: str) -> None:
        now = time.time()
        span = self.traffic_span.setdefault(api, [now, now])
        span[1] = now

    def take_fault(self, api: str, route: str, location_id: str | None) -> dict | None:
        """The first configured fault matching this request, counted as fired; None if none fires."""
        with self.lock:
            for fault in self.faults:
                if fault.get("api", api) != api:
                    continue
                if fault.get("endpoint", "*") not in ("*", route):
                    continue
                if fault.get("location") and fault["location"] != location_id:
                    continue
                if fault.get("skip", 0) > 0:
                    fault["skip"] -= 1
                    continue
                if fault.get("times") is not None:
                    if fault["times"] <= 0:
                        continue
                    fault["times"] -= 1
                fault["fired"] = fault.get("fired", 0) + 1
                return dict(fault)
        return None

    def record(
        self,
        api: str,
        request: Request,
        route: str,
        req_body: Any,
        status: int,
        resp_body: Any,
        resp_headers: dict,
        media_type: str,
    ) -> None:
        """Append one request/response pair to the exchange log (the bearer token masked)."""
        headers = {k.lower(): ("Bearer ***" if k.lower() == "authorization" else v) for k, v in request.headers.items()}
        with self.lock:
            self.exchange_seq += 1
            self.exchanges.append(
                {
                    "seq": self.exchange_seq,
                    "api": api,
                    "method": request.method,
                    "route": route,
                    "path": request.url.path,
                    "query": [[k, v] for k, v in request.query_params.multi_items()],
                    "headers": headers,
                    "body": req_body,
                    "status": status,
                    "response": resp_body,
                    "response_headers": {**{k.lower(): v for k, v in resp_headers.items()}, "content-type": media_type},
                }
            )
