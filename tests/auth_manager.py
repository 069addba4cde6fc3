"""A small Airflow auth manager for tests: Airflow's simple auth manager, except that users are named by their
token and only the user ``reader`` may read the ghl-pleo sync DAGs and the spend DAG; ``social`` may read the sync
DAGs but not the spend DAG (the default auth manager's fixed roles would let any viewer read every DAG, so denial
could not be tested with it)."""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from jwt import InvalidTokenError

from ghl_pleo.constants import SPEND_DAG_ID, SYNC_DAG_IDS

USERS = ("reader", "outsider", "social")


class DenySyncDagsAuthManager(SimpleAuthManager):
    async def get_user_from_token(self, token: str) -> SimpleAuthManagerUser:
        if token not in USERS:
            raise InvalidTokenError("unknown test user")
        return SimpleAuthManagerUser(username=token, role="viewer")

    def is_authorized_dag(self, *, method, user, access_entity=None, details=None) -> bool:
        if details is not None and details.id == SPEND_DAG_ID:
            return user.get_name() == "reader"
        if details is not None and details.id in SYNC_DAG_IDS:
            return user.get_name() in ("reader", "social")
        return True
