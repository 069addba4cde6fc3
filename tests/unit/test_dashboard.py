"""The health dashboard (plugins/ghl_pleo/dashboard.py, dashboard_page.py and dashboard_charts.py): its JSON, its
page with the charts and the location table, the login check and the Data Docs route, on a real SQLite warehouse
seeded as in test_health.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ghl_pleo.health import TAGS_DAG_ID
from ghl_pleo.warehouse import Warehouse
from tests.unit.test_health import seed


@pytest.fixture()
def wh(tmp_path) -> Warehouse:
    return Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")


def test_the_dashboard_serves_the_json_and_a_page_with_charts_and_the_location_table(wh, monkeypatch):
    from fastapi.testclient import TestClient

    from ghl_pleo import dashboard

    seed(wh, datetime.now(UTC))
    monkeypatch.setattr(dashboard, "_warehouse", wh)
    dashboard._cache.clear()
    client = TestClient(dashboard.create_app())
    assert client.get("/api/health").status_code == 401  # no Airflow login, not public
    monkeypatch.setenv("GHL_PLEO_DASHBOARD_PUBLIC", "1")
    doc = client.get("/api/health").json()
    assert doc["windows"]["24h"]["dags"][TAGS_DAG_ID]["runs"] == 22
    assert set(doc["windows"]) == {"24h", "7d", "30d"}
    page = client.get("/?window=7d").text
    for name in ("success-rate", "latency", "records", "headroom"):
        assert f'data-chart="{name}"' in page
    assert 'id="locations"' in page and 'class="stale" data-location="L3"' in page
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert client.get("/?window=1y").status_code == 400


def test_a_new_warehouse_gives_an_empty_dashboard_not_an_error(wh, monkeypatch, tmp_path):
    from fastapi.testclient import TestClient

    from ghl_pleo import dashboard

    monkeypatch.setattr(dashboard, "_warehouse", wh)
    monkeypatch.setenv("GHL_PLEO_DATA_DOCS_DIR", str(tmp_path / "no-docs-yet"))
    monkeypatch.setenv("GHL_PLEO_DASHBOARD_PUBLIC", "1")
    dashboard._cache.clear()
    client = TestClient(dashboard.create_app())
    doc = client.get("/api/health").json()
    assert doc["stale"] == [] and doc["windows"]["24h"]["dags"][TAGS_DAG_ID]["runs"] == 0
    assert doc["windows"]["24h"]["dags"][TAGS_DAG_ID]["success_rate"] is None
    page = client.get("/")
    assert page.status_code == 200 and "no runs yet" in page.text and "no runs in this window" in page.text
    assert client.get("/data-docs/index.html").status_code == 404  # no validation has run yet
    docs = tmp_path / "no-docs-yet"
    docs.mkdir()
    (docs / "index.html").write_text("<html>docs</html>")
    (tmp_path / "secret.txt").write_text("not for the web")
    assert client.get("/data-docs/index.html").text == "<html>docs</html>"
    for escape in ("/data-docs/..%2Fsecret.txt", "/data-docs/%2E%2E/secret.txt", "/data-docs/../secret.txt"):
        assert "not for the web" not in client.get(escape).text, escape


def test_the_dashboard_asks_airflows_auth_manager_and_sends_safe_headers(wh, monkeypatch, tmp_path):
    from airflow.api_fastapi import app as airflow_app
    from fastapi.testclient import TestClient

    from ghl_pleo import dashboard
    from tests.auth_manager import DenySyncDagsAuthManager

    monkeypatch.setattr(airflow_app._AuthManagerState, "instance", DenySyncDagsAuthManager())
    monkeypatch.setattr(dashboard, "_warehouse", wh)
    monkeypatch.delenv("GHL_PLEO_DASHBOARD_PUBLIC", raising=False)
    docs = tmp_path / "docs"
    (docs / "static" / "styles").mkdir(parents=True)
    (docs / "index.html").write_text("<html><script>1</script></html>")
    (docs / "static" / "styles" / "site.css").write_text("body {}")
    monkeypatch.setenv("GHL_PLEO_DATA_DOCS_DIR", str(docs))
    dashboard._cache.clear()
    client = TestClient(dashboard.create_app())

    def get(path: str, user: str | None = None):
        return client.get(path, headers={"Authorization": f"Bearer {user}"} if user else {})

    assert get("/api/health").status_code == 401
    assert get("/api/health", "outsider").status_code == 403  # logged in, but may not read the sync DAGs
    assert "ghl_pleo_tags_sync" in get("/", "outsider").json()["detail"]
    assert get("/data-docs/index.html", "outsider").status_code == 403
    ok = get("/api/health", "reader")
    assert ok.status_code == 200 and "windows" in ok.json()
    for name, value in dashboard.SECURITY_HEADERS.items():
        assert ok.headers[name] == value
    page = get("/data-docs/index.html", "reader")
    assert page.status_code == 200 and page.headers["Content-Security-Policy"].startswith("sandbox allow-scripts")
    assert page.headers["Cache-Control"] == "private, no-store"
    static = get("/data-docs/static/styles/site.css")  # the library files the pages load: no login
    assert static.status_code == 200 and static.text == "body {}"
    # the sandboxed pages' origin is opaque: their fonts (a CORS fetch) load only if any origin may read them
    assert static.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in page.headers and "Access-Control-Allow-Origin" not in ok.headers
    assert get("/data-docs/static/../index.html").status_code in (401, 404)  # not a way round the login
