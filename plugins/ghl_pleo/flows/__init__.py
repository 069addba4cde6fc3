"""The flows: what one task does, step by step, given a run context, its hooks and the mapping.

``tags`` (and its load step ``tag_load``) syncs one location's tags into its Pleo group; ``stats`` fetches one
location's daily statistics and writes the newest into the groups' metadata. They take no Airflow objects, so
the flow tests run them against the sandbox and a SQLite warehouse without Airflow.
"""
