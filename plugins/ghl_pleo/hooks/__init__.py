"""Hooks: the only code in the project that speaks HTTP."""
