"""ghl-pleo: keep Pleo tag groups in step with GoHighLevel's Social Planner.

The package is on ``sys.path`` through Airflow's ``plugins_folder``. It holds no
Airflow plugin object; DAG files import from it inside their tasks.
"""

from ghl_pleo.quiet import quiet_warnings

quiet_warnings()
