"""Airflow's own Fernet for the agency OAuth tokens kept in the warehouse.

The keys are Airflow's ``[core] fernet_key``, from any config source Airflow reads (``AIRFLOW__CORE__FERNET_KEY``,
its ``_CMD`` or ``_SECRET`` form, ``airflow.cfg``): a comma-separated list, newest first, as for
``airflow rotate-fernet-key``. Tokens are encrypted with the newest key and read with any of them; a token read
with an older key is reported, so the caller writes it back under the newest one (re-encryption on read).

Two things are refused, each as a configuration error naming the setting: running without a real key (Airflow
then hands back a Fernet that does not encrypt, and a token would be stored in plain text), and a stored token
that no configured key can read (its key was dropped from the list too early).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from ghl_pleo.errors import ConfigurationError

SETTING = "Airflow's [core] fernet_key (AIRFLOW__CORE__FERNET_KEY, or AIRFLOW__CORE__FERNET_KEY_CMD / _SECRET)"


class TokenCipher:
    """Encrypts with the newest of Airflow's fernet keys, decrypts with any of them."""

    def __init__(self) -> None:
        from airflow.sdk.configuration import conf
        from airflow.sdk.crypto import get_fernet

        keys = str(conf.get("core", "fernet_key", fallback="") or "").strip()
        if not keys or keys == "{FERNET_KEY}":  # unset (the Task SDK leaves the default's template unexpanded)
            raise ConfigurationError(
                f"Agency OAuth needs {SETTING} to store the rotating refresh token encrypted, and it is not set: "
                f"without it Airflow does not encrypt. Set it (the same value) on every Airflow component."
            )
        try:
            self.fernet = get_fernet()  # a MultiFernet over every key, newest first
            self.newest = Fernet(keys.split(",")[0].encode())  # alone: a token it cannot read gets re-encrypted
        except Exception as exc:  # noqa: BLE001 - Airflow's AirflowException or Fernet's ValueError for a bad key
            raise ConfigurationError(
                f"{SETTING} is not a valid comma-separated list of Fernet keys ({exc}). Agency OAuth stores its "
                f"rotating tokens encrypted with it: fix the setting on every Airflow component."
            ) from None
        if not self.fernet.is_encrypted:  # Airflow's non-encrypting stand-in: never store a token through it
            raise ConfigurationError(
                f"Agency OAuth needs {SETTING} to store the rotating refresh token encrypted, and Airflow hands back "
                f"a Fernet that does not encrypt. Set it (the same value) on every Airflow component."
            )

    def encrypt(self, token: str) -> str:
        return self.fernet.encrypt(token.encode()).decode()

    def decrypt(self, value: str, where: str) -> tuple[str, bool]:
        """The token in ``value`` and whether it was written under an older key than the newest.

        ``where`` names the row for the error raised when no configured key can read it.
        """
        try:
            return self.newest.decrypt(value.encode()).decode(), False
        except InvalidToken:
            pass
        try:
            return self.fernet.decrypt(value.encode()).decode(), True
        except InvalidToken:
            raise ConfigurationError(
                f"{where} cannot be decrypted with any key in {SETTING}: the key it was written with is no longer "
                f"listed. Put that key back after the newest one ('new,old') on every Airflow component and run "
                f"again; keep the old key listed until every row was read once (see the README's Security section)."
            ) from None

    def rotate(self, value: str) -> str:
        """``value`` re-encrypted under the newest key (Airflow's ``rotate``, as ``airflow rotate-fernet-key``)."""
        return self.fernet.rotate(value.encode()).decode()
